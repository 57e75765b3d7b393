#!/usr/bin/env python3
"""Write alerts_test.yml (promtool unit tests for alerts.yml) from the case table below.

    python deploy/prometheus/make_alerts_test.py && promtool test rules deploy/prometheus/alerts_test.yml

promtool compares annotations exactly, so expected annotations are rendered here from the
templates in alerts.yml for the forms they use ({{ $labels.x }}, {{ $value }},
{{ $value | humanizePercentage }} and {{ $value | printf "%.0f" }}), with the value each case
expects; promtool then checks that
Prometheus renders the same. Every alert has a case that fires and one that does not.
tests/test_alerts.py checks this file is up to date and runs promtool.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
L = 'source="s",model="m",engine="0"'  # the labels of one engine's series
LABELS = {"source": "s", "model": "m", "engine": "0"}

# (alert, series {selector: values}, eval_time, fires?, extra expected labels, rendered $value)
CASES = [
    ("VllmKvCacheSaturated", {f"vllm_obs_kv_cache_usage_ratio{{{L}}}": "0.95x10"}, "6m", True, LABELS, "95%"),
    ("VllmKvCacheSaturated", {f"vllm_obs_kv_cache_usage_ratio{{{L}}}": "0.95x10"}, "4m", False, None, None),
    ("VllmKvCacheSaturated", {f"vllm_obs_kv_cache_usage_ratio{{{L}}}": "0.85x10"}, "8m", False, None, None),
    ("VllmKvCacheSaturatedCritical", {f"vllm_obs_kv_cache_usage_ratio{{{L}}}": "0.99x10"}, "6m", True, LABELS, "99%"),
    ("VllmKvCacheSaturatedCritical", {f"vllm_obs_kv_cache_usage_ratio{{{L}}}": "0.95x10"}, "6m", False, None, None),
    (
        "VllmQueueGrowingWhileKvSaturated",
        {f"vllm_obs_requests_waiting{{{L}}}": "0+2x15", f"vllm_obs_kv_cache_usage_ratio{{{L}}}": "0.95x15"},
        "12m",
        True,
        LABELS,
        "10",
    ),
    (
        "VllmQueueGrowingWhileKvSaturated",
        {f"vllm_obs_requests_waiting{{{L}}}": "0+2x15", f"vllm_obs_kv_cache_usage_ratio{{{L}}}": "0.5x15"},
        "12m",
        False,
        None,
        None,
    ),
    ("VllmPreemptions", {f"vllm_obs_preemptions_total{{{L}}}": "0 0 5 5 5 5"}, "3m", True, LABELS, "5"),
    ("VllmPreemptions", {f"vllm_obs_preemptions_total{{{L}}}": "5x10"}, "5m", False, None, None),
    (
        "VllmEngineStartupFailed",
        {f'vllm_obs_errors_total{{{L},kind="insufficient_kv_cache"}}': "0 1 1 1"},
        "3m",
        True,
        dict(LABELS, kind="insufficient_kv_cache"),
        "1",
    ),
    ("VllmEngineStartupFailed", {f'vllm_obs_errors_total{{{L},kind="preemption"}}': "0 1 2 3"}, "3m", False, None, None),
    ("VllmEngineFatal", {f'vllm_obs_errors_total{{{L},kind="engine_fatal"}}': "0 1 1 1"}, "3m", True, dict(LABELS, kind="engine_fatal"), "1"),
    ("VllmEngineFatal", {f'vllm_obs_errors_total{{{L},kind="cuda_oom"}}': "0 1 1 1"}, "3m", False, None, None),
    ("VllmEngineRestarted", {'vllm_obs_engine_starts_total{source="s"}': "1 1 2 2"}, "3m", True, {"source": "s"}, "1"),
    ("VllmEngineRestarted", {'vllm_obs_engine_starts_total{source="s"}': "1x10"}, "5m", False, None, None),
    (
        "VllmThroughputFarBelowCeiling",
        {
            f"vllm_obs_generation_throughput_tokens_per_second{{{L}}}": "100x20",
            f"vllm_obs_theoretical_generation_throughput_tokens_per_second{{{L}}}": "1000x20",
            f"vllm_obs_requests_running{{{L}}}": "64x20",
        },
        "16m",
        True,
        LABELS,
        "10%",
    ),
    (
        "VllmThroughputFarBelowCeiling",
        {
            f"vllm_obs_generation_throughput_tokens_per_second{{{L}}}": "100x20",
            f"vllm_obs_theoretical_generation_throughput_tokens_per_second{{{L}}}": "1000x20",
            f"vllm_obs_requests_running{{{L}}}": "8x20",
        },
        "16m",
        False,
        None,
        None,
    ),
    ("VllmObsSourceDown", {'vllm_obs_source_up{source="s"}': "0x10"}, "3m", True, {"source": "s"}, "0"),
    ("VllmObsSourceDown", {'vllm_obs_source_up{source="s"}': "1x10"}, "3m", False, None, None),
    ("VllmObsSidecarStale", {'vllm_obs_last_log_line_timestamp_seconds{source="s"}': "0x40"}, "31m", True, {"source": "s"}, "1860"),
    ("VllmObsSidecarStale", {'vllm_obs_last_log_line_timestamp_seconds{source="s"}': "0+60x40"}, "31m", False, None, None),
    ("VllmObsTargetDown", {'up{job="vllm-obs",instance="h:9400"}': "0x10"}, "3m", True, {"job": "vllm-obs", "instance": "h:9400"}, "0"),
    ("VllmObsTargetDown", {'up{job="vllm-obs",instance="h:9400"}': "1x10"}, "3m", False, None, None),
]


def _render(template: str, labels: dict[str, str], value: str) -> str:
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)
    text = text.replace("{{ $value | humanizePercentage }}", value).replace("{{ $value }}", value)
    text = text.replace('{{ $value | printf "%.0f" }}', value)
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
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
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
