"""The report's HTML page: one self-contained file with interactive plots drawn by uPlot.

uPlot (MIT, ~50 KB, made for time series; vendored from the npm registry in vendor/) and the
page's data are inlined, so the page opens offline and needs no Python plotting library.
Each engine start's panels share one time range and one cursor: hovering shows every panel's
values at that time, dragging zooms all of them, shift-drag pans, double-click resets.
Failures are vertical markers with their name on every panel.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import TYPE_CHECKING

from vllm_obs.archive.charts import Chart, StartCharts

if TYPE_CHECKING:
    from vllm_obs.archive.report import Report

UPLOT_VERSION = "1.6.32"

_CSS = """
body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}td,th{border:1px solid #ddd;padding:.3em .7em;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}
ul.findings li{margin:.3em 0}figure{margin:1.2em 0}figcaption{font-size:.85em;color:#666}
.meta{color:#666;font-size:.9em}.nothing{font-size:1.1em;color:#a40}
"""

# Draws every chart of the page from the JSON in #vllm-obs-data; exposes them as window.__plots
# and writes what each drew into its figure's data-rendered attribute (for tests and tools).
_JS = r"""
(function () {
  "use strict";
  var t0 = performance.now();
  var data = JSON.parse(document.getElementById("vllm-obs-data").textContent);
  window.__plots = [];
  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  // Time ticks in UTC, 24-hour, as vLLM prints them (MM-DD HH:MM:SS): the date only when it changes.
  function clockValue(u, v) {
    if (v == null) return "--";
    var d = new Date(v * 1e3);
    return pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }
  function timeTicks(u, splits) {
    var span = u.scales.x.max - u.scales.x.min, last = "";
    return splits.map(function (v) {
      var d = new Date(v * 1e3), day = pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
      var clock = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + (span < 600 ? ":" + pad(d.getUTCSeconds()) : "");
      var text = day !== last ? day + " " + clock : clock;
      last = day;
      return text;
    });
  }
  function markersPlugin(markers) {
    return { hooks: { draw: [function (u) {
      var ctx = u.ctx, b = u.bbox, px = devicePixelRatio;
      ctx.save();
      ctx.font = (11 * px) + "px sans-serif";
      markers.forEach(function (m) {
        var x = Math.round(u.valToPos(m.t, "x", true));
        if (x < b.left || x > b.left + b.width) return;
        ctx.strokeStyle = "#111"; ctx.lineWidth = 1.5 * px; ctx.setLineDash([4 * px, 3 * px]);
        ctx.beginPath(); ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke();
        ctx.setLineDash([]); ctx.fillStyle = "#111";
        var w = ctx.measureText(m.label).width;
        // The label on the side of the line that has room for it.
        ctx.fillText(m.label, x + 4 * px + w > b.left + b.width ? x - 4 * px - w : x + 4 * px, b.top + 13 * px);
      });
      ctx.restore();
    }] } };
  }
  data.starts.forEach(function (start) {
    var group = [], syncing = false;
    var lo = start.range[0], hi = start.range[1];
    function zoomAll(min, max) {
      syncing = true;
      group.forEach(function (p) { p.setScale("x", { min: min, max: max }); });
      syncing = false;
    }
    start.charts.forEach(function (chart) {
      var figure = document.getElementById(chart.id);
      var x = (chart.dx || start.dx).map(function (d) { return start.t0 + d; });
      var xSeries = { label: start.time ? "time (UTC)" : "stats line" };
      if (start.time) xSeries.value = clockValue;
      var series = [xSeries].concat(chart.series.map(function (s) {
        var one = { label: s.label, stroke: s.color, width: 1.5, spanGaps: false,
                    value: function (u, v) { return v == null ? "-" : v.toLocaleString("en-US") + " " + chart.unit; } };
        if (s.dash) one.dash = [6, 4];
        if (s.bars) { one.paths = uPlot.paths.bars({ size: [0.9, Infinity] }); one.fill = s.color + "aa"; one.points = { show: false }; }
        return one;
      }));
      var yMin = chart.y_min, yMax = chart.y_max, panStart = null;
      var opts = {
        title: chart.title, width: Math.max(figure.clientWidth, 400), height: 260,
        tzDate: utc, series: series, plugins: [markersPlugin(start.markers)],
        scales: {
          x: { time: start.time },
          y: { range: function (u, min, max) {
            var top = yMax != null ? yMax : (max > 0 ? max * 1.08 : 1);
            return [yMin != null ? yMin : min, top];
          } }
        },
        axes: [start.time ? { label: "time (UTC)", values: timeTicks, space: 80 } : { label: "stats line" }, { label: chart.y_label, size: 70 }],
        cursor: {
          sync: { key: "start-" + start.index },
          bind: {
            dblclick: function () { return function () { zoomAll(lo, hi); return null; }; },
            mousedown: function (u, targ, handler) {
              return function (e) {
                if (!e.shiftKey) return handler(e);
                panStart = { x: e.clientX, min: u.scales.x.min, max: u.scales.x.max };
                return null;
              };
            },
            mousemove: function (u, targ, handler) {
              return function (e) {
                if (panStart && e.buttons === 1) {
                  var dx = (e.clientX - panStart.x) / u.bbox.width * devicePixelRatio * (panStart.max - panStart.min);
                  zoomAll(panStart.min - dx, panStart.max - dx);
                  return null;
                }
                panStart = null;
                return handler(e);
              };
            }
          }
        },
        hooks: { setScale: [function (u, key) {
          if (key === "x" && !syncing) zoomAll(u.scales.x.min, u.scales.x.max);
        }] }
      };
      var columns = chart.series.map(function (s) { return s.values || x.map(function () { return s.constant; }); });
      var plot = new uPlot(opts, [x].concat(columns), figure.querySelector(".chart"));
      group.push(plot);
      window.__plots.push({ start: start.index, name: chart.name, plot: plot });
    });
    zoomAll(lo, hi);
    // page.html#zoom=0.25,0.5 zooms the first panel of each start to that part of its range, as a
    // drag would: the others follow (a link to a moment, and how the tests check the sync).
    var zoom = /#zoom=([\d.]+),([\d.]+)/.exec(location.hash);
    if (zoom && group.length) group[0].setScale("x", { min: lo + (hi - lo) * zoom[1], max: lo + (hi - lo) * zoom[2] });
    // #cursor=0.5 hovers the first panel there: every panel's legend shows its values at that time.
    var hover = /#cursor=([\d.]+)/.exec(location.hash);
    // uPlot commits scale changes in a microtask: read them back after it.
    Promise.resolve().then(function () {
      if (hover && group.length) group[0].setCursor({ left: group[0].bbox.width / devicePixelRatio * hover[1], top: 10 }, true, true);
      group.forEach(function (plot, i) {
      var chart = start.charts[i];
      document.getElementById(chart.id).dataset.rendered = JSON.stringify({
        points: plot.data[0].length,
        series_with_data: plot.data.slice(1).filter(function (v) { return v.some(function (y) { return y != null; }); }).length,
        x_label: plot.axes[0].label, y_label: plot.axes[1].label,
        x_min: plot.scales.x.min, x_max: plot.scales.x.max, markers: start.markers.length,
        legend: Array.prototype.map.call(plot.root.querySelectorAll(".u-legend .u-value"), function (td) { return td.textContent; })
      });
    }); });
  });
  window.addEventListener("resize", function () {
    window.__plots.forEach(function (p) { p.plot.setSize({ width: Math.max(p.plot.root.parentNode.clientWidth, 400), height: 260 }); });
  });
  Promise.resolve().then(function () { document.body.dataset.renderMs = (performance.now() - t0).toFixed(1); });
})();
"""


def _vendor(name: str) -> str:
    return (resources.files("vllm_obs.archive") / "vendor" / name).read_text(encoding="utf-8")


def _chart_data(chart: Chart, chart_id: str, t0: float, shared_x: list[float] | None) -> dict:
    unit = chart.y_label.split(" per ")[0] if chart.y_label.startswith("preemptions") else chart.y_label.split(" of ")[0]
    return {
        "id": chart_id, "name": chart.name, "title": chart.title, "y_label": chart.y_label, "unit": unit,
        "y_min": chart.y_min, "y_max": chart.y_max,
        # Offsets from t0 in milliseconds' precision, written once per start, and threshold lines
        # as one number keep the page small (6.3 -> 3.5 MB for 100,000 stats lines).
        "dx": None if chart.x is shared_x else [round(v - t0, 3) for v in chart.x],
        "series": [
            {"label": s.label, "color": s.color, "dash": s.dash, "bars": s.bars,
             **({"constant": s.constant} if s.constant is not None else {"values": s.values})}
            for s in chart.series
        ],
    }


def _start_data(index: int, charts: StartCharts) -> dict:
    lo, hi = charts.x_range or (0.0, 1.0)
    t0 = lo if charts.x_is_time else 0.0
    if hi <= lo:
        lo, hi = lo - 30, hi + 30  # one moment: a minute around it
    shared = charts.charts[0].x if charts.charts else None
    return {
        "index": index, "time": charts.x_is_time, "t0": t0, "range": [lo, hi],
        "dx": [round(v - t0, 3) for v in shared or ()],
        "markers": [{"t": m.seconds, "label": m.label} for m in charts.markers],
        "charts": [_chart_data(c, f"plot-{index}-{c.name}", t0, shared) for c in charts.charts],
    }


def render_html(report: Report) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>vLLM log report</title>",
        f"<style>{_vendor('uPlot.min.css')}</style>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>vLLM log report</h1>",
        f"<p class='meta'>{len(report.inputs)} input(s): {e(', '.join(report.inputs[:8]))}{' ...' if len(report.inputs) > 8 else ''}. "
        f"Generated {e(report.generated_at)} by vllm-obs. Plots: hover for values, drag to zoom, shift-drag to pan, "
        "double-click to reset; the panels of an engine start move together.</p>",
        "<h2>Findings</h2><ul class='findings' id='findings'>",
        *[f"<li>{e(line)}</li>" for line in report.findings],
        "</ul>",
    ]
    starts = []
    for section in report.starts:
        parts.append(f"<h2 id='start-{section.index}'>Engine start {section.index + 1}" + (f" &middot; {e(section.started_at)}" if section.started_at else "") + "</h2>")
        if section.rows:
            parts.append("<table class='capacity'><tr><th>what</th><th>observed (log)</th><th>theory</th><th>observed / theory</th></tr>")
            for label, observed, theory, ratio in section.rows:
                parts.append(f"<tr><td>{e(label)}</td><td class='num'>{e(observed)}</td><td class='num'>{e(theory)}</td><td class='num'>{e(ratio)}</td></tr>")
            parts.append("</table>")
        parts.append(f"<p class='meta'>{section.stats_count:,} stats lines.</p>")
        if section.charts.charts:
            starts.append(_start_data(section.index, section.charts))
        for chart in section.charts.charts:
            caption = f"<figcaption>{e(chart.note)}</figcaption>" if chart.note else ""
            parts.append(f"<figure class='plot' id='plot-{section.index}-{chart.name}' data-plot='{chart.name}'><div class='chart'></div>{caption}</figure>")
        if section.errors:
            parts.append("<table class='errors'><tr><th>time</th><th>kind</th><th>message</th></tr>")
            for error in section.errors:
                parts.append(f"<tr><td>{e(error.get('time') or '')}</td><td>{e(error['kind'])}</td><td>{e(error['message'])}</td></tr>")
            parts.append("</table>")
    # "</" cannot end the data block early: JSON may escape it.
    payload = json.dumps({"starts": starts}, separators=(",", ":")).replace("</", "<\\/")
    parts += [
        f"<script type='application/json' id='vllm-obs-data'>{payload}</script>",
        f"<script>{_vendor('uPlot.iife.min.js')}</script>",
        f"<script>{_JS}</script>",
        "</body></html>",
    ]
    return "\n".join(parts)
