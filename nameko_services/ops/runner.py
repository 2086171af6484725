"""Run every Procfile process with prefixed output; one that dies is started again, after a back-off.

For a developer one crash must not take the platform down: a process that exits is started
again after 1 s, 2 s, 4 s ... up to 30 s (from 1 s again once it has run ``stable_after``
seconds), and each restart is logged with the process name, its exit code and the delay. With
``exit_on_crash`` (CI, scripts) the first exit stops everything, as honcho does. Ctrl-C or SIGTERM
stops everything: SIGTERM to each process group, SIGKILL to what is left after ``kill_wait`` s.

honcho's ``Manager`` can only stop all, so its loop is replaced here and its parts kept:
``Process`` (runs the command in a process group of its own, streams its lines), ``Printer``
(the ``time name | line`` output) and ``ProcessManager`` (signals a group).
"""
from __future__ import annotations

import contextlib
import datetime
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from honcho.colour import get_colours
from honcho.compat import ProcessManager
from honcho.printer import Message, Printer
from honcho.process import Process

from nameko_services.common.backoff import Backoff

SYSTEM = "system"
KILL_WAIT = 5.0
TICK = 0.1
# The exit code of ``shopctl up`` when a signal stopped it, as a shell reports it (honcho's too).
SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclass(frozen=True)
class RestartPolicy:
    """When a process that exited is started again."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0  # a run this long was no crash loop: the back-off starts over

    def backoff(self) -> Backoff:
        return Backoff(self.first_delay, self.max_delay)


@dataclass
class Child:
    """One Procfile process across its restarts."""

    name: str
    command: str
    colour: str
    backoff: Backoff
    running: bool = False  # started and its exit not yet seen
    pid: int | None = None
    started_at: float = 0.0
    restart_at: float | None = None


def describe_exit(returncode: int) -> str:
    """``code 1``, or ``signal SIGKILL`` for a process a signal ended."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-returncode).name}"
    return f"code {returncode}"


class Supervisor:
    """Runs the processes until told to stop (or, with ``exit_on_crash``, until one exits)."""

    def __init__(self, processes: Mapping[str, str], env: Mapping[str, str], cwd: Path, *,
                 output: TextIO = sys.stdout, exit_on_crash: bool = False,
                 policy: RestartPolicy = RestartPolicy(), kill_wait: float = KILL_WAIT) -> None:
        colours = get_colours()
        self._children = {name: Child(name, command, next(colours), policy.backoff())
                          for name, command in processes.items()}
        self._env, self._cwd = dict(env), str(cwd)
        self._printer = Printer(output, colour=output.isatty(), prefix=True,
                                width=max(map(len, [SYSTEM, *processes])))
        self._groups = ProcessManager()  # signals a process's whole group
        # SimpleQueue: put() is safe from a signal handler, where queue.Queue's can deadlock.
        self._events: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self.exit_on_crash, self.policy, self.kill_wait = exit_on_crash, policy, kill_wait
        self.returncode: int | None = None
        self._stopping_since: float | None = None
        self._killed = False

    def run(self) -> int:
        """Start every process and supervise them until all have stopped; the exit code."""
        with self._signals_stop():
            for child in self._children.values():
                self._start(child)
            while self._stopping_since is None or any(c.running for c in self._children.values()):
                self._handle_next_event()
                self._start_due()
                self._kill_lingering()
        return self.returncode or 0

    def stop(self, reason: str = "stop requested", returncode: int = 0) -> None:
        """Stop everything; safe from another thread or a signal handler."""
        self._events.put(Message("terminate", {"reason": reason, "returncode": returncode},
                                 datetime.datetime.now(), SYSTEM, None))

    @contextlib.contextmanager
    def _signals_stop(self) -> Iterator[None]:
        """Ctrl-C and SIGTERM stop everything while ``run`` runs (signals reach the main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.getsignal(sig) for sig in SIGNAL_EXIT}
        for sig in SIGNAL_EXIT:
            signal.signal(sig, self._on_signal)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stop(f"{signal.Signals(signum).name} received", SIGNAL_EXIT[signal.Signals(signum)])

    def _start(self, child: Child) -> None:
        process = Process(child.command, name=child.name, colour=child.colour, env=self._env, cwd=self._cwd)
        child.running, child.pid, child.started_at, child.restart_at = True, None, time.monotonic(), None
        # Daemon: a thread still reading a killed process's output never holds up our exit.
        threading.Thread(target=process.run, args=(self._events,), name=f"run-{child.name}",
                         daemon=True).start()

    def _handle_next_event(self) -> None:
        try:
            message = self._events.get(timeout=TICK)
        except queue.Empty:
            return
        if message.type == "line":
            self._printer.write(message)
        elif message.type == "start":
            self._started(self._children[message.name], int(message.data["pid"]))
        elif message.type == "stop":
            self._exited(self._children[message.name], int(message.data["returncode"]))
        elif message.type == "terminate":
            self._begin_stop(str(message.data["reason"]), int(message.data["returncode"]))

    def _started(self, child: Child, pid: int) -> None:
        child.pid = pid
        self._say(f"{child.name} started (pid={pid})")
        if self._stopping_since is not None:  # asked to stop before its pid was known
            self._terminate(child)

    def _exited(self, child: Child, returncode: int) -> None:
        child.running, child.pid = False, None
        uptime = time.monotonic() - child.started_at
        if self._stopping_since is not None:
            self._say(f"{child.name} stopped ({describe_exit(returncode)})")
        elif self.exit_on_crash:
            self._say(f"{child.name} exited with {describe_exit(returncode)} after {uptime:.1f} s")
            self._begin_stop("--exit-on-crash: stopping every process", returncode)
        else:
            self._schedule_restart(child, returncode, uptime)

    def _schedule_restart(self, child: Child, returncode: int, uptime: float) -> None:
        if uptime >= self.policy.stable_after:
            child.backoff.reset()
        delay = child.backoff.failed()
        child.restart_at = time.monotonic() + delay
        self._say(f"{child.name} exited with {describe_exit(returncode)} after {uptime:.1f} s; "
                  f"restarting in {delay:g} s")

    def _start_due(self) -> None:
        now = time.monotonic()
        for child in self._children.values():
            if child.restart_at is not None and child.restart_at <= now and self._stopping_since is None:
                self._say(f"restarting {child.name}")
                self._start(child)

    def _begin_stop(self, reason: str, returncode: int) -> None:
        if self._stopping_since is not None:
            return
        self._stopping_since = time.monotonic()
        self.returncode = returncode
        self._say(reason)
        for child in self._children.values():
            child.restart_at = None
            self._terminate(child)

    def _terminate(self, child: Child) -> None:
        if child.running and child.pid is not None:
            self._say(f"sending SIGTERM to {child.name} (pid {child.pid})")
            self._groups.terminate(child.pid)

    def _kill_lingering(self) -> None:
        if self._stopping_since is None or self._killed:
            return
        if time.monotonic() - self._stopping_since < self.kill_wait:
            return
        self._killed = True
        for child in self._children.values():
            if child.running and child.pid is not None:
                self._say(f"sending SIGKILL to {child.name} (pid {child.pid})")
                self._groups.kill(child.pid)

    def _say(self, text: str) -> None:
        self._printer.write(Message("line", text, datetime.datetime.now(), SYSTEM, None))


def crash_behaviour(policy: RestartPolicy = RestartPolicy(), kill_wait: float = KILL_WAIT) -> str:
    """What happens when a process exits, for ``shopctl up --help`` (from the values in force)."""
    first = policy.first_delay
    return (f"A process that exits is started again after {first:g} s, {2 * first:g} s, {4 * first:g} s "
            f"... up to {policy.max_delay:g} s (from {first:g} s again once it has run "
            f"{policy.stable_after:g} s); each restart is logged with the process name, its exit code "
            f"and the delay. Ctrl-C or SIGTERM stops every process (SIGKILL after {kill_wait:g} s).")


def run_processes(processes: Mapping[str, str], env: Mapping[str, str], cwd: Path, *,
                  exit_on_crash: bool = False) -> int:
    """Run the processes until Ctrl-C or SIGTERM (or, ``exit_on_crash``, one exits); the exit code."""
    return Supervisor(processes, env, cwd, exit_on_crash=exit_on_crash).run()
