"""Render an analyze summary as an aligned table for people (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

# (summary key, label, unit) in display order.
_ROWS = (
    ("vllm_version", "vLLM version", ""),
    ("engine", "engine", ""),
    ("model", "model", ""),
    ("served_model_name", "served model name", ""),
    ("dtype", "dtype", ""),
    ("quantization", "quantization", ""),
    ("kv_cache_dtype", "KV cache dtype", ""),
    ("tensor_parallel_size", "tensor parallel size", ""),
    ("pipeline_parallel_size", "pipeline parallel size", ""),
    ("data_parallel_size", "data parallel size", ""),
    ("max_model_len", "max model len", "tokens"),
    ("gpu_memory_utilization", "GPU memory utilization", ""),
    ("total_gpu_memory_gib", "GPU memory (torch total)", "GiB"),
    ("model_weights_gib", "model weights (per GPU)", "GiB"),
    ("model_load_seconds", "model load time", "s"),
    ("non_torch_memory_gib", "non-torch memory", "GiB"),
    ("activation_peak_gib", "activation peak", "GiB"),
    ("kv_cache_memory_gib", "KV cache budget (per GPU)", "GiB"),
    ("gpu_blocks", "GPU KV blocks", "blocks"),
    ("cpu_blocks", "CPU swap blocks", "blocks"),
    ("kv_cache_tokens", "KV cache capacity", "tokens"),
    ("max_concurrency", "max concurrency", "x"),
    ("max_concurrency_tokens_per_request", "  at tokens per request", "tokens"),
    ("cuda_graph_seconds", "CUDA graph capture", "s"),
    ("cuda_graph_gib", "CUDA graph memory", "GiB"),
)


def _fmt(value: Any, unit: str) -> str:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool) and unit in ("tokens", "blocks"):
        value = f"{value:,}"
    if unit == "x":
        return f"{value}x"
    return f"{value} {unit}".rstrip()


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_summary(summary: dict, console: Console) -> None:
    details = summary.get("details", {})
    facts = Table(title="vLLM startup facts", show_header=True, header_style="bold")
    facts.add_column("what")
    facts.add_column("value", justify="right")
    for key, label, unit in _ROWS:
        if key in summary:
            facts.add_row(label, _fmt(summary[key], unit))
    if summary.get("weights_unit_printed") == "GB":
        facts.add_row("  (weights unit)", "printed GB, means GiB")
    console.print(facts)

    stats = summary.get("stats", [])
    load = Table(title=f"Load ({len(stats)} stats lines)", show_header=True, header_style="bold")
    load.add_column("what")
    load.add_column("value", justify="right")
    for key, label, unit in (
        ("peak_prompt_tps", "peak prompt throughput", "tokens/s"),
        ("peak_generation_tps", "peak generation throughput", "tokens/s"),
        ("peak_running", "peak running requests", ""),
        ("peak_waiting", "peak waiting requests", ""),
        ("peak_gpu_kv_usage_pct", "peak GPU KV cache usage", "%"),
        ("preemptions_total", "preemptions", ""),
    ):
        if key in details:
            load.add_row(label, _fmt(details[key], unit))
    http = details.get("http_requests_by_status") or {}
    if http:
        load.add_row("HTTP requests", ", ".join(f"{status}: {count:,}" for status, count in http.items()))
    if details.get("engine_starts", 1) > 1:
        load.add_row("engine starts", str(details["engine_starts"]))
    if details.get("unknown_stats_parts"):
        load.add_row("unknown stats parts", ", ".join(f"{k} ({v})" for k, v in details["unknown_stats_parts"].items()))
    console.print(load)

    theory = summary.get("theory")
    if theory:
        compare = Table(title=f"Observed vs theory ({theory.get('model')}, {theory.get('gpu') or 'GPU from the log'})", header_style="bold")
        compare.add_column("what", justify="left")
        for column in ("observed", "theory", "ratio"):
            compare.add_column(column, justify="right")
        for key, row in theory.get("observed_vs_theory", {}).items():
            ratio = row.get("ratio")
            style = "" if ratio is None or abs(ratio - 1) <= 0.05 else "yellow"
            theory_label = f"{_number(row['theory'])}" + (" (ceiling)" if row.get("theory_is") else "")
            compare.add_row(key.replace("_", " "), _number(row["observed"]), theory_label, "-" if ratio is None else f"{ratio:.2f}", style=style)
        console.print(compare)
        for line in theory.get("explanations", []):
            console.print(f"  - {line}")

    errors = summary.get("errors", [])
    if errors:
        table = Table(title=f"Failures and warnings ({len(errors)})", show_header=True, header_style="bold")
        table.add_column("kind")
        table.add_column("message", overflow="fold")
        for error in errors[:50]:
            table.add_row(error["kind"], error["message"])
        if len(errors) > 50:
            table.add_row("...", f"{len(errors) - 50} more (see --format json)")
        console.print(table)
    lines = details.get("lines", {})
    console.print(
        "lines: " + ", ".join(f"{k} {v:,}" for k, v in lines.items()),
        style="dim",
    )
