"""Samples from the state, by the catalog: the live Prometheus collector and the export's feed.

`iter_samples(state)` gives every sample of one scrape as (catalog name, labels, value); the
live collector wraps them in prometheus_client families (the only module that imports its
metric types), the archive export formats them as OpenMetrics. Which fact, stats field or
theory value feeds a metric is the catalog's; this module only applies the label rules
(closed sets exported at 0, bounded label values). Register the collector on a registry the
caller owns (never the global one).
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from vllm_obs import __version__
from vllm_obs.fold.facts import ENGINE_STATES
from vllm_obs.live.state import SourceSnapshot, State
from vllm_obs.metrics.catalog import (
    BY_NAME,
    DECODE_CEILING,
    DECODE_ESTIMATE,
    ERROR_KINDS,
    FACT_METRICS,
    HTTP_CODE_CLASSES,
    NAMES as N,
    STAT_METRICS,
    THEORY_METRICS,
    family_name,
)

Sample = tuple[str, dict[str, str], float]
RESULTS = ("matched", "unmatched", "error")
# Paths that become a `path` label as they are; anything else is "other" (no unbounded labels).
HTTP_PATH_ALLOW_LIST = frozenset(
    {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
        "/v1/responses",
        "/v1/messages",
        "/v1/rerank",
        "/v1/score",
        "/v1/audio/transcriptions",
        "/v1/audio/translations",
        "/rerank",
        "/score",
        "/pooling",
        "/classify",
        "/tokenize",
        "/detokenize",
        "/invocations",
        "/generate",
        "/health",
        "/ping",
        "/metrics",
        "/version",
        "/load",
    }
)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})
# Engine configuration facts shown as labels of vllm_obs_engine_info.
_INFO_LABELS = (
    ("version", "vllm_version"),
    ("engine_version", "engine"),
    ("dtype", "dtype"),
    ("quantization", "quantization"),
    ("kv_cache_dtype", "kv_cache_dtype"),
    ("tensor_parallel_size", "tensor_parallel_size"),
    ("pipeline_parallel_size", "pipeline_parallel_size"),
    ("data_parallel_size", "data_parallel_size"),
)


def http_labels(method: str, path: str, status: int) -> tuple[str, str, str]:
    """(method, status, path) with every value from a bounded set."""
    return (
        method if method in HTTP_METHODS else "other",
        str(status) if 100 <= status <= 599 else "other",
        path if path in HTTP_PATH_ALLOW_LIST else "other",
    )


def iter_samples(state: State) -> Iterator[Sample]:
    yield N.build_info, {"version": __version__, "python_version": platform.python_version()}, 1
    yield N.pipeline_errors_total, {}, state.pipeline_errors
    yield N.series_dropped_total, {}, state.series_dropped()
    for source in state.snapshot():
        yield from _source_samples(source)


def _source_samples(source: SourceSnapshot) -> Iterator[Sample]:
    name, model = source.name, source.model
    at = {"source": name}
    for result in RESULTS:
        yield N.log_lines_total, {"source": name, "result": result}, source.lines.get(result, 0)
    yield N.source_up, at, 1 if source.up else 0
    if not source.up and source.down_reason:
        yield N.source_down_reason, {"source": name, "reason": source.down_reason}, 1
    yield N.source_reconnects_total, at, source.reconnects
    yield N.engine_starts_total, at, source.engine_starts
    if source.last_line_at is not None:
        yield N.last_log_line_timestamp_seconds, at, source.last_line_at
    if source.engine_state is not None:
        for state in ENGINE_STATES:
            yield N.engine_state, {"source": name, "state": state}, 1 if state == source.engine_state else 0
    # Startup facts: per data-parallel engine where engines size their own KV cache.
    engine0 = {"source": name, "model": model, "engine": "0"}
    for metric in FACT_METRICS:
        by_engine = [(e, f[metric.fact]) for e, f in sorted(source.facts_by_engine.items()) if metric.fact in f]
        if len(by_engine) > 1:
            for engine, value in by_engine:
                yield metric.name, {"source": name, "model": model, "engine": engine}, float(value) * metric.scale
        elif metric.fact in source.facts:
            yield metric.name, engine0, float(source.facts[metric.fact]) * metric.scale
    for engine, values in source.stats.items():
        labels = {"source": name, "model": model, "engine": engine}
        for metric in STAT_METRICS:
            if metric.stat in values:
                yield metric.name, labels, values[metric.stat] * metric.scale
    for metric in THEORY_METRICS:
        if source.theory.get(metric.theory):
            yield metric.name, engine0, float(source.theory[metric.theory]) * metric.scale
    for engine, ceiling in source.decode_ceilings.items():
        yield DECODE_CEILING.name, {"source": name, "model": model, "engine": engine}, ceiling
    for engine, estimate in source.decode_estimates.items():
        yield DECODE_ESTIMATE.name, {"source": name, "model": model, "engine": engine}, estimate
    if source.facts or source.engine_state is not None:
        info = dict(engine0)
        for label, fact in _INFO_LABELS:
            if fact in source.facts:
                info[label] = str(source.facts[fact])
        yield N.engine_info, info, 1
    # Counters: every engine known, every closed label value, from 0.
    for engine in source.engines:
        labels = {"source": name, "engine": engine}
        yield N.stats_lines_total, labels, source.stats_lines.get(engine, 0)
        yield N.preemptions_total, labels, source.preemptions.get(engine, 0)
        for kind in ERROR_KINDS:
            yield N.errors_total, dict(labels, kind=kind), source.errors.get((engine, kind), 0)
    http: dict[tuple[str, str, str], int] = {}
    classes = dict.fromkeys(HTTP_CODE_CLASSES, 0)
    for (method, path, status), n in source.http.items():
        key = http_labels(method, path, status)
        http[key] = http.get(key, 0) + n
        code_class = f"{status // 100}xx"
        if code_class in classes:
            classes[code_class] += n
    for (method, status_label, path), n in sorted(http.items()):
        yield N.http_requests_total, {"source": name, "method": method, "status": status_label, "path": path}, n
    for code_class, n in classes.items():
        yield N.http_responses_total, {"source": name, "code_class": code_class}, n


class _Families:
    """Families by catalog name, created on first use, in catalog order on output."""

    def __init__(self) -> None:
        self._families: dict[str, Any] = {}  # prometheus_client's *MetricFamily

    def add(self, name: str, labels: dict[str, str], value: float) -> None:
        spec = BY_NAME[name]
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = _new_family(name)
        if spec.type == "info":
            family.add_metric([], {k: labels.get(k, "") for k in spec.labels})
        else:
            family.add_metric([labels.get(k, "") for k in spec.labels], value)

    def touch(self, name: str) -> None:
        """Make sure a family exists (self-metrics are exported even before the first line)."""
        if name not in self._families and BY_NAME[name].type == "counter":
            self._families[name] = _new_family(name)

    def __iter__(self) -> Iterator[Metric]:
        order = {name: i for i, name in enumerate(BY_NAME)}
        return iter(f for _, f in sorted(self._families.items(), key=lambda item: order[item[0]]))


def _new_family(name: str) -> Any:
    spec = BY_NAME[name]
    if spec.type == "counter":
        return CounterMetricFamily(family_name(spec), spec.help, labels=spec.labels)
    if spec.type == "info":
        return InfoMetricFamily(family_name(spec), spec.help, labels=())
    return GaugeMetricFamily(name, spec.help, labels=spec.labels)


class StateCollector(Collector):
    def __init__(self, state: State) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        for name in (N.log_lines_total, N.engine_starts_total, N.source_reconnects_total):
            families.touch(name)
        for name, labels, value in iter_samples(self.state):
            families.add(name, labels, value)
        yield from families
