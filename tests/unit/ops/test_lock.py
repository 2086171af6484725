"""The lock files requirements/runtime.txt and requirements/test.txt, and who installs from them.

setup.cfg names the direct dependencies; the lock pins every package with its hashes, so that make,
CI and the images install the same files. These tests fail when someone edits setup.cfg and
forgets `make lock`: a direct dependency missing from a lock, or pinned there at a version its
setup.cfg specifier refuses. They also follow the requirements of every installed locked package
(its metadata) and fail when one of them is not locked, and check that make and .ci/run install
from the lock with hashes required and nothing else.
"""
from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
TEST_LOCK = ROOT / "requirements" / "test.txt"
RELOCK = "edit setup.cfg, run `make lock`, commit setup.cfg and requirements/ together"


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self) -> bool:
        """Whether this line is installed on this machine (its marker holds here)."""
        return self.marker is None or self.marker.evaluate()


def parse_lock(text: str) -> list[Pin]:
    """The pins of a hashed requirements file: `name==version [; marker]` then `--hash=...` lines."""
    pins: list[Pin] = []
    uncommented = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    logical = uncommented.replace("\\\n", " ")
    for line in logical.splitlines():
        if not line.strip():
            continue
        words = line.split()
        hashes = tuple(word.removeprefix("--hash=") for word in words if word.startswith("--hash="))
        spec = " ".join(word for word in words if not word.startswith("--hash="))
        assert not spec.startswith("-"), f"an option in the lock: {line.strip()}"
        requirement = Requirement(spec)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"not pinned with ==: {spec}"
        name = canonicalize_name(requirement.name)
        pins.append(Pin(name, specifiers[0].version, requirement.marker, hashes))
    return pins


def _lock(path: Path) -> list[Pin]:
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: run `make lock`"
    return parse_lock(path.read_text())


def _setup_cfg_requirements(section: str, key: str) -> list[Requirement]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = (line.split("#", 1)[0].strip() for line in config[section][key].splitlines())
    return [Requirement(line) for line in lines if line]


RUNTIME = _setup_cfg_requirements("options", "install_requires")
TEST_EXTRA = _setup_cfg_requirements("options.extras_require", "test")
DIRECT = [(RUNTIME_LOCK, requirement) for requirement in RUNTIME] + [
    (TEST_LOCK, requirement) for requirement in RUNTIME + TEST_EXTRA]


def _pinned(pins: list[Pin]) -> dict[str, str]:
    """Name → version of the pins that apply on this machine (a universal lock may fork by marker)."""
    return {pin.name: pin.version for pin in pins if pin.applies()}


def test_the_parser_reads_pins_markers_and_hashes():
    pins = parse_lock("# header\nfoo-bar==1.2 ; sys_platform == 'win32' \\\n    --hash=sha256:aa \\\n"
                      "    --hash=sha256:bb\n    # via baz\nqux==3 \\\n    --hash=sha256:cc\n")
    assert [(pin.name, pin.version, pin.hashes) for pin in pins] == [
        ("foo-bar", "1.2", ("sha256:aa", "sha256:bb")), ("qux", "3", ("sha256:cc",))]
    assert str(pins[0].marker) == 'sys_platform == "win32"' and pins[1].marker is None
    with pytest.raises(AssertionError, match="not pinned"):
        parse_lock("foo>=1 \\\n    --hash=sha256:aa\n")


@pytest.mark.parametrize("lock, requirement", DIRECT,
                         ids=[f"{lock.stem}:{requirement.name}" for lock, requirement in DIRECT])
def test_every_direct_dependency_of_setup_cfg_is_pinned_in_the_lock(lock, requirement):
    versions = [pin.version for pin in _lock(lock) if pin.name == canonicalize_name(requirement.name)]
    assert versions, f"{requirement} (setup.cfg) is not in {lock.relative_to(ROOT)}: {RELOCK}"
    for version in versions:
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock.relative_to(ROOT)} pins {requirement.name}=={version}, "
            f"setup.cfg asks {requirement}: {RELOCK}")


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, TEST_LOCK], ids=lambda lock: lock.stem)
def test_every_locked_package_carries_sha256_hashes(lock):
    pins = _lock(lock)
    assert pins
    for pin in pins:
        assert pin.hashes, f"{pin.name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", value) for value in pin.hashes), pin.name
    # Nothing is locked but what setup.cfg leads to (a package dropped from setup.cfg leaves the lock).
    assert len({(pin.name, str(pin.marker)) for pin in pins}) == len(pins), "a package is locked twice"


def test_the_tests_run_with_the_very_versions_the_images_ship():
    test_pins = {(pin.name, pin.version, str(pin.marker)) for pin in _lock(TEST_LOCK)}
    for pin in _lock(RUNTIME_LOCK):
        assert (pin.name, pin.version, str(pin.marker)) in test_pins, (
            f"{pin.name}=={pin.version} is in runtime.txt but not in test.txt: {RELOCK}")


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""}))


def test_the_lock_pins_every_package_the_installed_ones_require():
    """Transitive pins: every requirement of every locked package (its installed metadata) is locked."""
    locked = _pinned(_lock(TEST_LOCK))
    todo = [(requirement, "setup.cfg") for requirement in RUNTIME + TEST_EXTRA]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement, needed_by = todo.pop()
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} (required by {needed_by}) is not in the lock: {RELOCK}"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"the lock pins {name}=={locked[name]}; {needed_by} requires {requirement}: {RELOCK}")
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        installed = metadata.version(name)
        assert installed == locked[name], (
            f"{name} {installed} is installed, the lock says {locked[name]}: run `make install`")
        for line in metadata.requires(name) or []:
            dependency = Requirement(line)
            if _applies(dependency, frozenset(requirement.extras)):
                todo.append((dependency, f"{name}=={locked[name]}"))
    assert len(seen) > len(RUNTIME + TEST_EXTRA), "no transitive dependency was followed"


def _dry_run(*targets: str) -> list[list[str]]:
    """The commands `make` would run for targets, from scratch, in a venv that does not exist."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}
    output = subprocess.run(
        ["make", "--always-make", "--dry-run", *targets, "VENV=/nonexistent/venv", "PYTHON=python3"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    return [shlex.split(line) for line in output.splitlines()
            if "pip install" in line or "pip compile" in line]


def test_make_install_installs_the_test_lock_with_hashes_and_then_the_project_without_dependencies():
    pip = [command for command in _dry_run("install")
           if command[:2] == ["/nonexistent/venv/bin/pip", "install"]]
    assert len(pip) == 2, pip
    locked, project = pip
    assert "--require-hashes" in locked and locked[locked.index("-r") + 1] == "requirements/test.txt"
    assert [word for word in locked[2:] if not word.startswith("-")] == ["requirements/test.txt"], locked
    assert "--no-deps" in project and project[-2:] == ["-e", "."], project


def test_make_lock_writes_both_locks_from_setup_cfg_the_test_one_within_the_runtime_pins():
    compiles = [command for command in _dry_run("lock") if command[1:3] == ["pip", "compile"]]
    assert len(compiles) == 2, compiles
    for command, output in zip(compiles, ("requirements/runtime.txt", "requirements/test.txt"), strict=True):
        assert command[0] == "/nonexistent/venv/bin/uv" and command[3] == "setup.cfg"
        assert {"--generate-hashes", "--universal"} <= set(command)
        assert command[command.index("-o") + 1] == output
    runtime, test = compiles
    assert "--extra" not in runtime
    assert test[test.index("--extra") + 1] == "test"
    assert test[test.index("--constraint") + 1] == "requirements/runtime.txt"


def test_ci_installs_through_make_install_only():
    script = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in script.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert not [line for line in commands if "pip" in line and "install" in line], (
        "CI installs with pip itself")
    assert any(line.startswith('make install VENV="$VENV"') for line in commands)
