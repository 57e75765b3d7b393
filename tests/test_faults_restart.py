"""kill -9 and restart of the real sidecar under a real Prometheus: history is not counted twice.

The sidecar (`vllm-obs run --file`, a real process) follows a file of vLLM-format lines;
Prometheus scrapes it every second. The sidecar is killed with SIGKILL, lines are appended (and,
in one case, the file is rotated by rename), and it is restarted on the same port. It re-reads
its sources (and the rotated file) from the start, but serves /metrics only once caught up, so
Prometheus never sees the counter drop. Asserted:

- every /metrics answer of the restarted sidecar is a 503 or at least the last value served
  before the kill (a poller reads it every 20 ms from the restart on);
- `resets()` over the whole test is 0, and what Prometheus counts (the first sample plus the
  increase over every sample, with its reset rule) equals the true number of requests.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from realparts import Prometheus, Sidecar, free_port, wait_for
from test_faults import Log

QUERY = "sum(vllm_obs_http_requests_total)"


@pytest.fixture
def prometheus_and_port():
    reason = Prometheus.available()
    if reason:
        pytest.skip(reason)
    port = free_port()
    prometheus = Prometheus([f"127.0.0.1:{port}"])
    prometheus.start()
    try:
        yield prometheus, port
    finally:
        prometheus.close()


def _served_requests(url: str) -> float | str | None:
    """The restarted sidecar's sum of http_requests_total; "503" while it catches up; None when
    nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        return str(exc.code)
    except OSError:
        return None
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("vllm_obs_http_requests_total{"))


def _prometheus_count(prometheus: Prometheus, window: str) -> tuple[float, int]:
    """What Prometheus counts over the raw samples: first value + increase (a drop is a reset,
    as increase() takes it), and the number of resets PromQL sees."""
    counted = 0.0
    for series in prometheus.query(f"vllm_obs_http_requests_total[{window}]"):
        values = [float(v) for _, v in series["values"]]
        counted += values[0]
        for before, after in zip(values, values[1:]):
            counted += after - before if after >= before else after
    resets = prometheus.query(f"sum(resets(vllm_obs_http_requests_total[{window}]))")
    return counted, int(float(resets[0]["value"][1])) if resets else 0


@pytest.mark.parametrize("rotate", [False, True], ids=["no-rotation", "rotation-while-down"])
def test_kill_9_and_restart_counts_history_once(prometheus_and_port, tmp_path: Path, rotate: bool) -> None:
    prometheus, port = prometheus_and_port
    path, log = tmp_path / "vllm.log", Log()
    log.append(path, 150_000)  # enough history that catching up spans scrapes
    sidecar = Sidecar("--file", str(path), port=port)
    restarted = None
    try:
        wait_for(lambda: prometheus.value(QUERY) == log.requests, 60, "Prometheus to see the first file")
        log.append(path, 20_000)
        wait_for(lambda: prometheus.value(QUERY) == log.requests, 30, "Prometheus to see the appended lines")
        before_kill = log.requests
        sidecar.kill()
        log.append(path, 10_000)
        if rotate:
            os.rename(path, tmp_path / "vllm.log.1")
            log.append(path, 5_000)

        seen: list[float | str | None] = []
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                seen.append(_served_requests(f"http://127.0.0.1:{port}/metrics"))
                time.sleep(0.02)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            restarted = Sidecar("--file", str(path), port=port)
            wait_for(lambda: prometheus.value(QUERY) == log.requests, 60, "Prometheus to see the restarted sidecar's count")
        finally:
            stop.set()
            poller.join(10)
        assert set(v for v in seen if isinstance(v, str)) == {"503"}  # catching up: 503, and only that
        served = [v for v in seen if isinstance(v, float)]
        assert served and min(served) >= before_kill, f"a served value below the last one before the kill: {min(served)} < {before_kill}"
        assert max(served) == log.requests
        counted, resets = _prometheus_count(prometheus, "10m")
        assert resets == 0
        assert counted == log.requests  # every request counted once, none twice
    finally:
        if restarted is not None:
            assert restarted.close() == 0
        elif sidecar.proc.poll() is None:
            sidecar.close()
