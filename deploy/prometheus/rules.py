#!/usr/bin/env python3
"""The one source of vllm-obs' alert rules: a table, written out three ways.

    python deploy/prometheus/rules.py          # writes the files below
    python deploy/prometheus/rules.py --check  # exit 1 when one is out of date (tests/test_alerts.py)

- deploy/prometheus/alerts.yml: Prometheus rules (compose mounts it; promtool tests it);
- deploy/grafana/provisioning/alerting/vllm-obs.yml: the same rules as Grafana-managed rules
  (query A, threshold C);
- deploy/kubernetes/prometheusrule.yaml: the Prometheus operator's PrometheusRule;
- the per-alert section of docs/alerts.md and the alert table of docs/operations.md
  (rules_docs.py).

Each rule is a *query* (the value shown) and a *threshold* (op, value): Prometheus gets
`(query) op value`, Grafana the query as A and the threshold as C, so both fire on the same
series. How the exporter emits series shapes the queries:
- counters with closed label sets are born at 0 (the normal case), so `increase()` sees the
  first event; a sidecar that starts after the event is already in its log reads it before the
  first scrape and the series is born at 1, where `increase()` is 0: `fired()` adds the
  "new series already above 0" case (`x unless x offset <window>`);
- counters carry no `model` label (it can change mid-life): `with_model()` joins it from
  vllm_obs_engine_info, and keeps the alert when the join finds nothing;
- joins match on every label but the metrics' own (`ignoring`, never `on (source)`): the same
  source name ("vllm") on two hosts is two targets (job, instance, pod ...), never one.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import rules_docs  # beside this file
import yaml

from vllm_obs.metrics.catalog import BY_NAME

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parent
ALERTS = HERE / "alerts.yml"
GRAFANA = DEPLOY / "grafana" / "provisioning" / "alerting" / "vllm-obs.yml"
OPERATOR = DEPLOY / "kubernetes" / "prometheusrule.yaml"
DATASOURCE_UID = "vllm-obs-prometheus"  # deploy/grafana/provisioning/datasources/prometheus.yml
GRAFANA_OPS = {">": "gt", "<": "lt"}

# What an engine's failure is, by the kind label of vllm_obs_errors_total.
STARTUP_KINDS = "insufficient_kv_cache|no_kv_cache_memory|engine_startup_failed"
FATAL_KINDS = "engine_fatal|worker_died"
# The labels vllm_obs_engine_info has beyond its source's and the model: left out of the join.
INFO_ONLY = ", ".join(label for label in BY_NAME["vllm_obs_engine_info"].labels if label not in ("source", "model"))
# Down reasons that say a container is not running (the catalog's "stopped"; the Docker source
# writes container_<status>, e.g. container_stopped, container_exited).
NOT_RUNNING = "stopped|container_.*"
# Silence (seconds) after which a serving engine's log counts as lost.
NO_LINES_SECONDS = 1800

# How to join vLLM's own preemption counter where Prometheus also scrapes vLLM's /metrics
# (V1 counts preemptions there but never prints them in its log).
VLLM_PREEMPTIONS_JOIN = "increase(vllm:num_preemptions_total[5m]) > 0"


def fired(counter: str, window: str) -> str:
    """A counter that rose within the window: an increase, or a series born above 0 in it."""
    return f"increase({counter}[{window}]) > 0 or ({counter} unless {counter} offset {window})"


def with_model(expr: str, own: str) -> str:
    """expr with the `model` label of its source's engine joined from vllm_obs_engine_info; a
    source without an info series (no engine line yet) keeps its series, with no model. `own`
    are expr's labels beyond the source's (engine, kind, state)."""
    return (
        f"({expr})\n  * ignoring ({own}, model) group_left (model)"
        f" (group without ({INFO_ONLY}) (vllm_obs_engine_info) or ignoring (model) group without () (vllm_obs_source_up))"
    )


@dataclass(frozen=True)
class Rule:
    alert: str
    group: str
    query: str  # PromQL: the value the threshold applies to (and $value in the annotations)
    op: str  # ">" or "<"
    threshold: float
    severity: str
    summary: str
    description: str
    runbook: str
    for_: str = "0s"

    @property
    def expr(self) -> str:
        query = self.query.strip()
        if re.search(r"\b(?:and|or|unless)\b|[<>=]=?", query):
            query = f"({query})"
        return f"{query} {self.op} {_number(self.threshold)}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


KV = "vLLM {{ $labels.model }} ({{ $labels.source }})"

RULES: tuple[Rule, ...] = (
    # -- KV cache capacity -------------------------------------------------------------------------
    Rule(
        "VllmKvCacheSaturated", "vllm-obs-kv-cache", "vllm_obs_kv_cache_usage_ratio", ">", 0.90, "warning",
        f"{KV} KV cache above 90% for 5 minutes",
        "GPU KV cache usage is {{ $value | humanizePercentage }}. New requests queue and running ones get preempted when it is full.",
        "1. Check waiting requests (vllm_obs_requests_waiting) and, on V0, preemptions (vllm_obs_preemptions_total); on V1 "
        "vLLM's own vllm:num_preemptions_total (see docs/alerts.md).\n"
        "2. Compare the KV capacity with theory (vllm-obs analyze / the Capacity dashboard): is memory held by something else?\n"
        "3. Give the KV cache more room: raise --gpu-memory-utilization, lower --max-model-len, use an fp8 KV cache "
        "(--kv-cache-dtype fp8), add tensor parallelism, or run another replica.\n",
        for_="5m",
    ),
    Rule(
        "VllmKvCacheSaturatedCritical", "vllm-obs-kv-cache", "vllm_obs_kv_cache_usage_ratio", ">", 0.97, "critical",
        f"{KV} KV cache above 97% for 5 minutes",
        "GPU KV cache usage is {{ $value | humanizePercentage }}: the engine is at capacity and preempting or queueing.",
        "Shed or redirect load now (another replica, lower max_tokens), then follow VllmKvCacheSaturated's steps to add KV capacity.\n",
        for_="5m",
    ),
    Rule(
        "VllmKvCacheFullRequestsWaiting", "vllm-obs-kv-cache",
        "vllm_obs_kv_cache_usage_ratio and vllm_obs_requests_waiting > 0", ">", 0.90, "warning",
        f"{KV} requests wait while the KV cache is full",
        "The KV cache is {{ $value | humanizePercentage }} full and requests are waiting: the scheduler has no blocks to admit "
        "them. This is KV saturation as every engine shows it: vLLM V1 never prints its preemptions in the log "
        "(vllm_obs_preemptions_total stays 0 there).",
        "Capacity, not compute, is the limit: add KV capacity (see VllmKvCacheSaturated) or replicas.\n"
        "Where Prometheus also scrapes vLLM's /metrics, its own counter shows the preemptions V1 does not log:\n"
        f"  {VLLM_PREEMPTIONS_JOIN}\n"
        "(labelled source, model, engine as the sidecar's by the shipped vLLM scrape job: join on (source, model, engine); "
        "docs/alerts.md)\n",
        for_="2m",
    ),
    Rule(
        "VllmQueueGrowingWhileKvSaturated", "vllm-obs-kv-cache",
        "delta(vllm_obs_requests_waiting[5m]) and vllm_obs_requests_waiting > 0 and vllm_obs_kv_cache_usage_ratio > 0.90",
        ">", 0, "warning",
        f"{KV} waiting requests grow while the KV cache is saturated",
        "{{ $value | printf \"%.0f\" }} more requests waiting than 5 minutes ago; the KV cache has no room to admit them.",
        "Capacity, not compute, is the limit: add KV capacity (see VllmKvCacheSaturated) or replicas; lowering max_num_seqs does not help.\n",
        for_="5m",
    ),
    # -- engine events and state -------------------------------------------------------------------
    Rule(
        "VllmPreemptions", "vllm-obs-engine", with_model(fired("vllm_obs_preemptions_total", "5m"), "engine"), ">", 0,
        "warning",
        f"{KV} preempted requests",
        "{{ $value | printf \"%.0f\" }} requests preempted in 5 minutes for lack of KV cache space: their work is recomputed "
        "(or swapped), which costs latency. Only V0 prints preemptions; on V1 see VllmKvCacheFullRequestsWaiting.",
        "Preemption means the KV cache filled mid-generation. Add KV capacity (see VllmKvCacheSaturated) or lower "
        "--max-num-seqs so fewer requests start at once.\n"
        f"On V1, where Prometheus scrapes vLLM too: {VLLM_PREEMPTIONS_JOIN}\n",
    ),
    Rule(
        "VllmEngineStartupFailed", "vllm-obs-engine",
        with_model(fired(f'vllm_obs_errors_total{{kind=~"{STARTUP_KINDS}"}}', "10m"), "engine, kind"), ">", 0,
        "critical",
        f"{KV}: {{{{ $labels.kind }}}}",
        "The engine failed to start: {{ $labels.kind }} ({{ $value | printf \"%.0f\" }} in 10 minutes).",
        "insufficient_kv_cache: the KV needed for one max_model_len request is above the budget: lower --max-model-len or "
        "raise --gpu-memory-utilization (vllm-obs plan shows the largest length that fits).\n"
        "no_kv_cache_memory: weights and activations leave nothing for the KV cache: more GPUs (tensor parallel), a "
        "quantized model, or higher utilization.\n"
        "engine_startup_failed: read the traceback above the failure in the container log (vllm-obs analyze shows the errors in order).\n",
    ),
    Rule(
        "VllmCudaOutOfMemory", "vllm-obs-engine",
        with_model(fired('vllm_obs_errors_total{kind="cuda_oom"}', "10m"), "engine, kind"), ">", 0, "critical",
        f"{KV}: CUDA out of memory",
        "torch raised CUDA out of memory ({{ $value | printf \"%.0f\" }} in 10 minutes), at warm-up or while serving.",
        "Lower --gpu-memory-utilization (leave room for activations and other processes), --max-num-seqs or "
        "--max-num-batched-tokens; check nvidia-smi for other processes on the GPU.\n",
    ),
    Rule(
        "VllmEngineFatal", "vllm-obs-engine",
        with_model(fired(f'vllm_obs_errors_total{{kind=~"{FATAL_KINDS}"}}', "10m"), "engine, kind"), ">", 0,
        "critical",
        f"{KV}: {{{{ $labels.kind }}}}",
        "The engine or one of its workers died ({{ $value | printf \"%.0f\" }} in 10 minutes). A clean shutdown is not counted.",
        "Look for the root cause just before the fatal line (CUDA OOM, NCCL errors, a killed worker). The container "
        "usually restarts: see VllmEngineRestarted.\n",
    ),
    Rule(
        "VllmEngineFailed", "vllm-obs-engine",
        with_model('vllm_obs_engine_state{state="failed"}', "state"), ">", 0, "critical",
        f"{KV}: the engine is down (failed)",
        "The current engine start logged a startup failure or a fatal error and has not started again.",
        "See VllmEngineStartupFailed / VllmCudaOutOfMemory / VllmEngineFatal for the cause; `vllm-obs analyze` on the "
        "log lists the errors in order. A clean stop is state stopped and does not fire.\n",
    ),
    Rule(
        "VllmEngineRestarted", "vllm-obs-engine",
        "increase(vllm_obs_engine_starts_total[15m]) > 0 and vllm_obs_engine_starts_total > 1\n"
        "  or (vllm_obs_engine_starts_total > 1 unless vllm_obs_engine_starts_total offset 15m)",
        ">", 0, "info",
        "vLLM engine in {{ $labels.source }} restarted",
        "A new engine start in the last 15 minutes (the first start of a source is not a restart).",
        "A restart loop usually follows a startup failure or an OOM: check VllmEngineStartupFailed / VllmEngineFatal for "
        "the same source.\n",
    ),
    Rule(
        "VllmThroughputFarBelowCeiling", "vllm-obs-engine",
        "vllm_obs_generation_throughput_tokens_per_second / vllm_obs_theoretical_generation_throughput_tokens_per_second\n"
        "  and vllm_obs_requests_running >= 32",
        "<", 0.2, "info",
        f"{KV} decodes at under 20% of its ceiling at high batch",
        "Generation throughput is {{ $value | humanizePercentage }} of the memory-bandwidth/compute ceiling for the running batch.",
        "The ceiling is a roofline, not a promise, but 5x below it at high batch points at something else: long prompts "
        "(prefill-bound, see prompt throughput), CPU-bound scheduling, eager mode (no CUDA graphs), or a slow attention backend.\n",
        for_="15m",
    ),
    # -- the exporter and its sources ----------------------------------------------------------------
    Rule(
        "VllmObsSourceDown", "vllm-obs-exporter",
        "(vllm_obs_source_up * ignoring (reason) group_left (reason) vllm_obs_source_down_reason or ignoring (reason) vllm_obs_source_up)\n"
        '  unless ignoring (reason)'
        f' (vllm_obs_source_down_reason{{reason=~"{NOT_RUNNING}"}} and ignoring (reason, state) vllm_obs_engine_state{{state="stopped"}} == 1)',
        "<", 1, "warning",
        "vllm-obs cannot follow {{ $labels.source }} ({{ $labels.reason }})",
        "The source has been down for 2 minutes: {{ $labels.reason }} (a file missing, unreadable or vanished; a container "
        "not running, container_<status>; docker_daemon_unreachable). A container that stopped after vLLM logged a clean "
        "shutdown is not down.",
        "missing / vanished: check the path or container name (docker ps -a); unreadable: the sidecar's user cannot read "
        "the file (permissions, fsGroup; the sidecar's log names the problem); container_<status>: docker ps -a, docker logs; "
        "docker_daemon_unreachable: the Docker socket. The sidecar retries by itself and counts "
        "vllm_obs_source_reconnects_total.\n",
        for_="2m",
    ),
    Rule(
        "VllmObsNoLinesFromServingEngine", "vllm-obs-exporter",
        'time() - vllm_obs_last_log_line_timestamp_seconds\n  and ignoring (state) vllm_obs_engine_state{state="serving"} == 1',
        ">", NO_LINES_SECONDS, "warning",
        "No log line from the serving engine in {{ $labels.source }} for 30 minutes",
        "The engine was serving and its log has been silent for {{ $value | humanizeDuration }}. A stopped or failed engine "
        "does not fire this.",
        "An idle V1 server prints nothing (no stats line, and access lines only if something calls it): health probes "
        "keep it talking. Otherwise the sidecar lost the log: check its own log and vllm_obs_source_up; a file on a bind "
        "mount may need --poll; a rotated file outside the --file glob is not followed.\n",
    ),
    Rule(
        "VllmObsTargetDown", "vllm-obs-exporter", 'up{job=~".*vllm-obs.*"}', "<", 1, "warning",
        "Prometheus cannot scrape vllm-obs at {{ $labels.instance }}",
        "The sidecar is down or unreachable.",
        "Check the sidecar container/pod and that port 9400 is reachable from Prometheus.\n",
        for_="2m",
    ),
    Rule(
        "VllmObsPipelineErrors", "vllm-obs-exporter", fired("vllm_obs_pipeline_errors_total", "10m"), ">", 0, "warning",
        "vllm-obs failed on a batch of log lines",
        "{{ $value | printf \"%.0f\" }} batches failed in 10 minutes; the pipeline went on, but their lines are not in the metrics.",
        "The sidecar's own log has the traceback (\"pipeline: a batch of N lines from <source> failed\"): report it with "
        "the lines that caused it.\n",
    ),
)


# -- the three files -------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def _dump(doc: object) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=200, allow_unicode=True)


def prometheus_groups() -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for rule in RULES:
        entry: dict = {"alert": rule.alert, "expr": rule.expr}
        if rule.for_ != "0s":
            entry["for"] = rule.for_
        entry["labels"] = {"severity": rule.severity}
        entry["annotations"] = {"summary": rule.summary, "description": rule.description, "runbook": rule.runbook}
        groups.setdefault(rule.group, []).append(entry)
    return [{"name": name, "rules": rules} for name, rules in groups.items()]


def build_alerts() -> str:
    header = (
        "# Generated by deploy/prometheus/rules.py (the one rule table): do not edit by hand.\n"
        "# Every expression reads metrics of vllm_obs/metrics/catalog.py (tests/test_alerts.py checks);\n"
        "# unit tests: alerts_test.yml (make_alerts_test.py), end to end: tests/test_alerts_e2e.py.\n"
    )
    return header + _dump({"groups": prometheus_groups()})


def _grafana_annotation(text: str) -> str:
    # Grafana-managed rules expose the query's value as $values.A.Value, not $value.
    return text.replace("$value ", "$values.A.Value ").replace("$value}", "$values.A.Value}")


def grafana_rule(rule: Rule) -> dict:
    uid = "vllm-obs-" + re.sub(r"(?<!^)(?=[A-Z])", "-", rule.alert.removeprefix("Vllm").removeprefix("Obs")).lower()
    return {
        "uid": uid[:40],
        "title": rule.alert,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 900, "to": 0},
                "datasourceUid": DATASOURCE_UID,
                "model": {
                    "refId": "A",
                    "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
                    "expr": rule.query.strip(),
                    "instant": True,
                    "range": False,
                },
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "datasource": {"type": "__expr__", "uid": "__expr__"},
                    "type": "threshold",
                    "expression": "A",
                    "conditions": [{"evaluator": {"type": GRAFANA_OPS[rule.op], "params": [rule.threshold]}}],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": rule.for_,
        "labels": {"severity": rule.severity},
        "annotations": {k: _grafana_annotation(v) for k, v in (("summary", rule.summary), ("description", rule.description), ("runbook", rule.runbook))},
    }


def build_grafana() -> str:
    header = (
        "# Grafana-managed alert rules, generated by deploy/prometheus/rules.py from the same table as\n"
        "# deploy/prometheus/alerts.yml: do not edit by hand. Query A is the Prometheus rule's value,\n"
        "# threshold C its comparison; tests/test_alerts_e2e.py evaluates both on a real Prometheus.\n"
    )
    groups = []
    for name in dict.fromkeys(rule.group for rule in RULES):
        groups.append({"orgId": 1, "name": name, "folder": "vLLM", "interval": "1m", "rules": [grafana_rule(r) for r in RULES if r.group == name]})
    return header + _dump({"apiVersion": 1, "groups": groups})


def build_operator() -> str:
    header = (
        "# Generated by deploy/prometheus/rules.py (the same rules as ../prometheus/alerts.yml): do not edit by hand.\n"
        "#   kubectl apply -f prometheusrule.yaml\n"
    )
    doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "vllm-obs"}, "spec": {"groups": prometheus_groups()}}
    return header + _dump(doc)


OUTPUTS = {
    ALERTS: build_alerts,
    GRAFANA: build_grafana,
    OPERATOR: build_operator,
    rules_docs.ALERTS_DOC: lambda: rules_docs.build_alerts_doc(RULES),
    rules_docs.OPERATIONS_DOC: lambda: rules_docs.build_operations_doc(RULES),
}


def main(argv: list[str]) -> int:
    stale = [path for path, build in OUTPUTS.items() if not path.exists() or path.read_text() != build()]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(DEPLOY.parent)} is out of date: run python deploy/prometheus/rules.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(OUTPUTS[path]())
        print(f"wrote {path.relative_to(DEPLOY.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
