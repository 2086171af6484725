"""The Procfile and the environment its processes get."""
import os
import subprocess
from pathlib import Path

import pytest

from nameko_services.ops.procfile import ProcfileError, exec_command, parse, process_env, read

ROOT = Path(__file__).resolve().parents[3]


def test_the_procfile_runs_every_service_and_the_gateway_with_their_configs():
    processes = read(ROOT / "Procfile")
    assert list(processes) == ["users", "catalog", "orders", "payments", "gateway"]
    for name in ("users", "catalog", "orders", "payments"):
        assert processes[name] == f"nameko run --config config/{name}.yaml nameko_services.{name}.service"
        assert (ROOT / "config" / f"{name}.yaml").exists()
    assert processes["gateway"].startswith("uvicorn --factory gateway.app:create_app")


def test_comments_and_blank_lines_are_not_processes():
    assert parse("# the web\n\nweb: uvicorn app\n") == {"web": "uvicorn app"}


def test_an_empty_or_missing_procfile_is_an_error(tmp_path):
    with pytest.raises(ProcfileError):
        parse("# nothing\n")
    with pytest.raises(ProcfileError, match="project folder"):
        read(tmp_path / "Procfile")


def test_the_virtualenv_comes_first_on_path_and_the_base_is_untouched():
    base = {"PATH": "/usr/bin", "SHOP_ENV": "development"}
    env = process_env(base, "/venv/bin")
    assert env["PATH"] == "/venv/bin:/usr/bin" and env["PYTHONUNBUFFERED"] == "1"
    assert env["SHOP_ENV"] == "development" and base == {"PATH": "/usr/bin", "SHOP_ENV": "development"}


def test_nameko_start_up_warnings_are_silenced_unless_warnings_are_configured():
    assert "nameko.cli.commands" in process_env({}, "/venv/bin")["PYTHONWARNINGS"]
    assert process_env({"PYTHONWARNINGS": "error"}, "/venv/bin")["PYTHONWARNINGS"] == "error"


def test_the_gateway_port_falls_back_to_8000_in_the_shell():
    command = read(ROOT / "Procfile")["gateway"].replace("uvicorn", "echo", 1)
    unset = subprocess.run(exec_command(command), env={"PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True, check=True).stdout
    chosen = subprocess.run(exec_command(command), env={"PATH": "/usr/bin:/bin", "SHOP_GATEWAY_PORT": "9123"},
                            capture_output=True, text=True, check=True).stdout
    assert unset.split()[-2:] == ["--port", "8000"] and chosen.split()[-2:] == ["--port", "9123"]


def test_the_started_process_is_the_program_itself_not_a_shell():
    # With exec the inner sh replaces the outer one, so its parent is this test process.
    proc = subprocess.run(exec_command("sh -c 'echo $PPID'"), capture_output=True, text=True, check=True)
    assert int(proc.stdout) == os.getpid()
