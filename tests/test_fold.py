"""The one fold's rules that span lines: data-parallel engines, engine starts, clean stops."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from logtools import on_day

from vllm_obs.archive.analyze import analyze_paths
from vllm_obs.fold.fold import Fold
from vllm_obs.fold.summary import summarize
from vllm_obs.live.state import State
from vllm_obs.metrics.collector import StateCollector
from vllm_obs.parse.parser import LineParser

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "real-logs"

# Case 013's real DP0 lines (vLLM 0.11, EngineCore_DP0), and a second data-parallel engine that
# sized its KV cache differently (other processes held memory on its GPU).
DP_LOG = [
    "(EngineCore_DP0 pid=441) INFO 11-24 11:43:54 [gpu_model_runner.py:3341] Model loading took 2.0513 GiB memory and 27.200487 seconds",
    "(EngineCore_DP1 pid=442) INFO 11-24 11:43:55 [gpu_model_runner.py:3341] Model loading took 2.0513 GiB memory and 27.911802 seconds",
    "(EngineCore_DP0 pid=441) INFO 11-24 11:44:17 [gpu_worker.py:348] Available KV cache memory: 33.31 GiB",
    "(EngineCore_DP1 pid=442) INFO 11-24 11:44:17 [gpu_worker.py:348] Available KV cache memory: 25.02 GiB",
    "(EngineCore_DP0 pid=441) INFO 11-24 11:44:18 [kv_cache_utils.py:1234] GPU KV cache size: 1,587,648 tokens",
    "(EngineCore_DP1 pid=442) INFO 11-24 11:44:18 [kv_cache_utils.py:1234] GPU KV cache size: 1,192,464 tokens",
    "(EngineCore_DP0 pid=441) INFO 11-24 11:44:18 [kv_cache_utils.py:1239] Maximum concurrency for 2,048 tokens per request: 775.22x",
    "(EngineCore_DP1 pid=442) INFO 11-24 11:44:18 [kv_cache_utils.py:1239] Maximum concurrency for 2,048 tokens per request: 582.26x",
]


def fold_lines(lines: list[str], fold: Fold | None = None) -> Fold:
    fold = fold or Fold()
    parser = LineParser("x")
    parser.scan(lines, fold.add, fold.add_http_counts)
    for context, record in parser.flush():
        fold.add(context, record)
    return fold


def test_data_parallel_engines_that_disagree_on_kv_report_both_and_no_single_figure() -> None:
    summary = summarize(fold_lines(DP_LOG))
    for key in ("kv_cache_memory_gib", "kv_cache_tokens", "max_concurrency"):
        assert key not in summary, key  # never engine 0's figure as the server's
    assert summary["model_weights_gib"] == 2.0513  # what the engines agree on stays
    assert summary["max_concurrency_tokens_per_request"] == 2048
    by_engine = summary["details"]["kv_cache_by_engine"]
    assert by_engine["0"] == {"kv_cache_memory_gib": 33.31, "kv_cache_tokens": 1587648, "max_concurrency": 775.22}
    assert by_engine["1"] == {"kv_cache_memory_gib": 25.02, "kv_cache_tokens": 1192464, "max_concurrency": 582.26}
    assert len(summary["starts"]) == 1


def test_data_parallel_engines_that_agree_give_the_figure() -> None:
    same = [line.replace("25.02", "33.31").replace("1,192,464", "1,587,648").replace("582.26", "775.22") for line in DP_LOG]
    summary = summarize(fold_lines(same))
    assert summary["kv_cache_memory_gib"] == 33.31 and summary["kv_cache_tokens"] == 1587648
    assert "kv_cache_by_engine" not in summary["details"]


def test_the_sidecar_exports_each_data_parallel_engines_kv() -> None:
    state = State()
    parser = LineParser("dp")
    parser.scan(DP_LOG, lambda c, r: state.apply("dp", c, r), lambda counts: state.add_http_counts("dp", counts))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state))
    kv = {
        sample.labels["engine"]: sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if sample.name == "vllm_obs_kv_cache_capacity_tokens"
    }
    assert kv == {"0": 1587648, "1": 1192464}


# The traceback vLLM 0.26 sometimes prints while it stops on SIGINT/SIGTERM (v1/engine/async_llm.py
# logs "AsyncLLM output_handler failed." with the EngineDeadError that ends the output loop).
SHUTDOWN_TRACEBACK = """\
(APIServer pid=711) ERROR 12-01 08:26:57 [async_llm.py:480] AsyncLLM output_handler failed.
(APIServer pid=711) ERROR 12-01 08:26:57 [async_llm.py:480] Traceback (most recent call last):
(APIServer pid=711) ERROR 12-01 08:26:57 [async_llm.py:480]   File "/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/async_llm.py", line 439, in output_handler
(APIServer pid=711) ERROR 12-01 08:26:57 [async_llm.py:480]     outputs = await engine_core.get_output_async()
(APIServer pid=711) ERROR 12-01 08:26:57 [async_llm.py:480] vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.
"""
LOG_073 = SAMPLES / "073-realgpu-h200-v0260-autofit-full-length-fits" / "input.log"
LOG_060 = SAMPLES / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"


def _two_starts(tmp_path: Path, first: str) -> dict:
    log = tmp_path / "two-starts.log"
    # Start 1 (0.26.0 on an H200, served, stopped), then start 2 with other flags a day later.
    log.write_text(first + on_day(LOG_060.read_text(), "12-02"))
    summary, problems = analyze_paths([str(log)], year=2026)
    assert problems == []
    return summary


def test_a_clean_stop_then_a_second_start_gives_the_second_starts_facts_and_no_error(tmp_path: Path) -> None:
    first = LOG_073.read_text() + SHUTDOWN_TRACEBACK
    summary = _two_starts(tmp_path, first)
    second, _ = analyze_paths([str(LOG_060)], year=2026)
    assert len(summary["starts"]) == 2
    for key in ("vllm_version", "max_model_len", "gpu_memory_utilization", "kv_cache_memory_gib", "kv_cache_tokens", "max_concurrency"):
        assert summary[key] == second[key], key  # the last start's, never a mix
    assert summary["errors"] == []  # a shutdown and its traceback are a stop, not a failure
    start1, start2 = summary["starts"]
    assert start1["state"] == "stopped" and start1["stop_reason"] and start1["stopped_at"].startswith("2026-12-01T08:26:57")
    assert start2["state"] == "stopped" and start2["stop_reason"] == "signal SIGTERM"  # 060 was stopped too
    assert start1["vllm_version"] == "0.26.0" and start2["vllm_version"] == "0.27.1"


def test_a_crash_without_a_shutdown_sequence_is_one_engine_fatal(tmp_path: Path) -> None:
    served = LOG_073.read_text()
    cut = served.index("[shutdown] API server: shutdown triggered")
    crashed = served[: served.rindex("\n", 0, cut) + 1] + SHUTDOWN_TRACEBACK  # the same traceback, no stop before it
    summary = _two_starts(tmp_path, crashed)
    assert [e["kind"] for e in summary["errors"]] == ["engine_fatal"]
    assert summary["starts"][0]["state"] == "failed"


def test_engine_labels_are_capped_and_the_rest_counted_as_dropped() -> None:
    """1,000 engine indices (issue 11 measured 8,008 series from them) give at most 64 engine
    labels plus "other", and vllm_obs_series_dropped_total says how many were kept out."""
    stats = "(APIServer pid=1) INFO 11-24 11:45:00 [loggers.py:123] Engine {:03d}: Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 1.0 tokens/s, Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 1.0%, Prefix cache hit rate: 0.0%"
    state = State()
    parser = LineParser("dp")
    parser.scan([stats.format(i) for i in range(1000)], lambda c, r: state.apply("dp", c, r), lambda counts: None)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state))
    samples = [s for f in text_string_to_metric_families(generate_latest(registry).decode()) for s in f.samples]
    engines = {s.labels["engine"] for s in samples if s.name == "vllm_obs_stats_lines_total"}
    assert len(engines) == 65 and "other" in engines
    lines = {s.labels["engine"]: s.value for s in samples if s.name == "vllm_obs_stats_lines_total"}
    assert lines["other"] == 1000 - 64 and sum(lines.values()) == 1000  # nothing lost, only merged
    (dropped,) = [s.value for s in samples if s.name == "vllm_obs_series_dropped_total"]
    assert dropped == 1000 - 64
