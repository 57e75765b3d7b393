"""A real Prometheus (Debian package) scrapes the real sidecar following a real file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from realparts import Prometheus, Sidecar, wait_for

LOG = Path(__file__).resolve().parent.parent / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"


@pytest.fixture
def sidecar(tmp_path: Path):
    log = tmp_path / "vllm.log"
    shutil.copy(LOG, log)
    process = Sidecar("--file", str(log))
    yield process, str(log)
    process.close()


def test_promql_returns_the_log_values(sidecar) -> None:
    reason = Prometheus.available()
    if reason:
        pytest.skip(f"no real Prometheus here: {reason}")
    process, source = sidecar
    prometheus = Prometheus([f"127.0.0.1:{process.port}"])
    try:
        prometheus.start()
        # The first scrape comes a few seconds after start.
        wait_for(lambda: prometheus.value('up{job="vllm-obs"}') == 1, 30, "the first scrape")
        sel = f'{{source="{source}"}}'
        wait_for(lambda: prometheus.value(f'vllm_obs_log_lines_total{{source="{source}",result="matched"}}') == 2501, 30, "all lines")
        assert prometheus.value(f"vllm_obs_kv_cache_capacity_tokens{sel}") == 395712
        assert prometheus.value(f"vllm_obs_max_concurrency_requests{sel}") == 48.3
        assert prometheus.value(f"vllm_obs_model_weights_bytes{sel} / 2^30") == pytest.approx(15.27)
        assert prometheus.value(f"vllm_obs_kv_cache_memory_bytes{sel} / 2^30") == pytest.approx(54.34)
        assert prometheus.value(f"vllm_obs_gpu_memory_total_bytes{sel} / 2^30") == pytest.approx(79.18)
        assert prometheus.value(f"sum(vllm_obs_http_requests_total{sel})") == 2452
        assert prometheus.value(f'vllm_obs_engine_info{{source="{source}",version="0.27.1",model="qwen3-8b-random"}}') == 1
        assert prometheus.value(f"vllm_obs_engine_starts_total{sel}") == 1
        assert prometheus.value("vllm_obs_build_info") == 1
    finally:
        prometheus.close()
