"""The Dockerfile: one target per process, final stages without compilers, running as a user.

No Docker engine runs here, so the file is parsed (instructions, stages and what each stage is
built FROM) and its targets are checked against the Procfile and config/: every process has a
target whose command is the Procfile's, whose HEALTHCHECK asks the process's own /health on the
port its config gives, and whose stages never install a compiler nor run as root.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from nameko_services.ops.procfile import read

ROOT = Path(__file__).resolve().parents[3]
PROCESSES = read(ROOT / "Procfile")
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|cc|make|libpq-dev|python3-dev|cargo|rustc)\b")


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for instruction, args in self.instructions if instruction == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, comments dropped and continuation lines joined."""
    joined, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):  # a comment inside a continued instruction
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    result = []
    for line in joined:
        keyword, _, args = line.strip().partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def _stages(text: str) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    build_args: dict[str, str] = {}
    for keyword, args in _instructions(text):
        if keyword == "ARG" and current is None:
            name, _, default = args.partition("=")
            build_args[name] = default
        elif keyword == "FROM":
            words = args.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: build_args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else f"stage-{len(stages)}"
            current = stages[name] = Stage(name, base)
        else:
            assert current is not None, f"{keyword} before the first FROM"
            current.instructions.append((keyword, args))
    return stages


STAGES = _stages((ROOT / "Dockerfile").read_text())


def _chain(target: str) -> list[Stage]:
    """The target stage and every stage it is built FROM, nearest first."""
    chain = [STAGES[target]]
    while chain[-1].base in STAGES:
        chain.append(STAGES[chain[-1].base])
    return chain


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"use the exec form (a JSON list): {args}"
    return value


def _last(target: str, keyword: str) -> str | None:
    for stage in _chain(target):
        found = stage.all(keyword)
        if found:
            return found[-1]
    return None


def _config_port(process: str) -> int:
    raw = yaml.safe_load((ROOT / "config" / f"{process}.yaml").read_text())
    value = raw["PORT"] if process == "gateway" else raw["METRICS_PORT"]
    default = re.fullmatch(r"\$\{\w+:(\d+)\}", str(value))
    assert default, f"config/{process}.yaml: {value!r} is not ${{VAR:port}}"
    return int(default.group(1))


def test_the_dockerfile_parses_into_named_stages():
    assert {"build", "runtime"} <= set(STAGES)
    assert all(not stage.name.startswith("stage-") for stage in STAGES.values()), "name every stage"


@pytest.mark.parametrize("process", list(PROCESSES))
def test_every_procfile_process_has_a_target_running_its_command(process):
    assert process in STAGES, f"no `FROM ... AS {process}` target in the Dockerfile"
    command = _exec_form(_last(process, "CMD"))
    expected = shlex.split(PROCESSES[process].split(" --host")[0])
    assert command[:len(expected)] == expected, f"{process}: CMD {command} is not the Procfile's {expected}"
    assert _last(process, "ENTRYPOINT") is None, f"{process}: the command is CMD alone"


def test_the_migration_job_has_its_target():
    command = _exec_form(_last("migrate", "CMD"))
    assert command[:2] == ["shopctl", "migrate"]
    assert _last("migrate", "HEALTHCHECK") == "NONE"


@pytest.mark.parametrize("target", [*PROCESSES, "migrate"])
def test_final_stages_run_as_an_unprivileged_user(target):
    user = _last(target, "USER")
    assert user, f"{target}: no USER, so it runs as root"
    name = user.split(":")[0]
    assert name not in {"root", "0"}, f"{target}: USER {user}"
    # Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    assert re.fullmatch(r"\d+(:\d+)?", user), f"{target}: USER {user} is not numeric"


@pytest.mark.parametrize("target", [*PROCESSES, "migrate"])
def test_final_stages_have_no_compiler(target):
    chain = _chain(target)
    assert "build" not in {stage.name for stage in chain}, f"{target} is built FROM the build stage"
    assert STAGES["build"].base not in STAGES, "the build stage starts from the base image"
    for stage in chain:
        for run in stage.all("RUN"):
            assert not COMPILERS.search(run), f"{target} (stage {stage.name}) installs a compiler: {run}"
        for copy in stage.all("COPY"):
            if "--from=build" in copy:
                sources = copy.replace("--from=build", "").split()[:-1]
                assert set(sources) <= {"/opt/venv", "/app"}, f"{stage.name} copies {sources} from build"
    assert COMPILERS.search(" ".join(STAGES["build"].all("RUN"))), "the build stage has the build tools"
    assert chain[-1].base == STAGES["build"].base, "build and final stages share one Python image"


@pytest.mark.parametrize("process", list(PROCESSES))
def test_each_target_checks_its_own_health_port(process):
    healthcheck = _last(process, "HEALTHCHECK")
    assert healthcheck and healthcheck != "NONE", f"{process}: no HEALTHCHECK"
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    urls = re.findall(r"https?://[^'\"\s]+", command)
    assert len(urls) == 1, f"{process}: HEALTHCHECK should ask one URL: {command}"
    url = urlsplit(urls[0])
    assert url.hostname == "127.0.0.1" and url.path == "/health", urls[0]
    assert url.port == _config_port(process), (
        f"{process}: HEALTHCHECK asks port {url.port}, config/{process}.yaml says {_config_port(process)}")
    exposed = {int(port.split("/")[0]) for stage in _chain(process) for args in stage.all("EXPOSE")
               for port in args.split()}
    assert exposed == {_config_port(process)}, f"{process}: EXPOSE {exposed}"


def test_services_listen_on_every_interface_in_their_container():
    env = " ".join(STAGES["runtime"].all("ENV"))
    assert "SHOP_METRICS_HOST=0.0.0.0" in env and "SHOP_GATEWAY_HOST=0.0.0.0" in env


@pytest.mark.parametrize("target", [*PROCESSES, "migrate"])
def test_images_are_labelled_with_the_git_revision_and_their_name(target):
    labels = " ".join(args for stage in _chain(target) for args in stage.all("LABEL"))
    assert 'org.opencontainers.image.revision="${GIT_REVISION}"' in labels
    assert "org.opencontainers.image.source=" in labels
    assert f'org.opencontainers.image.title="nameko-shop-{target}"' in labels
    assert any(args.startswith("GIT_REVISION") for args in STAGES["runtime"].all("ARG")), (
        "ARG GIT_REVISION must be declared in the stage that uses it")


def test_the_build_context_leaves_out_what_images_do_not_need():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "var", "tests", ".env"} <= ignored
    copied = {source for stage in STAGES.values() for copy in stage.all("COPY")
              if not copy.startswith("--from") for source in copy.split()[:-1]}
    for source in copied:
        assert source not in ignored, f"the Dockerfile copies {source}, which .dockerignore leaves out"
        assert (ROOT / source).exists(), source


def _pip_installs(stage: Stage) -> list[tuple[int, list[str]]]:
    """(instruction index, words) of every `pip install` a stage's RUN instructions make."""
    found = []
    for index, (keyword, args) in enumerate(stage.instructions):
        if keyword == "RUN":
            for command in re.split(r"&&|;", args):
                words = shlex.split(command)
                if words[:2] == ["pip", "install"] or words[1:3] == ["-m", "pip"]:
                    found.append((index, words))
    return found


def test_the_build_stage_installs_only_the_runtime_lock_with_hashes_then_the_project_without_deps():
    build = STAGES["build"]
    installs = _pip_installs(build)
    assert len(installs) == 2, f"the build stage runs {len(installs)} pip installs: {installs}"
    (lock_at, locked), (project_at, project) = installs
    assert "--require-hashes" in locked, f"the dependencies are installed without hashes: {locked}"
    assert [word for word in locked[2:] if not word.startswith("-")] == ["requirements/runtime.txt"], (
        f"the build stage installs more than the runtime lock: {locked}")
    assert "--no-deps" in project and "--no-build-isolation" in project and project[-2:] == ["-e", "."], (
        f"the project itself must bring no package beyond the lock: {project}")
    assert lock_at < project_at
    copied_before = [args.split() for keyword, args in build.instructions[:lock_at] if keyword == "COPY"]
    assert any("requirements/runtime.txt" in words[:-1] for words in copied_before), (
        "the lock is not copied into the build stage before it is installed")
    for target in [*PROCESSES, "migrate"]:
        for stage in _chain(target):
            assert not _pip_installs(stage), f"{target} (stage {stage.name}) installs packages itself"
