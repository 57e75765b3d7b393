"""deploy/Dockerfile checked against the sidecar. No registry here to build it (the base image
cannot be pulled), so the file is parsed instruction by instruction and each promise it makes is
checked for real: the HEALTHCHECK command itself is run against a real sidecar."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from realparts import Sidecar, free_port
from vllm_obs.cli import build_parser
from vllm_obs.live.settings import RunSettings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, backslash continuations joined."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        name, _, args = current.strip().partition(" ")
        instructions.append((name.upper(), args.strip()))
        current = ""
    assert not current, "a continuation line runs off the end of the Dockerfile"
    return instructions


INSTRUCTIONS = parse_dockerfile(DOCKERFILE)
FINAL_STAGE = INSTRUCTIONS[max(i for i, (name, _) in enumerate(INSTRUCTIONS) if name == "FROM") :]


def final(name: str) -> list[str]:
    return [args for instruction, args in FINAL_STAGE if instruction == name]


def test_the_parser_reads_every_instruction() -> None:
    names = [name for name, _ in INSTRUCTIONS]
    assert names.count("FROM") == 2 and names[0] == "FROM"
    assert set(names) <= {"FROM", "WORKDIR", "COPY", "RUN", "USER", "ENV", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT"}
    assert len(final("HEALTHCHECK")) == len(final("ENTRYPOINT")) == len(final("USER")) == 1


def test_runs_as_the_created_non_root_user_and_exposes_the_default_port() -> None:
    (user,) = final("USER")
    created = re.search(r"useradd --uid (\d+)", " ".join(final("RUN")))
    assert created and user == created.group(1) and int(user) != 0
    assert final("EXPOSE") == [str(RunSettings.model_fields["port"].default)]


def test_entrypoint_is_the_installed_sidecar_command() -> None:
    (entrypoint,) = final("ENTRYPOINT")
    command = json.loads(entrypoint)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command[0] in scripts and command[1:] == ["run"]
    # The example in the header: its flags exist and give valid settings.
    example = re.search(r"^#\s+vllm-obs (--.+)$", DOCKERFILE, re.M)
    assert example
    args = build_parser().parse_args(["run", *shlex.split(example.group(1))])
    RunSettings(**{k: v for k, v in vars(args).items() if k not in ("func", "command", "print_config")})


def test_the_build_copies_what_exists_and_installs_the_package() -> None:
    copies = [shlex.split(args) for name, args in INSTRUCTIONS if name == "COPY" and not args.startswith("--from")]
    for *sources, _ in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: missing"
    assert any("pip wheel" in args and args.endswith(" .") for name, args in INSTRUCTIONS if name == "RUN")


def healthcheck_command() -> list[str]:
    (healthcheck,) = final("HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    assert "--timeout=" in options
    argv = json.loads(command)
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_healthcheck_asks_the_configured_address(tmp_path: Path) -> None:
    (tmp_path / "vllm.log").write_text("")
    port = free_port()
    # The sidecar configured through the environment, as the HEALTHCHECK reads it; a wildcard
    # address is asked on loopback.
    env = {"VLLM_OBS_HOST": "0.0.0.0", "VLLM_OBS_PORT": str(port)}
    sidecar = Sidecar("--file", str(tmp_path / "vllm.log"))  # on its own port: the healthcheck must not find it
    try:
        absent = subprocess.run(healthcheck_command(), env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=30)
        assert absent.returncode == 1 and absent.stderr.startswith("unhealthy: ")
        there = subprocess.run(healthcheck_command(), env={"VLLM_OBS_HOST": "127.0.0.1", "VLLM_OBS_PORT": str(sidecar.port)}, capture_output=True, text=True, timeout=30)
        assert (there.returncode, there.stderr) == (0, "")
    finally:
        assert sidecar.close() == 0


@pytest.mark.parametrize("host, expected", [("0.0.0.0", "http://127.0.0.1:9401/healthz"), ("::", "http://[::1]:9401/healthz"), ("10.0.0.7", "http://10.0.0.7:9401/healthz")])
def test_healthcheck_address_from_the_environment(host: str, expected: str) -> None:
    from vllm_obs.live.healthcheck import url_and_context

    assert url_and_context({"VLLM_OBS_HOST": host, "VLLM_OBS_PORT": "9401"}) == (expected, None)
