"""deploy/Dockerfile checked against the sidecar (no registry here to build it: the base image
cannot be pulled, so the file is parsed and each promise it makes is checked)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from vllm_obs.cli import build_parser

DOCKERFILE = (Path(__file__).resolve().parent.parent / "deploy" / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.+)$", DOCKERFILE, re.M)]


def test_runs_as_non_root_and_serves_the_default_port() -> None:
    assert instructions("USER")[-1] not in ("root", "0")
    assert instructions("EXPOSE") == ["9400"]
    run = build_parser().parse_args(["run", "--container", "x"])
    assert getattr(run, "port", 9400) == 9400  # the run default, set in vllm_obs.live.settings


def test_entrypoint_is_the_sidecar_and_healthcheck_uses_healthz() -> None:
    assert json.loads(instructions("ENTRYPOINT")[-1]) == ["vllm-obs", "run"]
    assert "/healthz" in instructions("HEALTHCHECK")[-1]
    # The example command in the header uses flags that exist.
    parser = build_parser()
    parser.parse_args(["run", "--container", "vllm"])
    assert ":ro" in DOCKERFILE  # the socket is documented read-only


def test_installs_the_package_itself() -> None:
    assert "COPY vllm_obs ./vllm_obs" in DOCKERFILE and "pip wheel" in DOCKERFILE
