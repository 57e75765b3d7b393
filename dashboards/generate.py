#!/usr/bin/env python3
"""Generate the Grafana dashboards (Grafana 11 JSON model) from this file.

    python dashboards/generate.py            # rewrite dashboards/*.json
    python dashboards/generate.py --check    # exit 1 when the committed JSON is out of date

Plain dictionaries rather than a dashboard SDK: the JSON model for the few panel types used
here is small, and the tests check what Grafana 11 needs (schema version, unique panel ids,
gridPos, datasource variables) and run every query against a real Prometheus.
Datasources are never hard-coded: every panel uses the `$datasource` variable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA_VERSION = 39  # Grafana 11.0's dashboard schema
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'source=~"$source", model=~"$model", engine=~"$engine"'  # one engine's series
SRC = 'source=~"$source"'
ON = "on (source, model, engine)"
# vLLM's own /metrics, where Prometheus scrapes vLLM too: the scrape's relabel rule (deploy/compose/
# prometheus.yml, deploy/kubernetes/monitors.yaml) gives its series the sidecar's `source` and
# `model` (from vLLM's `model_name`), so one selection shows both. vLLM's `engine` is its
# data-parallel index, not selected here. Names as vLLM 0.26 exports them (v1/metrics/loggers.py).
VSEL = 'source=~"$source", model=~"$model"'
VLLM_METRICS = (
    "vllm:num_preemptions_total",
    "vllm:time_to_first_token_seconds_bucket",
    "vllm:inter_token_latency_seconds_bucket",  # V1 0.10.2+
    "vllm:time_per_output_token_seconds_bucket",  # its name up to 0.11.2 (removed 0.15.0)
)
NOT_SCRAPED = "no data: Prometheus does not scrape vLLM's /metrics (see deploy/compose/prometheus.yml)"


def variables(with_engine: bool = True) -> list[dict]:
    out = [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "current": {}, "hide": 0},
        _query_var("source", "label_values(vllm_obs_log_lines_total, source)"),
        _query_var("model", 'label_values(vllm_obs_engine_info{source=~"$source"}, model)'),
    ]
    if with_engine:
        out.append(_query_var("engine", 'label_values(vllm_obs_engine_info{source=~"$source", model=~"$model"}, engine)'))
    return out


def _query_var(name: str, query: str) -> dict:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": f"var-{name}"},
        "definition": query,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "refresh": 2,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
    }


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self) -> None:
        self.x = self.y = 0
        self.row_h = 0
        self.next_id = 1
        self.panels: list[dict] = []

    def add(self, panel: dict, w: int, h: int) -> None:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel["id"] = self.next_id
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)
        self.panels.append(panel)

    def row(self, title: str) -> None:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        self.panels.append({"type": "row", "title": title, "id": self.next_id, "collapsed": False, "panels": [],
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}})
        self.next_id += 1
        self.y += 1


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False, fmt: str | None = None) -> dict:
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto", "range": not instant, "instant": instant}
    if fmt:
        t["format"] = fmt
    return t


def panel(kind: str, title: str, targets: list[dict], unit: str = "short", description: str = "", **options) -> dict:
    defaults: dict = {"unit": unit}
    if "thresholds" in options:
        defaults["thresholds"] = {"mode": "absolute", "steps": options.pop("thresholds")}
    if "min" in options:
        defaults["min"] = options.pop("min")
    if "max" in options:
        defaults["max"] = options.pop("max")
    if "no_value" in options:
        defaults["noValue"] = options.pop("no_value")  # an empty panel says why
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options.get("panel_options", {}),
        **({"transformations": options["transformations"]} if "transformations" in options else {}),
    }


def dashboard(uid: str, title: str, description: str, layout: Layout, with_engine: bool = True) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["vllm", "vllm-obs"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "templating": {"list": variables(with_engine)},
        "annotations": {"list": []},
        "links": [{"type": "dashboards", "tags": ["vllm-obs"], "title": "vllm-obs", "asDropdown": True}],
        "panels": layout.panels,
    }


GREEN_AMBER_RED = [{"color": "green", "value": None}, {"color": "orange", "value": 0.9}, {"color": "red", "value": 0.97}]
RATIO_STEPS = [{"color": "red", "value": None}, {"color": "orange", "value": 0.8}, {"color": "green", "value": 0.95}]


def capacity() -> dict:
    lay = Layout()
    lay.row("Observed beside theory (per GPU)")
    for title, observed, theory, unit in (
        ("Model weights", "vllm_obs_model_weights_bytes", "vllm_obs_theoretical_model_weights_bytes", "bytes"),
        ("KV cache capacity", "vllm_obs_kv_cache_capacity_tokens", "vllm_obs_theoretical_kv_cache_capacity_tokens", "short"),
        ("Max concurrency at max_model_len", "vllm_obs_max_concurrency_requests", "vllm_obs_theoretical_max_concurrency_requests", "short"),
    ):
        lay.add(panel("stat", f"{title}: observed", [target(f"{observed}{{{SEL}}}", "{{source}} {{model}}", instant=True)], unit), 4, 5)
        lay.add(panel("stat", f"{title}: theory", [target(f"{theory}{{{SEL}}}", "{{source}} {{model}}", instant=True)], unit), 4, 5)
    for title, observed, theory in (
        ("Weights observed / theory", "vllm_obs_model_weights_bytes", "vllm_obs_theoretical_model_weights_bytes"),
        ("KV capacity observed / theory", "vllm_obs_kv_cache_capacity_tokens", "vllm_obs_theoretical_kv_cache_capacity_tokens"),
        ("Concurrency observed / theory", "vllm_obs_max_concurrency_requests", "vllm_obs_theoretical_max_concurrency_requests"),
    ):
        lay.add(
            panel("stat", title, [target(f"{observed}{{{SEL}}} / {ON} {theory}{{{SEL}}}", "{{source}}", instant=True)], "percentunit",
                  "Near 100% when vLLM's startup matches the model and GPU; far below means memory went elsewhere.", thresholds=RATIO_STEPS),
            8,
            4,
        )
    lay.row("GPU memory")
    other = (
        f"vllm_obs_gpu_memory_total_bytes{{{SEL}}} - {ON} vllm_obs_model_weights_bytes{{{SEL}}}"
        f" - {ON} vllm_obs_kv_cache_memory_bytes{{{SEL}}} - {ON} (vllm_obs_cuda_graph_memory_bytes{{{SEL}}} or {ON} vllm_obs_model_weights_bytes{{{SEL}}} * 0)"
    )
    lay.add(
        panel(
            "bargauge",
            "GPU memory split (one GPU)",
            [
                target(f"vllm_obs_model_weights_bytes{{{SEL}}}", "weights {{source}}", instant=True),
                target(f"vllm_obs_kv_cache_memory_bytes{{{SEL}}}", "KV cache {{source}}", instant=True),
                target(f"vllm_obs_cuda_graph_memory_bytes{{{SEL}}}", "CUDA graphs {{source}}", instant=True),
                target(other, "other (activations, non-torch, headroom, other processes) {{source}}", instant=True),
            ],
            "bytes",
            "Total GPU memory as torch reports it, split into what vLLM logged. 'Other' is what is left: activation peak, non-torch memory, the (1 - gpu_memory_utilization) headroom and other processes.",
            panel_options={"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True},
        ),
        12,
        8,
    )
    lay.add(
        panel("stat", "KV cache bytes per token (theory, per GPU)", [target(f"vllm_obs_theoretical_kv_cache_bytes_per_token{{{SEL}}}", "{{source}}", instant=True)], "bytes"),
        6,
        4,
    )
    lay.add(panel("stat", "KV cache budget (per GPU)", [target(f"vllm_obs_kv_cache_memory_bytes{{{SEL}}}", "{{source}}", instant=True)], "bytes"), 6, 4)
    lay.add(panel("stat", "GPU memory utilization setting", [target(f"vllm_obs_gpu_memory_utilization_ratio{{{SEL}}}", "{{source}}", instant=True)], "percentunit"), 6, 4)
    lay.add(panel("stat", "max_model_len", [target(f"vllm_obs_max_model_len_tokens{{{SEL}}}", "{{source}}", instant=True)], "short"), 6, 4)
    lay.row("Engine")
    lay.add(
        panel(
            "table",
            "Engine configuration",
            [target(f"vllm_obs_engine_info{{{SEL}}}", instant=True, fmt="table")],
            transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True, "__name__": True, "job": True, "instance": True}}}],
        ),
        24,
        5,
    )
    return dashboard("vllm-obs-capacity", "vLLM capacity (vllm-obs)", "What the engine allocated at startup beside what the model and GPU should give.", lay)


def load() -> dict:
    lay = Layout()
    lay.row("Throughput against the ceiling")
    lay.add(
        panel(
            "timeseries",
            "Generation throughput and its ceiling",
            [
                target(f"vllm_obs_generation_throughput_tokens_per_second{{{SEL}}}", "observed {{source}}"),
                target(f"vllm_obs_theoretical_generation_throughput_tokens_per_second{{{SEL}}}", "ceiling at the running batch {{source}}"),
            ],
            "short",
            "Decode tokens/s from vLLM's stats line, and the roofline ceiling for the batch that is running (memory bandwidth or compute bound).",
        ),
        12,
        8,
    )
    lay.add(
        panel(
            "timeseries",
            "Prompt throughput and the prefill ceiling",
            [
                target(f"vllm_obs_prompt_throughput_tokens_per_second{{{SEL}}}", "observed {{source}}"),
                target(f"vllm_obs_theoretical_prompt_throughput_tokens_per_second{{{SEL}}}", "ceiling {{source}}"),
            ],
            "short",
        ),
        12,
        8,
    )
    lay.add(
        panel(
            "timeseries",
            "Decode efficiency (observed / ceiling)",
            [target(f"vllm_obs_generation_throughput_tokens_per_second{{{SEL}}} / {ON} vllm_obs_theoretical_generation_throughput_tokens_per_second{{{SEL}}}", "{{source}}")],
            "percentunit",
            min=0,
        ),
        12,
        6,
    )
    lay.add(panel("timeseries", "Requests", [
        target(f"vllm_obs_requests_running{{{SEL}}}", "running {{source}}"),
        target(f"vllm_obs_requests_waiting{{{SEL}}}", "waiting {{source}}"),
        target(f"vllm_obs_requests_swapped{{{SEL}}}", "swapped {{source}}"),
    ]), 12, 6)
    lay.row("KV cache")
    lay.add(
        panel("timeseries", "GPU KV cache usage", [target(f"vllm_obs_kv_cache_usage_ratio{{{SEL}}}", "{{source}} engine {{engine}}")], "percentunit",
              "Alerts at 90% (warning) and 97% (critical) for 5 minutes.", thresholds=GREEN_AMBER_RED, min=0, max=1),
        12,
        7,
    )
    lay.add(panel("timeseries", "Prefix cache hit ratio", [target(f"vllm_obs_prefix_cache_hit_ratio{{{SEL}}}", "{{source}}")], "percentunit", min=0, max=1), 6, 7)
    lay.add(panel("timeseries", "CPU swap KV usage (V0)", [target(f"vllm_obs_cpu_kv_cache_usage_ratio{{{SEL}}}", "{{source}}")], "percentunit", min=0, max=1), 6, 7)
    lay.row("Events")
    lay.add(panel("timeseries", "Preemptions per minute: the log and vLLM's counter", [
        target(f"rate(vllm_obs_preemptions_total{{{SEL}}}[$__rate_interval]) * 60", "log {{source}}"),
        target(f"sum by (source, model) (rate(vllm:num_preemptions_total{{{VSEL}}}[$__rate_interval])) * 60", "vLLM /metrics {{source}}"),
    ], "short", "From the log (V0's warnings, V1's stats lines) and, where Prometheus scrapes vLLM, vllm:num_preemptions_total: "
       "V1 before 0.11 prints no preemption in its log, the counter still counts them."), 8, 7)
    lay.add(panel("timeseries", "Errors per minute by kind", [target(f"sum by (source, kind) (rate(vllm_obs_errors_total{{{SEL}}}[$__rate_interval])) * 60", "{{kind}} {{source}}")]), 8, 7)
    lay.add(panel("timeseries", "HTTP requests per second by status", [target(f"sum by (status) (rate(vllm_obs_http_requests_total{{{SRC}}}[$__rate_interval]))", "{{status}}")], "reqps"), 8, 7)
    lay.row("Latency from vLLM's own /metrics (where Prometheus scrapes vLLM)")
    for title, buckets, description in (
        ("Time to first token", "rate(vllm:time_to_first_token_seconds_bucket{%s}[$__rate_interval])" % VSEL,
         "vllm:time_to_first_token_seconds: queueing and prefill as the client sees it; the log has no per-request latency."),
        ("Inter-token latency", "(rate(vllm:inter_token_latency_seconds_bucket{%s}[$__rate_interval]) or rate(vllm:time_per_output_token_seconds_bucket{%s}[$__rate_interval]))" % (VSEL, VSEL),
         "vllm:inter_token_latency_seconds (vllm:time_per_output_token_seconds before 0.10.2): the time between two tokens of a "
         "request; compare with the decode ceiling (1 / per-request tokens/s) on the throughput panels."),
    ):
        lay.add(
            panel("timeseries", f"{title} (p50, p90, p99)", [
                target(f"histogram_quantile({q}, sum by (le, source, model) ({buckets}))", f"p{round(q * 100)} {{{{source}}}}")
                for q in (0.5, 0.9, 0.99)
            ], "s", description, panel_options={}, no_value=NOT_SCRAPED),
            12,
            7,
        )
    return dashboard("vllm-obs-load", "vLLM load (vllm-obs)", "Throughput against the theoretical ceiling, queues, KV cache usage, preemptions, errors, HTTP statuses.", lay)


def fleet() -> dict:
    lay = Layout()
    info = f"vllm_obs_engine_info{{{SEL}}}"
    lay.add(
        panel(
            "table",
            "vLLM instances",
            [
                target(f"max by (source, model, version, tensor_parallel_size, dtype) ({info})", instant=True, fmt="table"),
                target(f"max by (source, model) (vllm_obs_kv_cache_capacity_tokens{{{SEL}}})", instant=True, fmt="table"),
                target(f"max by (source, model) (vllm_obs_kv_cache_usage_ratio{{{SEL}}})", instant=True, fmt="table"),
                target(
                    f"max by (source, model) (vllm_obs_generation_throughput_tokens_per_second{{{SEL}}} / {ON} vllm_obs_theoretical_generation_throughput_tokens_per_second{{{SEL}}})",
                    instant=True,
                    fmt="table",
                ),
            ],
            description="One row per followed vLLM: model, version, tensor parallel size, KV capacity, KV usage now and decode efficiency (observed / ceiling).",
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True, "Value #A": True},
                        "renameByName": {"Value #B": "KV capacity (tokens)", "Value #C": "KV usage now", "Value #D": "decode efficiency"},
                    },
                },
            ],
        ),
        24,
        10,
    )
    lay.add(panel("timeseries", "KV usage across the fleet", [target(f"vllm_obs_kv_cache_usage_ratio{{{SEL}}}", "{{source}} {{model}}")], "percentunit", thresholds=GREEN_AMBER_RED), 12, 8)
    lay.add(panel("timeseries", "Generation throughput across the fleet", [target(f"sum by (source, model) (vllm_obs_generation_throughput_tokens_per_second{{{SEL}}})", "{{source}} {{model}}")]), 12, 8)
    return dashboard("vllm-obs-fleet", "vLLM fleet (vllm-obs)", "Many vLLM instances at once.", lay)


def exporter() -> dict:
    lay = Layout()
    lay.add(panel("timeseries", "Log lines per second by result", [target(f"sum by (source, result) (rate(vllm_obs_log_lines_total{{{SRC}}}[$__rate_interval]))", "{{result}} {{source}}")]), 12, 7)
    lay.add(panel("stat", "Seconds since the last log line", [target(f"time() - vllm_obs_last_log_line_timestamp_seconds{{{SRC}}}", "{{source}}", instant=True)], "s"), 6, 7)
    lay.add(
        panel("stat", "Sources up", [target(f"vllm_obs_source_up{{{SRC}}}", "{{source}}", instant=True)], thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]),
        6,
        7,
    )
    lay.add(panel("timeseries", "Reconnects and engine starts (per hour)", [
        target(f"increase(vllm_obs_source_reconnects_total{{{SRC}}}[1h])", "reconnects {{source}}"),
        target(f"increase(vllm_obs_engine_starts_total{{{SRC}}}[1h])", "engine starts {{source}}"),
    ]), 12, 7)
    lay.add(panel("stat", "Unmatched line share", [target(
        f'sum by (source) (rate(vllm_obs_log_lines_total{{{SRC}, result="unmatched"}}[$__rate_interval])) / sum by (source) (rate(vllm_obs_log_lines_total{{{SRC}}}[$__rate_interval]))',
        "{{source}}")], "percentunit"), 6, 7)
    lay.add(panel("table", "vllm-obs build", [target("vllm_obs_build_info", instant=True, fmt="table")]), 6, 7)
    return dashboard("vllm-obs-exporter", "vllm-obs exporter health", "Is the sidecar reading the logs?", lay, with_engine=False)


DASHBOARDS = {"capacity.json": capacity, "load.json": load, "fleet.json": fleet, "exporter.json": exporter}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in DASHBOARDS.items()}


if __name__ == "__main__":
    files = render()
    if "--check" in sys.argv:
        stale = [n for n, text in files.items() if not (HERE / n).exists() or (HERE / n).read_text() != text]
        if stale:
            print("out of date: " + ", ".join(stale) + " (run python dashboards/generate.py)")
        sys.exit(1 if stale else 0)
    for name, text in files.items():
        (HERE / name).write_text(text)
