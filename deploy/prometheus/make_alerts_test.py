#!/usr/bin/env python3
"""Write alerts_test.yml (promtool unit tests for alerts.yml) from the case table below.

    python deploy/prometheus/make_alerts_test.py && promtool test rules deploy/prometheus/alerts_test.yml

promtool compares annotations exactly, so expected annotations are rendered here from the
templates in alerts.yml ({{ $labels.x }}; {{ $value }} with any filter is replaced by the value
each case gives as Prometheus renders it), the input series shaped as the exporter emits them
(counters born at 0, or at 1), with source_up and engine_info beside them; promtool checks that
Prometheus renders the same. Every alert has a case that fires and one that does not.
tests/test_alerts.py checks this file is up to date and runs promtool.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
G = 'source="s",model="m",engine="0"'  # a gauge of one engine
C = 'source="s",engine="0"'  # a counter of one engine: no model (joined from vllm_obs_engine_info)
GAUGE = {"source": "s", "model": "m", "engine": "0"}
JOINED = {"source": "s", "engine": "0", "model": "m"}  # a counter's labels with the model joined
# What the exporter emits for every source with an engine: source_up and the engine's info.
BASE = {
    'vllm_obs_source_up{source="s"}': "1x40",
    f'vllm_obs_engine_info{{{G},version="0.27.1"}}': "1x40",
}
# The closed set of error kinds, born at 0 as the exporter emits them.
KINDS = ("insufficient_kv_cache", "no_kv_cache_memory", "cuda_oom", "engine_startup_failed", "engine_fatal", "worker_died", "preemption")


def errors(**rising: str) -> dict[str, str]:
    """vllm_obs_errors_total for every kind: 0 throughout, except the kinds given."""
    return {f'vllm_obs_errors_total{{{C},kind="{k}"}}': rising.get(k, "0x40") for k in KINDS}


def states(**values: str) -> dict[str, str]:
    return {f'vllm_obs_engine_state{{source="s",state="{k}"}}': values.get(k, "0x40") for k in ("starting", "serving", "stopped", "failed")}


# Values: "0 0 1 1" is a series born at 0 that rises (the normal case: counters are exported at
# 0 from the source's first line); "_ _ 1 1" is a series born at 1 at 2m (a sidecar started
# after the event was already in its log reads it before its first scrape).
# (alert, series {selector: values}, eval_time, fires?, expected labels, rendered $value)
CASES = [
    ("VllmKvCacheSaturated", {f"vllm_obs_kv_cache_usage_ratio{{{G}}}": "0.95x10"}, "6m", True, GAUGE, "95%"),
    ("VllmKvCacheSaturated", {f"vllm_obs_kv_cache_usage_ratio{{{G}}}": "0.95x10"}, "4m", False, None, None),
    ("VllmKvCacheSaturated", {f"vllm_obs_kv_cache_usage_ratio{{{G}}}": "0.85x10"}, "8m", False, None, None),
    ("VllmKvCacheSaturatedCritical", {f"vllm_obs_kv_cache_usage_ratio{{{G}}}": "0.99x10"}, "6m", True, GAUGE, "99%"),
    ("VllmKvCacheSaturatedCritical", {f"vllm_obs_kv_cache_usage_ratio{{{G}}}": "0.95x10"}, "6m", False, None, None),
    # V1: no preemptions in the log, but a full KV cache with requests waiting.
    (
        "VllmKvCacheFullRequestsWaiting",
        {f"vllm_obs_kv_cache_usage_ratio{{{G}}}": "0.96x10", f"vllm_obs_requests_waiting{{{G}}}": "4x10"},
        "3m",
        True,
        GAUGE,
        "96%",
    ),
    (
        "VllmKvCacheFullRequestsWaiting",
        {f"vllm_obs_kv_cache_usage_ratio{{{G}}}": "0.96x10", f"vllm_obs_requests_waiting{{{G}}}": "0x10"},
        "3m",
        False,
        None,
        None,
    ),
    (
        "VllmQueueGrowingWhileKvSaturated",
        {f"vllm_obs_requests_waiting{{{G}}}": "0+2x15", f"vllm_obs_kv_cache_usage_ratio{{{G}}}": "0.95x15"},
        "12m",
        True,
        GAUGE,
        "10",
    ),
    (
        "VllmQueueGrowingWhileKvSaturated",
        {f"vllm_obs_requests_waiting{{{G}}}": "0+2x15", f"vllm_obs_kv_cache_usage_ratio{{{G}}}": "0.5x15"},
        "12m",
        False,
        None,
        None,
    ),
    # Two hosts, each with a container named "vllm": their series are never matched across hosts.
    (
        "VllmKvCacheFullRequestsWaiting",
        {
            'vllm_obs_kv_cache_usage_ratio{instance="a",source="vllm",model="m",engine="0"}': "0.96x10",
            'vllm_obs_requests_waiting{instance="a",source="vllm",model="m",engine="0"}': "0x10",
            'vllm_obs_kv_cache_usage_ratio{instance="b",source="vllm",model="m",engine="0"}': "0.1x10",
            'vllm_obs_requests_waiting{instance="b",source="vllm",model="m",engine="0"}': "5x10",
        },
        "3m",
        False,
        None,
        None,
    ),
    (
        "VllmEngineStartupFailed",
        {
            **{f'vllm_obs_errors_total{{instance="{h}",source="vllm",engine="0",kind="insufficient_kv_cache"}}': v for h, v in (("a", "0 0 1 1"), ("b", "0x10"))},
            **{f'vllm_obs_engine_info{{instance="{h}",source="vllm",model="{h}-model",engine="0"}}': "1x10" for h in "ab"},
            **{f'vllm_obs_source_up{{instance="{h}",source="vllm"}}': "1x10" for h in "ab"},
        },
        "3m",
        True,
        {"instance": "a", "source": "vllm", "engine": "0", "kind": "insufficient_kv_cache", "model": "a-model"},
        "1",
    ),
    # Counters born at 0 that rise, born at 1 (or more), and old ones that do not move.
    ("VllmPreemptions", {f"vllm_obs_preemptions_total{{{C}}}": "0 0 5 5 5 5"}, "3m", True, JOINED, "5"),
    ("VllmPreemptions", {f"vllm_obs_preemptions_total{{{C}}}": "_ _ 3 3 3 3"}, "3m", True, JOINED, "3"),
    ("VllmPreemptions", {f"vllm_obs_preemptions_total{{{C}}}": "0x10"}, "5m", False, None, None),
    ("VllmPreemptions", {f"vllm_obs_preemptions_total{{{C}}}": "5x10"}, "6m", False, None, None),
    ("VllmEngineStartupFailed", errors(insufficient_kv_cache="0 0 1 1 1"), "3m", True, dict(JOINED, kind="insufficient_kv_cache"), "1"),
    ("VllmEngineStartupFailed", errors(no_kv_cache_memory="_ _ 1 1 1"), "3m", True, dict(JOINED, kind="no_kv_cache_memory"), "1"),
    ("VllmEngineStartupFailed", errors(insufficient_kv_cache="1x20"), "15m", False, None, None),
    ("VllmEngineStartupFailed", errors(preemption="0 1 2 3"), "3m", False, None, None),
    ("VllmEngineStartupFailed", errors(), "3m", False, None, None),
    ("VllmCudaOutOfMemory", errors(cuda_oom="0 0 1 1"), "3m", True, dict(JOINED, kind="cuda_oom"), "1"),
    ("VllmCudaOutOfMemory", errors(engine_fatal="0 0 1 1"), "3m", False, None, None),
    ("VllmEngineFatal", errors(engine_fatal="_ 1 1 1"), "3m", True, dict(JOINED, kind="engine_fatal"), "1"),
    ("VllmEngineFatal", errors(cuda_oom="0 1 1 1"), "3m", False, None, None),
    ("VllmEngineFailed", states(serving="1 1 0 0 0", failed="0 0 1 1 1"), "3m", True, {"source": "s", "state": "failed", "model": "m"}, "1"),
    # A clean stop is no failure.
    ("VllmEngineFailed", states(serving="1 1 0 0 0", stopped="0 0 1 1 1"), "3m", False, None, None),
    ("VllmEngineRestarted", {'vllm_obs_engine_starts_total{source="s"}': "1 1 2 2"}, "3m", True, {"source": "s"}, "1"),
    ("VllmEngineRestarted", {'vllm_obs_engine_starts_total{source="s"}': "_ 2 2 2"}, "3m", True, {"source": "s"}, "2"),
    # The first start is no restart, born at 0 or at 1.
    ("VllmEngineRestarted", {'vllm_obs_engine_starts_total{source="s"}': "0 1 1 1"}, "3m", False, None, None),
    ("VllmEngineRestarted", {'vllm_obs_engine_starts_total{source="s"}': "_ 1 1 1"}, "3m", False, None, None),
    (
        "VllmThroughputFarBelowCeiling",
        {
            f"vllm_obs_generation_throughput_tokens_per_second{{{G}}}": "100x20",
            f"vllm_obs_theoretical_generation_throughput_tokens_per_second{{{G}}}": "1000x20",
            f"vllm_obs_requests_running{{{G}}}": "64x20",
        },
        "16m",
        True,
        GAUGE,
        "10%",
    ),
    (
        "VllmThroughputFarBelowCeiling",
        {
            f"vllm_obs_generation_throughput_tokens_per_second{{{G}}}": "100x20",
            f"vllm_obs_theoretical_generation_throughput_tokens_per_second{{{G}}}": "1000x20",
            f"vllm_obs_requests_running{{{G}}}": "8x20",
        },
        "16m",
        False,
        None,
        None,
    ),
    (
        "VllmObsSourceDown",
        {'vllm_obs_source_up{source="s"}': "0x10", 'vllm_obs_source_down_reason{source="s",reason="missing"}': "1x10"},
        "3m",
        True,
        {"source": "s", "reason": "missing"},
        "0",
    ),
    ("VllmObsSourceDown", {'vllm_obs_source_up{source="s"}': "0x10"}, "3m", True, {"source": "s"}, "0"),
    # A container stopped: fine after a clean shutdown, down when the engine was still serving (killed).
    (
        "VllmObsSourceDown",
        {'vllm_obs_source_up{source="s"}': "0x10", 'vllm_obs_source_down_reason{source="s",reason="container_exited"}': "1x10", **states(stopped="1x10")},
        "3m",
        False,
        None,
        None,
    ),
    (
        "VllmObsSourceDown",
        {'vllm_obs_source_up{source="s"}': "0x10", 'vllm_obs_source_down_reason{source="s",reason="stopped"}': "1x10", **states(serving="1x10")},
        "3m",
        True,
        {"source": "s", "reason": "stopped"},
        "0",
    ),
    ("VllmObsSourceDown", {'vllm_obs_source_up{source="s"}': "1x10"}, "3m", False, None, None),
    (
        "VllmObsNoLinesFromServingEngine",
        {'vllm_obs_last_log_line_timestamp_seconds{source="s"}': "0x40", **states(serving="1x40")},
        "31m",
        True,
        {"source": "s"},
        "31m 0s",
    ),
    # Silent after a clean stop: not lost, stopped.
    (
        "VllmObsNoLinesFromServingEngine",
        {'vllm_obs_last_log_line_timestamp_seconds{source="s"}': "0x40", **states(serving="1 0x39", stopped="0 1x39")},
        "31m",
        False,
        None,
        None,
    ),
    (
        "VllmObsNoLinesFromServingEngine",
        {'vllm_obs_last_log_line_timestamp_seconds{source="s"}': "0+60x40", **states(serving="1x40")},
        "31m",
        False,
        None,
        None,
    ),
    ("VllmObsTargetDown", {'up{job="vllm-obs",instance="h:9400"}': "0x10"}, "3m", True, {"job": "vllm-obs", "instance": "h:9400"}, "0"),
    ("VllmObsTargetDown", {'up{job="vllm-obs",instance="h:9400"}': "1x10"}, "3m", False, None, None),
    ("VllmObsPipelineErrors", {"vllm_obs_pipeline_errors_total": "0 0 1 1"}, "3m", True, {}, "1"),
    ("VllmObsPipelineErrors", {"vllm_obs_pipeline_errors_total": "0x10"}, "3m", False, None, None),
]


def _render(template: str, labels: dict[str, str], value: str) -> str:
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)
    text = re.sub(r"\{\{ \$value(?: \| [^}]*)? \}\}", value, text)  # the case gives $value as rendered
    if "{{" in text:
        raise ValueError(f"template form not handled here: {template!r}")
    return text


def build() -> str:
    rules = {r["alert"]: r for g in yaml.safe_load((HERE / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    tests = []
    for alert, series, eval_time, fires, labels, value in CASES:
        rule = rules[alert]
        expected = []
        if fires:
            assert labels is not None and value is not None, alert
            all_labels = dict(labels, **rule.get("labels", {}))
            expected.append(
                {
                    "exp_labels": all_labels,
                    "exp_annotations": {k: _render(v, all_labels, value) for k, v in rule["annotations"].items()},
                }
            )
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in {**BASE, **series}.items()],
                "alert_rule_test": [{"eval_time": eval_time, "alertname": alert, "exp_alerts": expected}],
            }
        )
    missing = set(rules) - {c[0] for c in CASES if c[3]} | set(rules) - {c[0] for c in CASES if not c[3]}
    if missing:
        raise SystemExit(f"alerts without a firing and a non-firing case: {sorted(missing)}")
    doc = {"rule_files": ["alerts.yml"], "evaluation_interval": "1m", "tests": tests}
    header = "# Generated by make_alerts_test.py from its case table and alerts.yml: do not edit by hand.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, width=200)


if __name__ == "__main__":
    text = build()
    if "--check" in sys.argv:
        sys.exit(0 if (HERE / "alerts_test.yml").read_text() == text else 1)
    (HERE / "alerts_test.yml").write_text(text)
