"""The sidecar's state: what every followed source has said, ready to be scraped.

One writer (the pipeline that reads the sources) calls `apply`, `add_http_counts`,
`add_line_counts`, `set_up`...; scrapes call `snapshot`, which copies under the lock. Rules:

- Startup facts (weights, KV budget/blocks/tokens, concurrency, config) hold until the next
  engine start replaces them (the summary's priority rules decide between duplicate lines).
- Periodic stats go stale: vLLM stops printing the stats line when idle, so a stats gauge older
  than `stats_ttl_seconds` is dropped from scrapes ("no line" means idle, not "last value").
- Counters only grow: engine restarts do not reset them (they count what this sidecar read).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vllm_obs.parse.records import ErrorEvent, LineContext, Preemption, PrefixCacheHit, Record, Stats
from vllm_obs.fold.summary import Summarizer, theory_facts

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

# Stats record field -> (metric name, scale to the metric's unit).
_STATS_GAUGES = (
    ("prompt_tps", "vllm_obs_prompt_throughput_tokens_per_second", 1.0),
    ("generation_tps", "vllm_obs_generation_throughput_tokens_per_second", 1.0),
    ("running", "vllm_obs_requests_running", 1.0),
    ("waiting", "vllm_obs_requests_waiting", 1.0),
    ("swapped", "vllm_obs_requests_swapped", 1.0),
    ("gpu_kv_usage_pct", "vllm_obs_kv_cache_usage_ratio", 0.01),
    ("cpu_kv_usage_pct", "vllm_obs_cpu_kv_cache_usage_ratio", 0.01),
    ("prefix_cache_hit_pct", "vllm_obs_prefix_cache_hit_ratio", 0.01),
)
GIB = 1 << 30
MAX_SEEN_ERRORS = 10_000
# Summary fact -> (metric name, scale).
_FACT_GAUGES = (
    ("model_weights_gib", "vllm_obs_model_weights_bytes", GIB),
    ("model_load_seconds", "vllm_obs_model_load_seconds", 1),
    ("total_gpu_memory_gib", "vllm_obs_gpu_memory_total_bytes", GIB),
    ("gpu_memory_utilization", "vllm_obs_gpu_memory_utilization_ratio", 1),
    ("kv_cache_memory_gib", "vllm_obs_kv_cache_memory_bytes", GIB),
    ("kv_cache_tokens", "vllm_obs_kv_cache_capacity_tokens", 1),
    ("gpu_blocks", "vllm_obs_kv_cache_gpu_blocks", 1),
    ("cpu_blocks", "vllm_obs_kv_cache_cpu_blocks", 1),
    ("max_concurrency", "vllm_obs_max_concurrency_requests", 1),
    ("max_model_len", "vllm_obs_max_model_len_tokens", 1),
    ("cuda_graph_gib", "vllm_obs_cuda_graph_memory_bytes", GIB),
)
_INFO_KEYS = ("vllm_version", "engine", "dtype", "quantization", "kv_cache_dtype", "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size")

# A theory provider turns the current start's facts (the analyze summary's keys) into theory
# gauges: {metric name: value}, plus a decode ceiling for a running batch size.
TheoryProvider = Callable[[dict], "TheoryValues | None"]


@dataclass
class TheoryValues:
    gauges: dict[str, float]
    decode_tokens_per_second: Callable[[int, float | None], float] | None = None  # (running, KV usage ratio)


@dataclass
class EngineStats:
    values: dict[str, float] = field(default_factory=dict)
    received_at: float = 0.0  # monotonic time of the last stats line


@dataclass
class SourceState:
    name: str
    up: bool = True
    reconnects: int = 0
    lines: dict[str, int] = field(default_factory=lambda: {"matched": 0, "unmatched": 0, "error": 0})
    last_line_at: float | None = None  # wall clock
    engine_starts: int = 0
    http: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (method, status, path)
    summarizer: Summarizer = field(default_factory=lambda: Summarizer(keep_history=False))
    stats: dict[str, EngineStats] = field(default_factory=dict)  # by engine index
    stats_lines: dict[str, int] = field(default_factory=dict)
    preemptions: dict[str, int] = field(default_factory=dict)
    errors: dict[tuple[str, str], int] = field(default_factory=dict)  # (engine, kind)
    v0_cumulative_preemptions: int = 0  # within the current start
    # (kind, message) of failures already counted in this start: a failure that every
    # tensor-parallel rank (or a re-raise) prints again is one failure. Bounded.
    seen_errors: set = field(default_factory=set)
    theory: TheoryValues | None = None
    theory_inputs: dict | None = None

    @property
    def facts(self) -> dict:
        """The current start's facts, with the fallbacks theory needs (see summary.theory_facts)."""
        start = self.summarizer.current
        return theory_facts(start.facts, start.details)

    @property
    def model(self) -> str:
        name = self.facts.get("served_model_name") or self.facts.get("model") or ""
        return name[0] if isinstance(name, list) else str(name)


def _engine_of(context: LineContext, record: Record) -> str:
    if type(record) is Stats:
        if record.engine_index is not None:
            return str(record.engine_index)
        if record.engines_aggregated is not None:
            return "aggregated"  # "N Engines Aggregated:": every engine's sum, never engine 0's
    return str(context.dp_rank or 0)


class State:
    def __init__(
        self,
        stats_ttl_seconds: float = 60.0,
        theory_provider: TheoryProvider | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.stats_ttl_seconds = stats_ttl_seconds
        self.theory_provider = theory_provider
        self._monotonic = monotonic
        self._wall = wall
        self._lock = threading.Lock()
        self._sources: dict[str, SourceState] = {}

    # -- writer side ------------------------------------------------------------------------------

    def _source(self, name: str) -> SourceState:
        source = self._sources.get(name)
        if source is None:
            source = self._sources[name] = SourceState(name)
        return source

    def apply(self, source_name: str, context: LineContext, record: Record) -> None:
        with self._lock:
            source = self._source(source_name)
            facts_before = dict(source.facts)
            stop_errors_before = source.summarizer.current.details.get("errors_during_stop", 0)
            started = source.summarizer.add(context, record)
            # The first start is counted when its first fact arrives; later ones when the start
            # rule sees the startup sequence again (a restart inside one stream).
            if started or (source.engine_starts == 0 and source.facts):
                source.engine_starts += 1
                source.v0_cumulative_preemptions = 0
                source.stats.clear()
                source.seen_errors.clear()
                source.theory = source.theory_inputs = None
            engine = _engine_of(context, record)
            kind = type(record)
            if kind is Stats:
                self._apply_stats(source, engine, record)
            elif kind is PrefixCacheHit:
                stats = source.stats.get(engine)
                if stats is not None:  # V0 prints it right after its stats line
                    stats.values["vllm_obs_prefix_cache_hit_ratio"] = record.gpu_pct * 0.01
            elif kind is Preemption:
                source.errors[(engine, "preemption")] = source.errors.get((engine, "preemption"), 0) + 1
                if record.cumulative_total is None:
                    delta = 1
                else:  # V0 logs the 1st, 51st, 101st ... preemption with the running total
                    delta = max(0, record.cumulative_total - source.v0_cumulative_preemptions)
                    source.v0_cumulative_preemptions = max(source.v0_cumulative_preemptions, record.cumulative_total)
                source.preemptions[engine] = source.preemptions.get(engine, 0) + delta
            elif kind is ErrorEvent:
                if not started and source.summarizer.current.details.get("errors_during_stop", 0) > stop_errors_before:
                    pass  # the traceback of a clean stop (the fold's rule): not a failure
                elif (record.error_kind, record.message) not in source.seen_errors:
                    if len(source.seen_errors) >= MAX_SEEN_ERRORS:
                        source.seen_errors.clear()
                    source.seen_errors.add((record.error_kind, record.message))
                    key = (engine, record.error_kind)
                    source.errors[key] = source.errors.get(key, 0) + 1
            if source.facts != facts_before:
                self._update_theory(source)

    def _apply_stats(self, source: SourceState, engine: str, record: Stats) -> None:
        values = {}
        for field_name, metric, scale in _STATS_GAUGES:
            value = getattr(record, field_name)
            if value is not None:
                values[metric] = value * scale
        source.stats[engine] = EngineStats(values, self._monotonic())
        source.stats_lines[engine] = source.stats_lines.get(engine, 0) + 1
        if record.preemptions:
            source.preemptions[engine] = source.preemptions.get(engine, 0) + record.preemptions

    def _update_theory(self, source: SourceState) -> None:
        if self.theory_provider is None:
            return
        inputs = dict(source.facts)
        if inputs == source.theory_inputs:
            return
        source.theory_inputs = inputs
        try:
            source.theory = self.theory_provider(inputs)
        except Exception:  # noqa: BLE001 - theory is best effort; observed metrics must go on
            source.theory = None

    def add_http_counts(self, source_name: str, counts: dict[tuple[str, str, int], int]) -> None:
        with self._lock:
            http = self._source(source_name).http
            for (method, path, status), n in counts.items():
                key = (method, str(status), path if path in HTTP_PATH_ALLOW_LIST else "other")
                http[key] = http.get(key, 0) + n

    def add_line_counts(self, source_name: str, delta: dict[str, int]) -> None:
        with self._lock:
            source = self._source(source_name)
            for result, n in delta.items():
                source.lines[result] = source.lines.get(result, 0) + n
            if any(delta.values()):
                source.last_line_at = self._wall()

    def set_up(self, source_name: str, up: bool) -> None:
        with self._lock:
            self._source(source_name).up = up

    def reconnected(self, source_name: str) -> None:
        with self._lock:
            self._source(source_name).reconnects += 1

    def engine_restarted(self, source_name: str) -> None:
        """The container restarted (Docker `start` event): its next lines are a new engine start."""
        with self._lock:
            source = self._source(source_name)
            source.engine_starts += 1
            source.summarizer = Summarizer(keep_history=False)
            source.stats.clear()
            source.seen_errors.clear()
            source.v0_cumulative_preemptions = 0
            source.theory = source.theory_inputs = None

    # -- reader side --------------------------------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        """Plain data for one scrape: per source, its labels, gauges, counters."""
        now = self._monotonic()
        out = []
        with self._lock:
            for source in self._sources.values():
                facts = source.facts
                model = source.model
                gauges: list[tuple[str, dict[str, str], float]] = []
                base = {"source": source.name, "model": model}
                engine0 = dict(base, engine="0")
                for key, metric, scale in _FACT_GAUGES:
                    if key in facts:
                        gauges.append((metric, engine0, float(facts[key]) * scale))
                running_by_engine = {}
                for engine, stats in source.stats.items():
                    if now - stats.received_at > self.stats_ttl_seconds:
                        continue  # idle: vLLM stopped printing stats
                    labels = dict(base, engine=engine)
                    for metric, value in stats.values.items():
                        gauges.append((metric, labels, value))
                    running_by_engine[engine] = (
                        stats.values.get("vllm_obs_requests_running"),
                        stats.values.get("vllm_obs_kv_cache_usage_ratio"),
                    )
                if source.theory is not None:
                    for metric, value in source.theory.gauges.items():
                        gauges.append((metric, engine0, value))
                    decode = source.theory.decode_tokens_per_second
                    if decode is not None:
                        for engine, (running, kv_usage) in running_by_engine.items():
                            if running:  # a ceiling for the batch that is running now
                                gauges.append(
                                    (
                                        "vllm_obs_theoretical_generation_throughput_tokens_per_second",
                                        dict(base, engine=engine),
                                        decode(int(running), kv_usage),
                                    )
                                )
                info = None
                if facts:
                    info = dict(engine0, **{("engine_version" if k == "engine" else "version" if k == "vllm_version" else k): str(facts[k]) for k in _INFO_KEYS if k in facts})
                out.append(
                    {
                        "source": source.name,
                        "model": model,
                        "up": source.up,
                        "reconnects": source.reconnects,
                        "lines": dict(source.lines),
                        "last_line_at": source.last_line_at,
                        "engine_starts": source.engine_starts,
                        "http": dict(source.http),
                        "gauges": gauges,
                        "info": info,
                        "stats_lines": dict(source.stats_lines),
                        "preemptions": dict(source.preemptions),
                        "errors": dict(source.errors),
                    }
                )
        return out
