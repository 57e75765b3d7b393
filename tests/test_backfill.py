"""Backfill end to end: export an archive, promtool builds blocks, a real Prometheus on those
blocks answers range queries over the archived period with the values the log holds."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from realparts import Prometheus
from vllm_obs.ingest.timestamps import parse_outer_time

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"


def rotated_set(directory: Path) -> None:
    """Case 060 as logrotate would have left it: vllm.log.2.gz (oldest), vllm.log.1, vllm.log."""
    # Bytes split on "\n" only: vLLM's multi-line records carry "\r" that must stay in the lines.
    lines = LOG.read_bytes().split(b"\n")[:-1]
    chunk = lambda part: b"".join(line + b"\n" for line in part)  # noqa: E731
    (directory / "vllm.log.2.gz").write_bytes(gzip.compress(chunk(lines[:900])))
    (directory / "vllm.log.1").write_bytes(chunk(lines[900:1800]))
    (directory / "vllm.log").write_bytes(chunk(lines[1800:]))


def test_backfilled_archive_answers_range_queries(tmp_path: Path) -> None:
    if shutil.which("promtool") is None or Prometheus.available():
        pytest.skip("promtool/prometheus not installed (scripts/setup --system)")
    archive = tmp_path / "archive"
    archive.mkdir()
    rotated_set(archive)
    om = tmp_path / "vllm.om"
    result = subprocess.run(
        [sys.executable, "-m", "vllm_obs", "export", "--openmetrics", str(archive), "-o", str(om),
         "--year", "2026", "--model", "Qwen/Qwen3-8B", "--gpu", "H100-SXM"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert om.read_text().endswith("# EOF\n")
    data = tmp_path / "tsdb"
    blocks = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)], capture_output=True, text=True)
    assert blocks.returncode == 0, blocks.stdout + blocks.stderr

    prometheus = Prometheus([], extra_args=["--storage.tsdb.retention.time=100y"])
    try:
        prometheus.start(storage=str(data))
        start = parse_outer_time("2026-11-21T16:25:00Z")
        end = parse_outer_time("2026-11-21T16:31:00Z")
        sel = '{source="vllm.log"}'

        def series(expr: str, step: str = "15s") -> list[float]:
            result = prometheus.query_range(expr, start, end, step)
            assert len(result) == 1, (expr, result)
            return [float(v) for _, v in result[0]["values"]]

        # The archived period: the running counts the stats lines printed, in order.
        running = series(f"vllm_obs_requests_running{sel}")
        for level in (1, 8, 64, 256):
            assert level in running
        assert running.index(1) < running.index(8) < running.index(64) < running.index(256)
        assert set(series(f"vllm_obs_kv_cache_capacity_tokens{sel}")) == {395712}
        assert set(series(f"vllm_obs_model_weights_bytes{sel} / 2^30")) == {15.27}
        assert max(series(f"vllm_obs_kv_cache_usage_ratio{sel}")) == pytest.approx(0.321)
        # Every stats line is in the archive (a 5 s replay interval keeps each one), in order.
        printed = [s["generation_tps"] for s in json.loads((LOG.parent / "expected.json").read_text())["stats"]]
        stored = series(f"vllm_obs_generation_throughput_tokens_per_second{sel}", "5s")
        assert [v for i, v in enumerate(stored) if i == 0 or v != stored[i - 1]] == printed
        assert set(series(f"vllm_obs_engine_starts_total{sel}")) == {1}
        assert max(series(f'sum(vllm_obs_http_requests_total{sel})')) == 2452
        # Theory is predicted from the GPU until the log states its KV budget, then exact.
        assert series(f"vllm_obs_theoretical_max_concurrency_requests{sel}")[-1] == 48.3
        # Lines read across the three files of the rotated set, as one source.
        assert max(series(f'sum(vllm_obs_log_lines_total{sel})')) == 2579
    finally:
        prometheus.close()
