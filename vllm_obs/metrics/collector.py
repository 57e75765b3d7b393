"""Prometheus collector: fresh metric families from a state snapshot at every scrape.

The only module that imports prometheus_client's metric types. Families are built from the
catalog (`vllm_obs/metrics/catalog.py`), so a name or label set cannot drift from the docs. Register it
on a registry the caller owns (never the global one).
"""

from __future__ import annotations

import platform
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from vllm_obs import __version__
from vllm_obs.metrics.catalog import BY_NAME
from vllm_obs.live.state import State

RESULTS = ("matched", "unmatched", "error")


class _Families:
    """Families by catalog name, created on first use, in catalog order on output."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}

    def add(self, name: str, labels: dict[str, str], value: float) -> None:
        spec = BY_NAME[name]
        family = self._families.get(name)
        if family is None:
            if spec.type == "counter":
                family = CounterMetricFamily(name.removesuffix("_total"), spec.help, labels=spec.labels)
            elif spec.type == "info":
                family = InfoMetricFamily(name.removesuffix("_info"), spec.help, labels=())
            else:
                family = GaugeMetricFamily(name, spec.help, labels=spec.labels)
            self._families[name] = family
        if spec.type == "info":
            family.add_metric([], {k: labels.get(k, "") for k in spec.labels})
        else:
            family.add_metric([labels.get(k, "") for k in spec.labels], value)

    def touch(self, name: str) -> None:
        """Make sure a family exists (self-metrics are exported even before the first line)."""
        spec = BY_NAME[name]
        if name not in self._families and spec.type == "counter":
            self._families[name] = CounterMetricFamily(name.removesuffix("_total"), spec.help, labels=spec.labels)

    def __iter__(self) -> Iterator[Metric]:
        order = {name: i for i, name in enumerate(BY_NAME)}
        return iter(f for _, f in sorted(self._families.items(), key=lambda item: order[item[0]]))


def iter_samples(state: State) -> Iterator[tuple[str, dict[str, str], float]]:
    """Every sample of one scrape as (catalog name, labels, value): the live collector wraps them
    in prometheus_client families, the archive export formats them directly."""
    yield "vllm_obs_build_info", {"version": __version__, "python_version": platform.python_version()}, 1
    for source in state.snapshot():
        name, model = source["source"], source["model"]
        for result in RESULTS:
            yield "vllm_obs_log_lines_total", {"source": name, "result": result}, source["lines"].get(result, 0)
        yield "vllm_obs_source_up", {"source": name}, 1 if source["up"] else 0
        yield "vllm_obs_source_reconnects_total", {"source": name}, source["reconnects"]
        yield "vllm_obs_engine_starts_total", {"source": name}, source["engine_starts"]
        if source["last_line_at"] is not None:
            yield "vllm_obs_last_log_line_timestamp_seconds", {"source": name}, source["last_line_at"]
        yield from source["gauges"]
        if source["info"]:
            yield "vllm_obs_engine_info", source["info"], 1
        for (method, status, path), n in source["http"].items():
            yield "vllm_obs_http_requests_total", {"source": name, "method": method, "status": status, "path": path}, n
        for engine, n in source["stats_lines"].items():
            yield "vllm_obs_stats_lines_total", {"source": name, "model": model, "engine": engine}, n
        for engine in sorted(set(source["stats_lines"]) | set(source["preemptions"]) | {"0"}):
            yield "vllm_obs_preemptions_total", {"source": name, "model": model, "engine": engine}, source["preemptions"].get(engine, 0)
        for (engine, kind), n in source["errors"].items():
            yield "vllm_obs_errors_total", {"source": name, "model": model, "engine": engine, "kind": kind}, n


class StateCollector(Collector):
    def __init__(self, state: State) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        for name in ("vllm_obs_log_lines_total", "vllm_obs_engine_starts_total", "vllm_obs_source_reconnects_total"):
            families.touch(name)
        for name, labels, value in iter_samples(self.state):
            families.add(name, labels, value)
        yield from families
