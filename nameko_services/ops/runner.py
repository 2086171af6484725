"""Run every Procfile process with honcho: prefixed output, Ctrl-C stops them all."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from honcho.manager import Manager
from honcho.printer import Printer


def run_processes(processes: Mapping[str, str], env: Mapping[str, str], cwd: Path) -> int:
    """Start all processes and block until they end; return the exit code honcho reports."""
    manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty(), prefix=True))
    for name, command in processes.items():
        manager.add_process(name, command, env=dict(env), cwd=str(cwd))
    # loop() installs its own SIGINT/SIGTERM handlers: terminate all, kill after 5 s.
    manager.loop()
    return int(manager.returncode or 0)
