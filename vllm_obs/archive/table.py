"""Render an analyze summary for people (rich): when, what it means, then the facts.

Order: the time span and duration of the log; the findings in plain words (the report's,
findings.py); the facts per engine start side by side (what changed between restarts shows);
load; observed against theory; failures collapsed by kind ("preemption x12, 10:01-10:14");
a hint when theory inputs are missing. Values are rounded as vLLM prints them (GiB to two
decimals, throughput to one), units spelled out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from vllm_obs.archive.findings import findings
from vllm_obs.archive.statsview import edges, line_count
from vllm_obs.ingest.timestamps import parse_time

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
_LOAD_ROWS = (
    ("peak_prompt_tps", "peak prompt throughput", "tokens/s"),
    ("peak_generation_tps", "peak generation throughput", "tokens/s"),
    ("peak_running", "peak running requests", "requests"),
    ("peak_waiting", "peak waiting requests", "requests"),
    ("peak_gpu_kv_usage_pct", "peak GPU KV cache usage", "%"),
    ("preemptions_total", "preemptions", "requests"),
)
# The theory join's keys as people read them.
_THEORY_LABELS = {
    "model_weights_gib": ("model weights (per GPU)", "GiB"),
    "kv_cache_memory_gib": ("KV cache budget (per GPU)", "GiB"),
    "cuda_graph_gib": ("CUDA graph memory", "GiB"),
    "activation_peak_gib": ("activation peak", "GiB"),
    "non_torch_memory_gib": ("non-torch memory", "GiB"),
    "kv_cache_tokens": ("KV cache capacity", "tokens"),
    "gpu_blocks": ("GPU KV blocks", "blocks"),
    "max_concurrency": ("max concurrency", "x"),
    "generation_tokens_per_second": ("decode per request", "tokens/s"),
}
# Digits as vLLM prints each unit ("54.34 GiB", "12424.0 tokens/s", "32.1%", "48.30x").
_DIGITS = {"GiB": 2, "tokens/s": 1, "%": 1, "x": 2, "s": 2}


def fmt(value: Any, unit: str = "") -> str:
    """A value with its unit, rounded as vLLM prints it."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value} {unit}".rstrip() if unit and unit != "x" else str(value)
    if isinstance(value, float) and unit in _DIGITS:
        text = f"{value:,.{_DIGITS[unit]}f}"
    elif isinstance(value, float) and unit:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    elif isinstance(value, int) and unit:
        text = f"{value:,}"
    else:
        text = str(value)
    if unit == "x":
        return f"{text}x"
    if unit == "%":
        return f"{text}%"
    return f"{text} {unit}".rstrip()


def _times(summary: dict) -> list[datetime]:
    moments = []
    for start in summary.get("starts") or ():
        for key in ("started_at", "stopped_at"):
            moments.append(parse_time(start.get(key)))
        moments += [parse_time(entry.get("time")) for entry in edges(start)]
        moments += [parse_time(e.get("time")) for e in start.get("errors") or ()]
    return sorted(m for m in moments if m is not None)


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def time_span(summary: dict) -> str:
    """'2025-05-11 11:09:02 to 11:31:40 UTC (22 min 38 s)', or why there is none."""
    moments = _times(summary)
    if not moments:
        return "no dated line (vLLM's lines carried no time)"
    first, last = moments[0], moments[-1]
    end = last.strftime("%H:%M:%S") if last.date() == first.date() else last.strftime("%Y-%m-%d %H:%M:%S")
    return f"{first.strftime('%Y-%m-%d %H:%M:%S')} to {end} UTC ({duration((last - first).total_seconds())})"


def _clock(moment: datetime | None, reference: datetime | None) -> str:
    if moment is None:
        return "?"
    return moment.strftime("%H:%M" if reference and moment.date() == reference.date() else "%m-%d %H:%M")


def collapsed_errors(summary: dict) -> list[tuple[str, int, str, str]]:
    """(kind, count, when, first message) per kind, in order of first appearance."""
    starts = summary.get("starts") or []
    errors: Iterable[dict] = [e for s in starts for e in s.get("errors") or ()] if starts else summary.get("errors") or ()
    groups: dict[str, list[dict]] = {}
    for error in errors:
        groups.setdefault(error["kind"], []).append(error)
    out = []
    for kind, group in groups.items():
        moments = [m for m in (parse_time(e.get("time")) for e in group) if m is not None]
        when = ""
        if moments:
            first, last = min(moments), max(moments)
            when = _clock(first, None) if first == last else f"{_clock(first, None)}-{_clock(last, first)}"
        out.append((kind, len(group), when, group[0]["message"]))
    return out


def theory_hints(summary: dict, model: str | None, model_config: str | None, gpu: str | None) -> list[str]:
    """What to add for theory when the summary has none."""
    if summary.get("theory") or not (summary.get("starts") or summary.get("model")):
        return []
    from vllm_obs.theory.model_catalog import find_entry
    from vllm_obs.theory.gpus import guess_gpu_from_total

    hints = []
    logged = summary.get("model")
    if not (model or model_config or (logged and find_entry(logged))):
        where = f"the log's model {logged} is not in the catalog" if logged else "the log names no model"
        hints.append(f"{where}: add --model NAME (vllm-obs catalog models) or --model-config PATH/config.json for theory")
    from vllm_obs.fold.facts import theory_inputs

    # The GPU total as the theory reads it (V1 prints it in its device memory report).
    facts = theory_inputs({k: v for k, v in summary.items() if k not in ("stats", "starts")}, summary.get("details", {}))
    total = facts.get("total_gpu_memory_gib")
    if not gpu and not (total and guess_gpu_from_total(total)):
        hints.append("the GPU is not known from the log: add --gpu NAME (vllm-obs catalog gpus) for theory")
    return hints


def _facts_table(summary: dict) -> Table:
    starts = summary.get("starts") or []
    parts = starts if starts else [summary]
    table = Table(title="Facts per engine start" if len(parts) > 1 else "vLLM startup facts", header_style="bold")
    table.add_column("what")
    for part in parts:
        moment = parse_time(part.get("started_at"))
        head = f"start {part.get('index', 0) + 1}" if len(parts) > 1 else "value"
        table.add_column(head + (f"\n{moment.strftime('%m-%d %H:%M:%S')}" if moment and len(parts) > 1 else ""), justify="right")
    for key, label, unit in _ROWS:
        if any(key in part for part in parts):
            table.add_row(label, *(fmt(part.get(key), unit) if key in part else "" for part in parts))
    if summary.get("weights_unit_printed") == "GB":
        table.add_row("  (weights unit)", *["printed GB, means GiB"] + [""] * (len(parts) - 1))
    return table


def render_summary(summary: dict, console: Console, hints: list[str] | None = None) -> None:
    details = summary.get("details", {})
    stats_lines = line_count(summary)
    starts = summary.get("starts") or []
    console.print(f"[bold]{time_span(summary)}[/bold] · {len(starts)} engine start{'s' if len(starts) != 1 else ''}, {stats_lines:,} stats lines")
    console.print("[bold]Findings[/bold]")
    for line in findings(summary):
        console.print(f"  - {line}")
    console.print(_facts_table(summary))

    load = Table(title=f"Load ({stats_lines:,} stats lines)", header_style="bold")
    load.add_column("what")
    load.add_column("value", justify="right")
    for key, label, unit in _LOAD_ROWS:
        if key in details:
            load.add_row(label, fmt(details[key], unit))
    http = details.get("http_requests_by_status") or {}
    if http:
        load.add_row("HTTP requests", ", ".join(f"{status}: {count:,}" for status, count in http.items()))
    if details.get("unknown_stats_parts"):
        load.add_row("unknown stats parts", ", ".join(f"{k} ({v})" for k, v in details["unknown_stats_parts"].items()))
    console.print(load)

    theory = summary.get("theory")
    if theory:
        compare = Table(title=f"Observed vs theory ({theory.get('model')}, {theory.get('gpu') or 'GPU from the log'})", header_style="bold")
        compare.add_column("what", justify="left")
        for column in ("observed", "theory", "observed / theory"):
            compare.add_column(column, justify="right")
        for key, row in theory.get("observed_vs_theory", {}).items():
            label, unit = _THEORY_LABELS.get(key, (key.replace("_", " "), ""))
            ratio = row.get("ratio")
            style = "" if ratio is None or abs(ratio - 1) <= 0.05 else "yellow"
            theory_text = fmt(row["theory"], unit) + (" (ceiling)" if row.get("theory_is") else "")
            compare.add_row(label, fmt(row["observed"], unit), theory_text, "-" if ratio is None else f"{ratio:.2f}", style=style)
        console.print(compare)  # its explanations are among the findings above

    groups = collapsed_errors(summary)
    if groups:
        table = Table(title=f"Failures and warnings ({sum(g[1] for g in groups):,}, by kind)", header_style="bold")
        for column in ("kind", "when (UTC)", "first message"):
            table.add_column(column, overflow="fold")
        for kind, count, when, message in groups:
            table.add_row(kind if count == 1 else f"{kind} x{count:,}", when, message)
        console.print(table)
    for hint in hints or ():
        console.print(f"hint: {hint}", style="cyan")
    lines = details.get("lines", {})
    console.print("lines: " + ", ".join(f"{k} {v:,}" for k, v in lines.items()), style="dim")
