"""The report's charts as data: what each panel of an engine start shows, drawing-free.

The HTML page draws these with the vendored uPlot (interactive, offline); the Markdown report
draws the same data with matplotlib into PNGs. Every panel of a start shares one time range and
the start's failures, drawn as annotated vertical markers on each of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from vllm_obs.archive.findings import FAILURE_KINDS, parse_time

WARNING_PCT, CRITICAL_PCT = 90.0, 97.0  # the alert rules' thresholds
# Bins for the preemption bars: the smallest that gives at most ~80 bars over the start.
_BIN_SECONDS = (10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400)
_CUMULATIVE = re.compile(r"total_num_cumulative_preemption=(\d+)")


@dataclass
class Series:
    label: str
    values: list[float | None]
    color: str
    dash: bool = False
    bars: bool = False
    constant: float | None = None  # a threshold line: `values` all equal this (the page draws it from the number)


@dataclass
class Chart:
    name: str
    title: str
    y_label: str  # with its unit
    x: list[float]  # seconds since the epoch (or stats line number when the log has no times)
    series: list[Series]
    note: str = ""  # shown under the plot (e.g. why a line is missing)
    y_min: float | None = 0.0
    y_max: float | None = None


@dataclass
class Marker:
    seconds: float
    label: str  # e.g. "CUDA OOM"


@dataclass
class StartCharts:
    charts: list[Chart] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    x_is_time: bool = True
    x_range: tuple[float, float] | None = None  # shared by every panel


def _seconds(text: str | None) -> float | None:
    moment = parse_time(text)
    return moment.timestamp() if moment else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def bin_seconds(span_seconds: float, max_bins: int = 80) -> int:
    for size in _BIN_SECONDS:
        if span_seconds / size <= max_bins:
            return size
    return _BIN_SECONDS[-1]


def bin_label(size: int) -> str:
    if size < 60:
        return f"{size} s"
    if size < 3600:
        return f"{size // 60} min"
    return f"{size // 3600} h"


def preemption_events(start: dict) -> list[tuple[float, int]]:
    """(time, preemptions) from the stats lines' per-interval counts (V1) and V0's warnings,
    which carry the cumulative total (vLLM warns once per 50): each warning counts the
    preemptions since the previous one."""
    events: list[tuple[float, int]] = [(t, int(s["preemptions"])) for s in start.get("stats") or () if s.get("preemptions") and (t := _seconds(s.get("time"))) is not None]
    previous = 0
    for error in start.get("errors") or ():
        if error["kind"] != "preemption" or (t := _seconds(error.get("time"))) is None:
            continue
        m = _CUMULATIVE.search(error.get("message", ""))
        total = int(m.group(1)) if m else previous + 1
        events.append((t, max(total - previous, 1)))
        previous = max(total, previous)
    return sorted(events)


def start_charts(start: dict, decode_ceiling: Callable[[int, float | None], float] | None) -> StartCharts:
    stats = [s for s in start.get("stats") or ()]
    out = StartCharts()
    if not stats:
        return out
    times = [_seconds(s.get("time")) for s in stats]
    out.x_is_time = all(t is not None for t in times)
    x: list[float] = [t for t in times if t is not None] if out.x_is_time else [float(i) for i in range(len(stats))]
    if out.x_is_time:
        out.markers = [
            Marker(t, FAILURE_KINDS[e["kind"]])
            for e in start.get("errors") or ()
            if e["kind"] in FAILURE_KINDS and (t := _seconds(e.get("time"))) is not None
        ]
    events = preemption_events(start) if out.x_is_time else []
    moments = x + [m.seconds for m in out.markers] + [t for t, _ in events]
    out.x_range = (min(moments), max(moments)) if out.x_is_time else (0.0, float(max(len(stats) - 1, 1)))

    def values(key: str, digits: int = 1) -> list[float | None]:
        return [_round(s.get(key), digits) for s in stats]

    throughput = [
        Series("generation (decode)", values("generation_tps"), "#1f77b4"),
        Series("prompt (prefill)", values("prompt_tps"), "#2ca02c"),
    ]
    note = ""
    if decode_ceiling is not None:
        ceiling = [
            _round(decode_ceiling(int(s["running"]), (s.get("gpu_kv_usage_pct") or 0) / 100)) if s.get("running") else None
            for s in stats
        ]
        throughput.append(Series("decode ceiling (roofline)", ceiling, "#1f77b4", dash=True))
    else:
        note = "No decode ceiling: the GPU is not known (pass --gpu, and --model if the log's model is not in the catalog)."
    out.charts.append(Chart("throughput", "Throughput and the decode ceiling for the running batch", "tokens/s", x, throughput, note))

    requests = [Series("running", values("running", 0), "#1f77b4"), Series("waiting", values("waiting", 0), "#ff7f0e")]
    if any(s.get("swapped") for s in stats):
        requests.append(Series("swapped", values("swapped", 0), "#d62728"))
    out.charts.append(Chart("requests", "Requests", "requests", x, requests))

    n = len(x)
    out.charts.append(Chart(
        "kv_usage", "GPU KV cache usage", "% of the KV cache", x,
        [
            Series("KV cache usage", values("gpu_kv_usage_pct"), "#9467bd"),
            Series(f"{WARNING_PCT:.0f}% (warning)", [WARNING_PCT] * n, "#ff9900", dash=True, constant=WARNING_PCT),
            Series(f"{CRITICAL_PCT:.0f}% (critical)", [CRITICAL_PCT] * n, "#d62728", dash=True, constant=CRITICAL_PCT),
        ],
        y_max=102.0,
    ))

    if events and out.x_range is not None:
        lo, hi = out.x_range
        size = bin_seconds(hi - lo)
        first = lo - lo % size
        counts = [0] * (int((hi - first) // size) + 1)
        for t, count in events:
            counts[int((t - first) // size)] += count
        centres = [first + (i + 0.5) * size for i in range(len(counts))]
        label = f"preemptions per {bin_label(size)}"
        warned = any(e["kind"] == "preemption" for e in start.get("errors") or ())
        out.charts.append(Chart(
            "preemptions", f"Preemptions ({sum(counts):,} in all, counted per {bin_label(size)})", label, centres,
            [Series(label, [float(c) for c in counts], "#d62728", bars=True)],
            note=("V0 warns at its 1st, 51st, 101st... preemption: a bar counts the preemptions since the "
                  "previous warning, at the time of the warning.") if warned else "",
        ))
    return out
