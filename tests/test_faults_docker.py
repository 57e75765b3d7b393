"""Fault suite, Docker: stop/start, remove/recreate, daemon restart, each against the true count.

A busybox container (real dockerd, tests/realparts.py) prints vLLM-format lines in slices, then
idles; the real sidecar process follows it. Every run of the container prints the whole file
again, so after k runs the truth is k times the file: the sidecar's line and request counters
must reach exactly that and stay there (0 lost, 0 counted twice).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from realparts import TEST_IMAGE, Dockerd, Sidecar, wait_for
from test_faults import Log

SCRIPT = """trap "exit 0" TERM
for part in /log/part.*; do cat "$part"; sleep 0.05; done
while true; do sleep 1; done
"""



@pytest.fixture
def log_dir(tmp_path: Path) -> tuple[Path, Log]:
    log = Log()
    for n in range(10):
        (tmp_path / f"part.{n:02d}").write_text(log.text(300))
    (tmp_path / "run.sh").write_text(SCRIPT)
    return tmp_path, log


def _run(dockerd: Dockerd, directory: Path, name: str):
    return dockerd.client.containers.run(
        TEST_IMAGE, ["/bin/sh", "/log/run.sh"], name=name, detach=True, network_mode="none",
        volumes={str(directory): {"bind": "/log", "mode": "ro"}}, labels={"app": "vllm-faults"},
    )


def _counts(sidecar: Sidecar, source: str) -> tuple[float, float]:
    from prometheus_client.parser import text_string_to_metric_families

    lines = requests = 0.0
    for family in text_string_to_metric_families(sidecar.metrics()):
        for sample in family.samples:
            if sample.labels.get("source") != source:
                continue
            if sample.name == "vllm_obs_log_lines_total" and sample.labels["result"] in ("matched", "unmatched"):
                lines += sample.value
            elif sample.name == "vllm_obs_http_requests_total":
                requests += sample.value
    return lines, requests


def _expect(sidecar: Sidecar, source: str, log: Log, runs: int) -> None:
    want = (float(runs * log.lines), float(runs * log.requests))
    try:
        wait_for(lambda: _counts(sidecar, source) == want, 60, f"{want} lines/requests")
    except TimeoutError:
        raise AssertionError(f"counted {_counts(sidecar, source)}, true {want}") from None
    wait_for(lambda: sidecar.value("vllm_obs_source_up", source=source) == 1, 30, "source up")
    assert _counts(sidecar, source) == want


def test_stop_start_and_daemon_restart(dockerd: Dockerd, log_dir) -> None:
    directory, log = log_dir
    container = _run(dockerd, directory, "faults-a")
    sidecar = Sidecar("--container", "faults-a", env={"DOCKER_HOST": dockerd.url})
    try:
        wait_for(lambda: sidecar.value("vllm_obs_source_up", source="faults-a") is not None, 30, "the first scrape")
        _expect(sidecar, "faults-a", log, 1)
        container.stop(timeout=5)
        wait_for(lambda: sidecar.value("vllm_obs_source_up", source="faults-a") == 0, 30, "source down while stopped")
        container.start()
        _expect(sidecar, "faults-a", log, 2)
        dockerd.stop_daemon()
        wait_for(lambda: sidecar.value("vllm_obs_source_up", source="faults-a") == 0, 30, "source down with the daemon")
        dockerd.start()
        dockerd.client.containers.get("faults-a").start()
        _expect(sidecar, "faults-a", log, 3)
    finally:
        assert sidecar.close() == 0
        for c in dockerd.client.containers.list(all=True):
            c.remove(force=True)


def test_remove_and_recreate(dockerd: Dockerd, log_dir) -> None:
    directory, log = log_dir
    first = _run(dockerd, directory, "faults-b")
    sidecar = Sidecar("--label", "app=vllm-faults", env={"DOCKER_HOST": dockerd.url})
    try:
        wait_for(lambda: sidecar.value("vllm_obs_source_up", source="faults-b") is not None, 30, "the first scrape")
        _expect(sidecar, "faults-b", log, 1)
        first.remove(force=True)
        _run(dockerd, directory, "faults-b")
        _expect(sidecar, "faults-b", log, 2)
    finally:
        assert sidecar.close() == 0
        for c in dockerd.client.containers.list(all=True):
            c.remove(force=True)


def test_sidecar_started_on_a_running_container_is_ready_with_its_whole_log(dockerd: Dockerd, log_dir) -> None:
    directory, log = log_dir
    container = _run(dockerd, directory, "faults-c")
    wait_for(lambda: container.logs().count(b"\n") == log.lines, 30, "the container to print its log")
    sidecar = Sidecar("--container", "faults-c", env={"DOCKER_HOST": dockerd.url})
    try:
        import urllib.request

        wait_for(lambda: urllib.request.urlopen(f"{sidecar.url}/readyz", timeout=2).status == 200, 30, "ready")
        assert _counts(sidecar, "faults-c") == (float(log.lines), float(log.requests))  # at the first ready scrape
    finally:
        assert sidecar.close() == 0
        container.remove(force=True)


def test_sidecar_started_while_the_container_prints(dockerd: Dockerd, tmp_path: Path) -> None:
    # The initial read (up to now) hands over to the follow stream while lines keep coming:
    # nothing may fall between the two, nothing may be read by both.
    log = Log()
    for n in range(80):
        (tmp_path / f"part.{n:02d}").write_text(log.text(60))
    (tmp_path / "run.sh").write_text(SCRIPT)
    container = _run(dockerd, tmp_path, "faults-d")
    sidecar = Sidecar("--container", "faults-d", env={"DOCKER_HOST": dockerd.url})
    try:
        printed_at_ready = container.logs().count(b"\n")
        _expect(sidecar, "faults-d", log, 1)
        assert printed_at_ready < log.lines  # the sidecar did start while the container printed
    finally:
        assert sidecar.close() == 0
        container.remove(force=True)
