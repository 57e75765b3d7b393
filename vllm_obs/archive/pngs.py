"""The report's charts as PNGs for Markdown (matplotlib, the `report` extra; Agg, no display).

The same chart data as the HTML page (charts.py): one time range per engine start, failures as
annotated vertical markers on every panel, preemptions as bars per interval.
"""

from __future__ import annotations

import io
from typing import Any
from datetime import datetime, timezone

from vllm_obs.archive.charts import Chart, StartCharts


def chart_png(chart: Chart, start: StartCharts) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    def when(seconds: float) -> Any:  # a datetime on a time axis, else the stats line's index
        return datetime.fromtimestamp(seconds, timezone.utc) if start.x_is_time else seconds

    fig, ax = plt.subplots(figsize=(9, 3.2))
    try:
        ax.set_title(chart.title, fontsize=11)
        ax.set_xlabel("time (UTC)" if start.x_is_time else "stats line", fontsize=9)
        ax.set_ylabel(chart.y_label, fontsize=9)
        ax.grid(alpha=0.3)
        x = [when(v) for v in chart.x]
        for series in chart.series:
            values = [float("nan") if v is None else v for v in series.values]
            if series.bars:
                width = (chart.x[1] - chart.x[0]) * 0.9 if len(chart.x) > 1 else 10.0
                ax.bar(x, values, width=width / 86400 if start.x_is_time else width, color=series.color, label=series.label)
            else:
                ax.plot(x, values, color=series.color, linestyle="--" if series.dash else "-", linewidth=1.2, label=series.label)
        if start.x_range is not None:
            ax.set_xlim(when(start.x_range[0]), when(start.x_range[1]) if start.x_range[1] > start.x_range[0] else when(start.x_range[0] + 60))
        ax.set_ylim(bottom=chart.y_min, top=chart.y_max)
        lo, hi = start.x_range or (0.0, 1.0)
        for marker in start.markers:
            ax.axvline(when(marker.seconds), color="black", linewidth=1, linestyle=":")
            near_end = hi > lo and (marker.seconds - lo) / (hi - lo) > 0.85  # the label on the side with room
            ax.annotate(marker.label, (when(marker.seconds), 1), xycoords=("data", "axes fraction"),
                        xytext=(-3 if near_end else 3, -10), textcoords="offset points", fontsize=7,
                        ha="right" if near_end else "left")
        if start.x_is_time:
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=timezone.utc))
        ax.legend(fontsize=8, loc="upper left")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(fig)
