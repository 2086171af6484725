"""Read the Procfile and build the environment its processes run with."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from honcho.environ import parse_procfile

# The nameko command warns at every start that pkg_resources and eventlet are deprecated; we know.
QUIET_NAMEKO_CLI = "ignore:::nameko.cli.main,ignore:::nameko.cli.commands"


class ProcfileError(ValueError):
    """The Procfile is missing or lists no process."""


def parse(text: str) -> dict[str, str]:
    """Process name → command, in file order (honcho's own parser, so both agree)."""
    processes = dict(parse_procfile(text).processes)
    if not processes:
        raise ProcfileError("the Procfile lists no process")
    return processes


def read(path: str | Path) -> dict[str, str]:
    """Parse the Procfile at ``path``."""
    try:
        return parse(Path(path).read_text())
    except FileNotFoundError:
        raise ProcfileError(f"no Procfile at {path}: run shopctl from the project folder") from None


def process_env(base: Mapping[str, str], bin_dir: str | Path) -> dict[str, str]:
    """``base`` with this virtualenv's ``bin`` first on PATH, unbuffered output, no start-up warnings."""
    env = dict(base)
    path = env.get("PATH", "")
    env["PATH"] = os.pathsep.join([str(bin_dir), path]) if path else str(bin_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONWARNINGS", QUIET_NAMEKO_CLI)
    return env


def exec_command(command: str) -> list[str]:
    """argv that runs ``command`` through the shell, which then replaces itself with it.

    ``exec`` makes the started process's pid the program's own, so signals reach it.
    """
    return ["/bin/sh", "-c", f"exec {command}"]
