"""`shopctl up`'s supervisor on tiny Procfiles of shell commands, with delays in tenths of a second."""
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from nameko_services.ops.runner import RestartPolicy, Supervisor, crash_behaviour, describe_exit

ROOT = Path(__file__).resolve().parents[3]
STEADY = "echo steady up; exec sleep 30"
QUICK = RestartPolicy(first_delay=0.2, max_delay=0.6, stable_after=60)


@contextmanager
def stopped_after(supervisor: Supervisor, seconds: float):
    """Ask ``supervisor`` to stop after ``seconds``, as Ctrl-C would."""
    timer = threading.Timer(seconds, supervisor.stop)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def supervise(tmp_path, processes, seconds, **options):
    """Run ``processes`` for ``seconds`` (or until they stop everything): (exit code, output)."""
    output = io.StringIO()
    supervisor = Supervisor(processes, os.environ, tmp_path, output=output, **options)
    with stopped_after(supervisor, seconds):
        code = supervisor.run()
    return code, output.getvalue()


def restart_delays(log, name, code):
    pattern = rf"{name} exited with code {code} after [\d.]+ s; restarting in ([\d.]+) s"
    return [float(delay) for delay in re.findall(pattern, log)]


def start_times(path: Path) -> list[float]:
    return [float(line) for line in path.read_text().split()]


def test_a_crashing_process_is_restarted_with_growing_delays_while_the_others_keep_running(tmp_path):
    starts = tmp_path / "starts"
    crasher = f"date +%s.%N >> {starts}; sleep 0.1; exit 3"
    code, log = supervise(tmp_path, {"crasher": crasher, "steady": STEADY}, 3.0, policy=QUICK)

    assert code == 0  # stopped when asked
    assert restart_delays(log, "crasher", 3)[:4] == [0.2, 0.4, 0.6, 0.6]  # doubling, capped
    times = start_times(starts)
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert 4 <= len(times) <= 6
    # Each run lasts 0.1 s, then the delay: the waits really grew.
    assert all(gap >= 0.1 + delay - 0.02 for gap, delay in zip(gaps, [0.2, 0.4, 0.6, 0.6], strict=False))
    assert log.count("restarting crasher") == len(times) - 1
    assert log.count("steady started") == 1 and log.count("steady up") == 1
    assert log.index("stop requested") < log.index("steady stopped (signal SIGTERM)")


def test_a_process_that_ran_stably_before_it_crashed_waits_only_the_first_delay_again(tmp_path):
    policy = RestartPolicy(first_delay=0.1, max_delay=1.0, stable_after=0.25)
    code, log = supervise(tmp_path, {"flaky": "sleep 0.3; exit 1"}, 1.8, policy=policy)
    delays = restart_delays(log, "flaky", 1)
    assert len(delays) >= 3 and set(delays) == {0.1}


def test_with_exit_on_crash_the_first_exit_stops_every_process_with_its_code(tmp_path):
    started = time.monotonic()
    code, log = supervise(tmp_path, {"crasher": "sleep 0.2; exit 3", "steady": STEADY}, 10.0,
                          exit_on_crash=True, policy=QUICK)
    assert code == 3
    assert time.monotonic() - started < 2.0
    assert "crasher exited with code 3" in log and "restarting" not in log
    assert "sending SIGTERM to steady" in log and "steady stopped (signal SIGTERM)" in log


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_for(pattern: str, path: Path, count: int, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(found := re.findall(pattern, path.read_text())) < count:
        assert time.monotonic() < deadline, path.read_text()
        time.sleep(0.05)
    return found


def test_sigterm_stops_every_process_and_the_processes_they_started(tmp_path):
    script = ("import os, sys; from pathlib import Path; "
              "from nameko_services.ops.runner import run_processes; "
              "sys.exit(run_processes({'one': 'exec sleep 30', 'two': 'sleep 31 & echo child=$!; wait'}, "
              "os.environ, Path('.')))")
    log = tmp_path / "out.log"
    with open(log, "wb") as out:
        runner = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=out,
                                  stderr=subprocess.STDOUT, env=os.environ | {"PYTHONPATH": str(ROOT)})
    try:
        pids = [int(pid) for pid in _wait_for(r"started \(pid=(\d+)\)", log, 2)]
        pids += [int(pid) for pid in _wait_for(r"child=(\d+)", log, 1)]
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=5) == 143
    finally:
        runner.kill()
    assert "SIGTERM received" in log.read_text()
    deadline = time.monotonic() + 2
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, pids))


@pytest.mark.parametrize(("code", "text"), [(1, "code 1"), (0, "code 0"), (-9, "signal SIGKILL"),
                                            (-200, "code -200")])
def test_an_exit_is_described_by_its_code_or_its_signal(code, text):
    assert describe_exit(code) == text


def test_the_help_states_the_policy_in_force():
    text = crash_behaviour(RestartPolicy(first_delay=2, max_delay=60, stable_after=120), kill_wait=3)
    assert "after 2 s, 4 s, 8 s ... up to 60 s" in text
    assert "once it has run 120 s" in text and "SIGKILL after 3 s" in text
