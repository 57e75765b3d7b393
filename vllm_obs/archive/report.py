"""`vllm-obs report`: one self-contained page (or Markdown) answering what happened in an archive.

Per engine start: the config and capacity table, observed beside theory; time series of prompt
and generation throughput with the decode ceiling for the running batch, running/waiting, KV
usage with the alert thresholds, preemptions per interval, failures marked on every panel
(`charts.py`); and a findings list in plain words (`findings.py`). The HTML page draws the
charts with the vendored uPlot (`page.py`: interactive, offline, no Python plotting library);
Markdown links PNGs drawn by matplotlib (`pngs.py`, the `report` extra) or has no plots.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

from vllm_obs.archive.charts import StartCharts, start_charts
from vllm_obs.archive.findings import findings
from vllm_obs.fold.facts import theory_inputs

# (summary key, label, unit) for the capacity table.
TABLE_ROWS = (
    ("vllm_version", "vLLM version", ""),
    ("engine", "engine", ""),
    ("model", "model", ""),
    ("dtype", "dtype", ""),
    ("quantization", "quantization", ""),
    ("kv_cache_dtype", "KV cache dtype", ""),
    ("tensor_parallel_size", "tensor parallel size", ""),
    ("max_model_len", "max model len", "tokens"),
    ("gpu_memory_utilization", "GPU memory utilization", ""),
    ("total_gpu_memory_gib", "GPU memory", "GiB"),
    ("model_weights_gib", "model weights per GPU", "GiB"),
    ("kv_cache_memory_gib", "KV cache budget per GPU", "GiB"),
    ("gpu_blocks", "GPU KV blocks", ""),
    ("kv_cache_tokens", "KV cache capacity", "tokens"),
    ("max_concurrency", "max concurrency", "x"),
    ("cuda_graph_gib", "CUDA graph memory", "GiB"),
)


@dataclass
class StartSection:
    index: int
    started_at: str | None
    rows: list[tuple[str, str, str, str]]  # label, observed, theory, ratio
    charts: StartCharts = field(default_factory=StartCharts)
    errors: list[dict] = field(default_factory=list)
    stats_count: int = 0


@dataclass
class Report:
    inputs: list[str]
    findings: list[str]
    starts: list[StartSection]
    generated_at: str


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    if isinstance(value, float):
        text = f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text}{'x' if unit == 'x' else (' ' + unit if unit else '')}"


# Summary key -> the theory object's key for the same quantity (when theory has one).
THEORY_KEYS = {
    "model_weights_gib": "model_weights_gib_per_gpu",
    "kv_cache_memory_gib": "kv_cache_memory_gib_per_gpu",
    "gpu_blocks": "gpu_blocks",
    "kv_cache_tokens": "kv_cache_tokens",
    "max_concurrency": "max_concurrency",
    "cuda_graph_gib": "cuda_graph_gib",
}


def _rows(start: dict) -> list[tuple[str, str, str, str]]:
    """label, observed, theory, ratio: the ratio where the join compared them."""
    theory = start.get("theory") or {}
    compared = theory.get("observed_vs_theory") or {}
    rows = []
    for key, label, unit in TABLE_ROWS:
        if key not in start:
            continue
        row = compared.get(key) or {}
        expected = row.get("theory", theory.get(THEORY_KEYS[key])) if key in THEORY_KEYS else None
        ratio = row.get("ratio")
        rows.append((label, _fmt(start[key], unit), _fmt(expected, unit) if expected is not None else "", f"{ratio:.2f}" if ratio else ""))
    return rows


def build_report(summary: dict, inputs: list[str], model=None, model_config=None, gpu=None) -> Report:
    from vllm_obs.live.theory_provider import make_provider

    provider = make_provider(model=model, model_config=model_config, gpu=gpu)
    sections = []
    for start in summary.get("starts", []):
        theory = provider(theory_inputs(start, start.get("details", {})))
        decode = theory.decode_tokens_per_second if theory else None
        sections.append(
            StartSection(
                index=start["index"],
                started_at=start.get("started_at"),
                rows=_rows(start),
                charts=start_charts(start, decode),
                errors=[e for e in start.get("errors") or () if e["kind"] != "preemption"][:50],
                stats_count=len(start.get("stats") or ()),
            )
        )
    return Report(inputs, findings(summary), sections, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def render_markdown(report: Report, png_dir: str | None = None) -> str:
    lines = ["# vLLM log report", "", f"{len(report.inputs)} input(s): {', '.join(report.inputs[:8])}. Generated {report.generated_at} by vllm-obs.", "", "## Findings", ""]
    lines += [f"- {line}" for line in report.findings]
    for section in report.starts:
        lines += ["", f"## Engine start {section.index + 1}" + (f" ({section.started_at})" if section.started_at else ""), ""]
        if section.rows:
            lines += ["| what | observed (log) | theory | observed / theory |", "|---|---:|---:|---:|"]
            lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in section.rows]
        if png_dir:
            for chart in section.charts.charts:
                name = f"start{section.index + 1}-{chart.name}.png"
                lines += ["", f"![{chart.title}]({os.path.join(png_dir, name)})"]
                if chart.note:
                    lines += ["", f"*{chart.note}*"]
        for error in section.errors:
            lines.append(f"- `{error['kind']}` {error.get('time') or ''}: {error['message']}")
    return "\n".join(lines) + "\n"


def write_pngs(report: Report, directory: str) -> list[str]:
    """Each chart as a PNG (matplotlib, the `report` extra)."""
    from vllm_obs.archive.pngs import chart_png

    os.makedirs(directory, exist_ok=True)
    written = []
    for section in report.starts:
        for chart in section.charts.charts:
            path = os.path.join(directory, f"start{section.index + 1}-{chart.name}.png")
            with open(path, "wb") as f:
                f.write(chart_png(chart, section.charts))
            written.append(path)
    return written
