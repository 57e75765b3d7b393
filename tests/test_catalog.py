"""The metric catalog follows Prometheus' naming guide and drives docs/metrics.md."""

from __future__ import annotations

import re
from pathlib import Path

from vllm_obs.metrics.catalog import METRICS, render_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
UNIT_SUFFIXES = ("_bytes", "_seconds", "_tokens", "_ratio", "_requests", "_tokens_per_second", "_blocks", "_timestamp_seconds")


def test_names_follow_the_naming_guide() -> None:
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names))
    for m in METRICS:
        assert re.fullmatch(r"vllm_obs_[a-z0-9_]+", m.name), m.name
        assert ":" not in m.name
        if m.type == "counter":
            assert m.name.endswith("_total"), m.name
        else:
            assert not m.name.endswith("_total"), m.name
        if m.unit and m.type == "gauge":
            assert m.name.endswith(UNIT_SUFFIXES) or m.unit in m.name, m.name
        assert m.help and m.help.endswith((".", ")")), m.name
        # No unbounded labels: nothing per request, prompt or raw path.
        assert not {"request_id", "prompt", "raw_path", "client"} & set(m.labels), m.name


def test_issue_metric_names_are_all_in_the_catalog() -> None:
    required = """model_weights_bytes model_load_seconds gpu_memory_total_bytes gpu_memory_utilization_ratio
    kv_cache_memory_bytes kv_cache_capacity_tokens kv_cache_gpu_blocks kv_cache_cpu_blocks max_concurrency_requests
    max_model_len_tokens cuda_graph_memory_bytes prompt_throughput_tokens_per_second
    generation_throughput_tokens_per_second requests_running requests_waiting requests_swapped kv_cache_usage_ratio
    cpu_kv_cache_usage_ratio prefix_cache_hit_ratio preemptions_total errors_total engine_starts_total
    http_requests_total engine_info theoretical_model_weights_bytes theoretical_kv_cache_bytes_per_token
    theoretical_kv_cache_capacity_tokens theoretical_max_concurrency_requests
    theoretical_generation_throughput_tokens_per_second theoretical_prompt_throughput_tokens_per_second
    log_lines_total last_log_line_timestamp_seconds source_up build_info""".split()
    names = {m.name for m in METRICS}
    assert {f"vllm_obs_{n}" for n in required} <= names


def test_docs_are_generated_from_the_catalog() -> None:
    assert DOCS.read_text() == render_markdown(), "run: python -m vllm_obs.metrics.catalog > docs/metrics.md"


def test_no_metric_name_is_written_outside_the_catalog() -> None:
    """The catalog is the only module that writes a metric name; others go through NAMES."""
    import re

    from vllm_obs.metrics.catalog import BY_NAME

    package = Path(__file__).resolve().parent.parent / "vllm_obs"
    offenders = []
    for path in package.rglob("*.py"):
        if path.name == "catalog.py" and path.parent.name == "metrics":
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(package)}: {m}" for m in re.findall(r"[\"']vllm_obs_\w+", text)]
        for short in re.findall(r"\bN\.(\w+)", text) if "NAMES as N" in text else ():
            assert "vllm_obs_" + short in BY_NAME, f"{path.name}: N.{short} is not in the catalog"
    assert offenders == []
