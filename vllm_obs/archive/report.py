"""`vllm-obs report`: one self-contained page (or Markdown) answering what happened in an archive.

Per engine start: the config and capacity table, observed beside theory; time series of prompt
and generation throughput with the decode ceiling for the running batch, running/waiting, KV
usage with the alert thresholds, preemptions and failures; and a findings list in plain words
(`findings.py`). Plots are drawn with matplotlib (Agg, no display) and embedded as PNG data URIs,
so the HTML opens anywhere without a network.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

from vllm_obs.archive.findings import findings, parse_time
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
WARNING_PCT, CRITICAL_PCT = 90.0, 97.0  # the alert rules' thresholds


@dataclass
class Plot:
    name: str
    title: str
    png: bytes
    note: str = ""  # shown under the plot (e.g. why a line is missing)


@dataclass
class StartSection:
    index: int
    started_at: str | None
    rows: list[tuple[str, str, str, str]]  # label, observed, theory, ratio
    plots: list[Plot] = field(default_factory=list)
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


def _x_axis(stats: list[dict]):
    times = [parse_time(s.get("time")) for s in stats]
    if all(times):
        return times, "time (UTC)"
    return list(range(len(stats))), "stats line"


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _plots(start: dict, decode_ceiling) -> list[Plot]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = start.get("stats", [])
    if not stats:
        return []
    x, xlabel = _x_axis(stats)
    plots = []

    def series(key: str):
        return [s.get(key) for s in stats]

    def figure(title: str):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.grid(alpha=0.3)
        if xlabel != "stats line":
            import matplotlib.dates as mdates

            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        return fig, ax

    fig, ax = figure("Throughput (tokens/s) and the decode ceiling for the running batch")
    ax.plot(x, series("generation_tps"), label="generation (decode)", color="tab:blue")
    ax.plot(x, series("prompt_tps"), label="prompt (prefill)", color="tab:green", alpha=0.7)
    if decode_ceiling is not None:
        ceiling = [decode_ceiling(int(s["running"]), (s.get("gpu_kv_usage_pct") or 0) / 100, s.get("generation_tps"),
                                  s.get("prompt_tps")) if s.get("running") else None for s in stats]
        ax.plot(x, ceiling, label="decode ceiling (roofline)", color="tab:blue", linestyle="--")
    ax.legend(fontsize=8, loc="upper left")
    note = "" if decode_ceiling is not None else (
        "No decode ceiling: the GPU is not known (pass --gpu, and --model if the log's model is not in the catalog)."
    )
    plots.append(Plot("throughput", "Throughput", _png(fig), note))
    plt.close(fig)

    fig, ax = figure("Requests")
    ax.plot(x, series("running"), label="running", color="tab:blue")
    ax.plot(x, series("waiting"), label="waiting", color="tab:orange")
    if any(s.get("swapped") for s in stats):
        ax.plot(x, series("swapped"), label="swapped", color="tab:red")
    ax.legend(fontsize=8, loc="upper left")
    plots.append(Plot("requests", "Requests", _png(fig)))
    plt.close(fig)

    fig, ax = figure("GPU KV cache usage (%)")
    ax.plot(x, series("gpu_kv_usage_pct"), color="tab:purple", label="KV cache usage")
    ax.axhline(WARNING_PCT, color="orange", linestyle="--", linewidth=1, label=f"{WARNING_PCT:.0f}% (warning)")
    ax.axhline(CRITICAL_PCT, color="red", linestyle="--", linewidth=1, label=f"{CRITICAL_PCT:.0f}% (critical)")
    ax.set_ylim(0, 102)
    ax.legend(fontsize=8, loc="upper left")
    plots.append(Plot("kv_usage", "KV cache usage", _png(fig)))
    plt.close(fig)

    preemptions = [s.get("preemptions", 0) or 0 for s in stats]
    errors = [(parse_time(e.get("time")), e["kind"]) for e in start.get("errors", []) if e["kind"] != "preemption"]
    if any(preemptions) or errors or any(e["kind"] == "preemption" for e in start.get("errors", [])):
        fig, ax = figure("Preemptions per stats interval and failures")
        if any(preemptions):
            width = None if xlabel == "stats line" else 10 / 86400
            ax.bar(x, preemptions, width=width or 0.8, color="tab:red", label="preemptions")
        v0_preemptions = [parse_time(e.get("time")) for e in start.get("errors", []) if e["kind"] == "preemption"]
        if v0_preemptions and xlabel != "stats line":
            ax.plot([t for t in v0_preemptions if t], [1] * len([t for t in v0_preemptions if t]), "v", color="tab:red", label="preemption warning")
        for moment, kind in errors:
            if moment is not None and xlabel != "stats line":
                ax.axvline(moment, color="black", linewidth=1)
                ax.text(moment, ax.get_ylim()[1] * 0.9, kind, rotation=90, fontsize=7, va="top")
        ax.legend(fontsize=8, loc="upper left")
        plots.append(Plot("events", "Preemptions and failures", _png(fig)))
        plt.close(fig)
    return plots


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
                plots=_plots(start, decode),
                errors=[e for e in start.get("errors", []) if e["kind"] != "preemption"][:50],
                stats_count=len(start.get("stats", [])),
            )
        )
    return Report(inputs, findings(summary), sections, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


_CSS = """
body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:2em auto;max-width:1000px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}td,th{border:1px solid #ddd;padding:.3em .7em;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}
ul.findings li{margin:.3em 0}figure{margin:1em 0}figure img{max-width:100%}figcaption{font-size:.85em;color:#666}
.meta{color:#666;font-size:.9em}
"""


def render_html(report: Report) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>vLLM log report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>vLLM log report</h1>",
        f"<p class='meta'>{len(report.inputs)} input(s): {e(', '.join(report.inputs[:8]))}{' ...' if len(report.inputs) > 8 else ''}. "
        f"Generated {e(report.generated_at)} by vllm-obs.</p>",
        "<h2>Findings</h2><ul class='findings' id='findings'>",
        *[f"<li>{e(line)}</li>" for line in report.findings],
        "</ul>",
    ]
    for section in report.starts:
        parts.append(f"<h2 id='start-{section.index}'>Engine start {section.index + 1}" + (f" &middot; {e(section.started_at)}" if section.started_at else "") + "</h2>")
        if section.rows:
            parts.append("<table class='capacity'><tr><th>what</th><th>observed (log)</th><th>theory</th><th>observed / theory</th></tr>")
            for label, observed, theory, ratio in section.rows:
                parts.append(f"<tr><td>{e(label)}</td><td class='num'>{e(observed)}</td><td class='num'>{e(theory)}</td><td class='num'>{e(ratio)}</td></tr>")
            parts.append("</table>")
        parts.append(f"<p class='meta'>{section.stats_count:,} stats lines.</p>")
        for plot in section.plots:
            data = base64.b64encode(plot.png).decode()
            caption = e(plot.title) + (f" &middot; {e(plot.note)}" if plot.note else "")
            parts.append(f"<figure class='plot' data-plot='{plot.name}'><img alt='{e(plot.title)}' src='data:image/png;base64,{data}'><figcaption>{caption}</figcaption></figure>")
        if section.errors:
            parts.append("<table class='errors'><tr><th>time</th><th>kind</th><th>message</th></tr>")
            for error in section.errors:
                parts.append(f"<tr><td>{e(error.get('time') or '')}</td><td>{e(error['kind'])}</td><td>{e(error['message'])}</td></tr>")
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(report: Report, png_dir: str | None = None) -> str:
    lines = ["# vLLM log report", "", f"{len(report.inputs)} input(s): {', '.join(report.inputs[:8])}. Generated {report.generated_at} by vllm-obs.", "", "## Findings", ""]
    lines += [f"- {line}" for line in report.findings]
    for section in report.starts:
        lines += ["", f"## Engine start {section.index + 1}" + (f" ({section.started_at})" if section.started_at else ""), ""]
        if section.rows:
            lines += ["| what | observed (log) | theory | observed / theory |", "|---|---:|---:|---:|"]
            lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in section.rows]
        if png_dir:
            for plot in section.plots:
                name = f"start{section.index + 1}-{plot.name}.png"
                lines += ["", f"![{plot.title}]({os.path.join(png_dir, name)})"]
                if plot.note:
                    lines += ["", f"*{plot.note}*"]
        for error in section.errors:
            lines.append(f"- `{error['kind']}` {error.get('time') or ''}: {error['message']}")
    return "\n".join(lines) + "\n"


def write_pngs(report: Report, directory: str) -> list[str]:
    os.makedirs(directory, exist_ok=True)
    written = []
    for section in report.starts:
        for plot in section.plots:
            path = os.path.join(directory, f"start{section.index + 1}-{plot.name}.png")
            with open(path, "wb") as f:
                f.write(plot.png)
            written.append(path)
    return written
