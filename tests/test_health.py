"""/healthz and /readyz over real HTTP, on the real pipeline, follower and State.

- /readyz (and /metrics) answer 503 until every source was read to its end once and those lines
  are in the state; at the first 200 the scrape already holds every line of the file.
- A missing file does not hold readiness back (its source_up 0 must be scrapable).
- A batch whose folding raises is logged and counted; the lines after it are still counted.
- A dead pipeline thread turns /healthz into a 503 that names the reason.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from realparts import wait_for
from test_faults import Log
from vllm_obs.live.health import Health
from vllm_obs.live.pipeline import Pipeline
from vllm_obs.live.server import MetricsServer
from vllm_obs.live.sources.files import FileFollower
from vllm_obs.live.state import State
from vllm_obs.metrics.collector import StateCollector
from vllm_obs.parse.records import Stats


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Sidecar:
    """The sidecar's parts in-process, wired as `vllm-obs run` wires them."""

    def __init__(self, state: State, *patterns: str) -> None:
        self.state = state
        self.pipeline = Pipeline(state)
        self.health = Health(self.pipeline)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StateCollector(state))
        self.follower = FileFollower(list(patterns), self.pipeline.lines, tick_seconds=0.2, on_status=state.set_up)
        self.follower.on_ready = self.health.add("files", self.follower.alive)
        self.server = MetricsServer("127.0.0.1", 0, registry, self.health.healthy, self.health.ready)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.server.start()
        self.pipeline.start()

    def close(self) -> None:
        self.follower.stop()
        self.pipeline.stop()
        self.server.stop()


@pytest.fixture
def sidecar():
    made: list[Sidecar] = []

    def make(state: State, *patterns: str) -> Sidecar:
        made.append(Sidecar(state, *patterns))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_ready_only_once_caught_up(sidecar, tmp_path: Path) -> None:
    path, log = tmp_path / "vllm.log", Log()
    log.append(path, 50_000)
    s = sidecar(State(), str(path))
    assert get(f"{s.url}/readyz") == (503, "not ready: catching up on files\n")
    assert get(f"{s.url}/metrics")[0] == 503
    assert get(f"{s.url}/healthz") == (200, "ok\n")
    s.follower.start()
    wait_for(lambda: get(f"{s.url}/readyz")[0] == 200, 30, "ready")
    status, text = get(f"{s.url}/metrics")
    assert status == 200
    served = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("vllm_obs_http_requests_total{"))
    assert served == log.requests  # the first scrape served already holds the whole file


def test_a_missing_file_is_ready_and_down(sidecar, tmp_path: Path) -> None:
    s = sidecar(State(), str(tmp_path / "later.log"))
    s.follower.start()
    wait_for(lambda: get(f"{s.url}/readyz")[0] == 200, 30, "ready")
    text = get(f"{s.url}/metrics")[1]
    assert f'vllm_obs_source_up{{source="{tmp_path / "later.log"}"}} 0.0' in text


class FoldFails(State):
    """A State whose folding raises on one particular stats line (Running: 13)."""

    def apply(self, source_name, context, record) -> None:  # noqa: ANN001
        if type(record) is Stats and record.running == 13:
            raise RuntimeError("injected fold failure")
        super().apply(source_name, context, record)


def test_pipeline_survives_a_failing_batch(sidecar, tmp_path: Path, caplog) -> None:
    path, log = tmp_path / "vllm.log", Log()
    log.append(path, 2000)
    s = sidecar(FoldFails(), str(path))
    s.follower.start()
    with caplog.at_level(logging.ERROR, logger="vllm_obs.live.pipeline"):
        wait_for(lambda: get(f"{s.url}/readyz")[0] == 200, 30, "ready")
        log.append(path, 2000)
        wait_for(lambda: sum(s.state.snapshot()[0].http.values()) == log.requests, 30, "the lines after the failure")
    assert s.pipeline.errors == 1  # one stats line says Running: 13 (seq 2050, in the second part)
    assert "folding a Stats record of" in caplog.text and "injected fold failure" in caplog.text
    status, text = get(f"{s.url}/healthz")
    assert status == 200 and "fold errors, last: RuntimeError: injected fold failure" in text


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the point of the test
def test_healthz_503_when_the_pipeline_thread_died(sidecar, tmp_path: Path) -> None:
    s = sidecar(State(), str(tmp_path / "x.log"))

    def die() -> None:
        raise SystemExit("injected: the thread ends")

    s.pipeline.barrier(die)
    wait_for(lambda: get(f"{s.url}/healthz")[0] == 503, 10, "healthz 503")
    assert get(f"{s.url}/healthz")[1] == "pipeline thread died: SystemExit: injected: the thread ends\n"


def test_no_docker_daemon_is_ready_and_down(tmp_path: Path) -> None:
    from realparts import Sidecar as SidecarProcess

    sidecar = SidecarProcess("--container", "vllm", env={"DOCKER_HOST": f"unix://{tmp_path / 'no-daemon.sock'}"})
    try:
        wait_for(lambda: get(f"{sidecar.url}/readyz") == (200, "ready\n"), 30, "ready without a daemon")
        wait_for(lambda: sidecar.value("vllm_obs_source_up", source="vllm") == 0, 30, "source_up 0")
    finally:
        assert sidecar.close() == 0
