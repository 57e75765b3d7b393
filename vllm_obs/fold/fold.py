"""The one fold: (context, record) pairs in log order -> engine starts and their facts.

Every rule that turns records into facts lives here, once: when a new engine start begins
(fold/starts.py), which value of a fact wins (fold/facts.py), preemption counting (V1's
per-interval counts summed; V0's cumulative count), a failure echoed by every rank counting
once, V0's separate prefix-cache line joining the stats line before it, a clean shutdown
(and the traceback that follows it) being a stop and not a failure. `analyze` reads the starts
(fold/summary.py); the sidecar's state and the export read the same starts, the latest stats
per engine and the lifetime totals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from vllm_obs.fold.facts import (
    CONFIG_LINE,
    DIRECT,
    ERROR_TEXT,
    INDIRECT,
    PEAKS,
    ROW_FIELDS,
    ROW_HIT,
    SERVER_ARGS,
    AFTER_FAILURE,
    EngineStart,
    theory_inputs,
)
from vllm_obs.fold.starts import StartDetector
from vllm_obs.ingest.timestamps import Timeline
from vllm_obs.parse.parser import file_engine_hint
from vllm_obs.parse.records import (
    CudaGraph,
    CudaGraphMemory,
    DeviceMemoryReport,
    EngineConfig,
    EngineInit,
    ErrorEvent,
    HttpAccess,
    KvCacheBlocks,
    KvCacheSize,
    LineContext,
    MaxConcurrency,
    MemoryProfile,
    ModelInfo,
    ModelWeights,
    Preemption,
    PrefixCacheHit,
    Record,
    ServerArgs,
    Shutdown,
    SpecDecode,
    Stats,
    VersionInfo,
    field_names,
)

# "Auto-fit max_model_len: reduced from A to B" (--max-model-len -1): the length the start
# serves wins over the config line's (which says -1 or the model's full length).
AUTO_FIT = -1

# Engine config line fields that map to contract keys of the same name.
CONFIG_KEYS = (
    "vllm_version",
    "model",
    "served_model_name",
    "dtype",
    "max_model_len",
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "data_parallel_size",
    "quantization",
    "kv_cache_dtype",
)
_ARGS_DETAILS = ("enable_prefix_caching", "block_size", "max_num_seqs", "max_num_batched_tokens", "kv_cache_memory_bytes")
# Stats record fields the sidecar exports as gauges (see metrics/catalog.py).
LIVE_STATS_FIELDS = tuple(f.name for f in fields(Stats) if f.name in ROW_FIELDS and f.name != "engine_index")
_LIVE_VALUES = attrgetter(*LIVE_STATS_FIELDS)
_ROW_VALUES = attrgetter(*ROW_FIELDS)
# Engine labels beyond this many (a data-parallel fleet of 1,000, or junk) share "other".
MAX_ENGINES = 64
OTHER_ENGINE = "other"
AGGREGATED_ENGINE = "all"
_CHAINED_KINDS = frozenset({"engine_fatal", "worker_died"})  # "N Engines Aggregated:" lines: the sum over engines, not engine 0


def _v1_only_version(version: str | None) -> bool:
    """vLLM 0.11.0 removed V0: every later release runs V1."""
    parts = (version or "").split(".")
    try:
        return len(parts) >= 2 and (int(parts[0]), int(parts[1].split("+")[0].split("r")[0])) >= (0, 11)
    except ValueError:
        return False


def _process_engine_hint(context: LineContext) -> str | None:
    process = context.process or ""
    if process.startswith("VllmWorkerProcess"):
        return "v0"
    if process.startswith(("EngineCore", "VllmWorker ", "Worker")):
        return "v1"
    return None


class LiveStats:
    """The latest stats line of one engine, for the sidecar (stale after its TTL). `values` is
    built from the record when first read: most stats lines of an archive never are."""

    __slots__ = ("_record", "_values", "at", "v0")

    def __init__(self, record: Stats, at: float, v0: bool = False) -> None:
        self._record: Stats | None = record
        self._values: dict[str, float] = {}
        self.at = at  # the fold's clock (monotonic in the sidecar, log time in the export)
        self.v0 = v0

    @property
    def values(self) -> dict[str, float]:
        if self._record is not None:
            self._values = {k: v for k, v in zip(LIVE_STATS_FIELDS, _LIVE_VALUES(self._record)) if v is not None}
            self._record = None
        return self._values


@dataclass
class Totals:
    """Counts over the whole life of a source, across engine starts: they never decrease."""

    engine_starts: int = 0
    stats_lines: dict[str, int] = field(default_factory=dict)  # by engine label
    preemptions: dict[str, int] = field(default_factory=dict)
    errors: dict[tuple[str, str], int] = field(default_factory=dict)  # (engine label, kind)
    http: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (method, path, status)
    engine_labels_capped: int = 0  # engine labels beyond MAX_ENGINES, shown as "other"
    _capped: set[str] = field(default_factory=set)


class Fold:
    """Feed (context, record) pairs in log order.

    `keep_history=False` (the sidecar) keeps only the current engine start and no stats rows,
    so memory stays flat however long the log runs. `stats_rows=False` (`analyze --format
    table`) keeps every start but a digest of its stats lines instead of their rows
    (fold/digest.py), also flat.
    """

    def __init__(self, keep_history: bool = True, clock: Callable[[], float] | None = None, stats_rows: bool = True) -> None:
        self.keep_history = keep_history
        self.stats_rows = stats_rows
        self.clock = clock or (lambda: 0.0)
        # Set per input by the caller (see ingest/timestamps.py); without it times stay as printed.
        self.timeline: Timeline | None = None
        self.starts: list[EngineStart] = [EngineStart(0, keep_history, stats_rows)]
        self.detector = StartDetector()
        self.lines = {"matched": 0, "unmatched": 0, "error": 0}
        self.totals = Totals()
        self.latest_stats: dict[str, LiveStats] = {}
        self._counted_current = False
        self._last_fatal: tuple[object, ...] = ()
        self.engines: set[str] = set()  # engine labels seen in this start

    @property
    def current(self) -> EngineStart:
        return self.starts[-1]

    # -- input -----------------------------------------------------------------------------------

    def add_counts(self, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            self.lines[key] = self.lines.get(key, 0) + value

    # The fold is a sink of the input driver (parse/driver.py). A stats record reads no HTTP
    # count and never begins a new start, so counts may come after it (within the batch).
    access_counts_per_batch = True

    def record(self, context: LineContext, record: Record) -> None:
        self.add(context, record)

    def access_counts(self, counts: dict[tuple[str, str, int], int]) -> None:
        self.add_http_counts(counts)

    def line_counts(self, delta: dict[str, int]) -> None:
        self.add_counts(delta)

    def restart(self) -> None:
        """The source restarted (a container `start` event): its next lines are a new start."""
        self._new_start()
        self.detector = StartDetector()

    def add(self, context: LineContext, record: Record) -> bool:
        """Fold one record in; True when it began a new engine start."""
        new_start = self.detector.observe(context, record)
        if new_start:
            self._new_start()
        start = self.current
        if start.started_at is None and not isinstance(record, HttpAccess):
            start.started_at = self._time(context)
        self._apply(start, context, record)
        hint = file_engine_hint(context, record)  # the printing file: a V1-only file, V0's worker.py
        if hint is not None:
            start.set_fact("engine", hint, INDIRECT + 1, context)
        if not self._counted_current and start.facts:
            # A start is counted once it printed a fact (a restart inside the stream, or the
            # first start of the source).
            self._counted_current = True
            self.totals.engine_starts += 1
        return new_start

    def add_http_counts(self, counts: dict[tuple[str, str, int], int]) -> None:
        """Access lines counted by (method, path, status), as `LineParser.scan` hands them over."""
        start = self.current
        by_status = start.http_by_status
        http = self.totals.http
        for key, n in counts.items():
            status = str(key[2])
            by_status[status] = by_status.get(status, 0) + n
            http[key] = http.get(key, 0) + n
        if counts:
            start.serving = True

    def _new_start(self) -> None:
        index = self.current.index + 1
        if self.keep_history:
            self.starts.append(EngineStart(index, stats_rows=self.stats_rows))
        else:
            self.starts = [EngineStart(index, keep_history=False)]
        self.latest_stats = {}
        self.engines = set()
        self._counted_current = False

    # -- the rules, one case per record kind -------------------------------------------------------

    def _apply(self, start: EngineStart, context: LineContext, record: Record) -> None:
        match record:
            case Stats():
                self._stats(start, context, record)
            case HttpAccess():
                self.add_http_counts({(record.method, record.path, record.status): 1})
            case EngineConfig():
                self._engine_config(start, context, record)
            case ServerArgs():
                for key in CONFIG_KEYS[1:] + ("gpu_memory_utilization",):  # the args print no version
                    value = getattr(record, key)
                    if key == "dtype" and value == "auto":
                        continue  # "auto" says nothing about the dtype the engine picked
                    if key == "max_model_len" and value == -1:
                        continue  # --max-model-len -1: auto-fit, the served length comes later
                    start.set_fact(key, list(value) if isinstance(value, tuple) else value, SERVER_ARGS, context)
                for key in _ARGS_DETAILS:
                    start.detail(key, getattr(record, key))
            case VersionInfo():
                start.set_fact("vllm_version", record.vllm_version, DIRECT, context)
                start.set_fact("model", record.model, INDIRECT, context)
                if _v1_only_version(record.vllm_version):
                    start.set_fact("engine", "v1", INDIRECT + 1, context)
            case ModelInfo():
                start.set_fact("max_model_len", record.max_model_len, DIRECT, context)
                if record.auto_fit_max_model_len is not None:
                    start.set_fact("max_model_len", record.auto_fit_max_model_len, AUTO_FIT, context)
                    start.detail("max_model_len_auto_fit_from", record.auto_fit_from_max_model_len)
                    start.detail("max_model_len_auto_fit_kv_cache_memory_gib", record.auto_fit_kv_cache_memory_gib)
                start.detail("architecture", record.architecture)
                start.detail("max_num_batched_tokens", record.max_num_batched_tokens)
            case ModelWeights():
                start.set_fact("model_weights_gib", record.weights_gib, DIRECT, context)
                if record.unit_printed != "GiB" and start.facts.get("model_weights_gib") == record.weights_gib:
                    # vLLM printed "GB" while dividing by 2**30: record the word it used.
                    start.set_fact("weights_unit_printed", record.unit_printed, DIRECT, context)
                start.set_fact("model_load_seconds", record.load_seconds, DIRECT, context)
                self._engine_hint(start, context, None)
            case MemoryProfile():
                start.set_fact("total_gpu_memory_gib", record.total_gpu_memory_gib, DIRECT, context)
                start.set_fact("gpu_memory_utilization", record.gpu_memory_utilization, DIRECT, context)
                start.set_fact("model_weights_gib", record.model_weights_gib, INDIRECT, context)
                start.set_fact("non_torch_memory_gib", record.non_torch_memory_gib, DIRECT, context)
                start.set_fact("activation_peak_gib", record.activation_peak_gib, DIRECT, context)
                start.set_fact("kv_cache_memory_gib", record.kv_cache_memory_gib, DIRECT, context)
                start.detail("requested_memory_gib", record.requested_memory_gib)
                start.detail("peak_torch_memory_gib", record.peak_torch_memory_gib)
                start.detail("memory_profile_seconds", record.profile_seconds)
                start.detail("initial_free_memory_gib", record.initial_free_memory_gib)
                start.detail("non_kv_cache_memory_gib", record.non_kv_cache_memory_gib)
                self._engine_hint(start, context, record.engine)
            case DeviceMemoryReport():
                report = {k: getattr(record, k) for k in field_names(DeviceMemoryReport) if getattr(record, k) is not None}
                start.detail("device_memory_report", report)
                self._engine_hint(start, context, "v1")
            case KvCacheBlocks():
                start.set_fact("gpu_blocks", record.gpu_blocks, DIRECT, context)
                start.set_fact("cpu_blocks", record.cpu_blocks, DIRECT, context)
                if record.overridden_gpu_blocks is not None:  # printed by both engines: no hint
                    start.detail("gpu_blocks_before_override", record.overridden_gpu_blocks)
                    return
                # "# GPU blocks: N" alone is V1 (0.6.4-0.7.3); with "# CPU blocks" or a
                # CUDA/cuda/TPU device word it is V0's executor.
                self._engine_hint(start, context, "v1" if record.cpu_blocks is None and record.device == "GPU" else "v0")
            case KvCacheSize():
                start.set_fact("kv_cache_tokens", record.kv_cache_tokens, DIRECT, context)
                start.set_fact("max_concurrency", record.max_concurrency, DIRECT, context)
                start.set_fact("max_concurrency_tokens_per_request", record.tokens_per_request, DIRECT, context)
                start.detail("kv_cache_tokens_include_host", record.host_offload)
                self._engine_hint(start, context, "v1")
            case MaxConcurrency():
                start.set_fact("max_concurrency", record.max_concurrency, DIRECT, context)
                start.set_fact("max_concurrency_tokens_per_request", record.tokens_per_request, DIRECT, context)
            case CudaGraph():
                seconds = int(record.seconds) if record.seconds.is_integer() else record.seconds
                start.set_fact("cuda_graph_seconds", seconds, DIRECT, context)
                start.set_fact("cuda_graph_gib", record.gib, DIRECT, context)
            case EngineInit():
                start.detail("engine_init_seconds", record.seconds)
                start.detail("compilation_seconds", record.compilation_seconds)
            case PrefixCacheHit():
                self._prefix_cache_hit(start, context, record)
            case SpecDecode():
                start.details["spec_decode_lines"] = start.details.get("spec_decode_lines", 0) + 1
                if record.mean_acceptance_length is not None:
                    start.details["spec_decode_mean_acceptance_length"] = record.mean_acceptance_length
                if record.acceptance_rate_pct is not None:
                    start.details["spec_decode_acceptance_rate_pct"] = record.acceptance_rate_pct
            case Preemption():
                self._preemption(start, context, record)
            case ErrorEvent():
                self._error(start, context, record)
            case CudaGraphMemory():
                start.detail("cuda_graph_pool_actual_gib", record.actual_gib)
                start.detail("cuda_graph_pool_estimated_gib", record.estimated_gib)
                start.detail("gpu_memory_utilization_without_graph_profiling", record.equivalent_utilization_without_profiling)
                start.detail("gpu_memory_utilization_suggested_with_graph_profiling", record.suggested_utilization)
                start.set_fact("gpu_memory_utilization", record.gpu_memory_utilization, INDIRECT, context)
                self._engine_hint(start, context, "v1")
            case Shutdown():
                start.stop(record.reason, record.signal, self._time(context))

    def _engine_config(self, start: EngineStart, context: LineContext, record: EngineConfig) -> None:
        for key in CONFIG_KEYS:
            start.set_fact(key, getattr(record, key), CONFIG_LINE, context)
        start.detail("enable_prefix_caching", record.enable_prefix_caching)
        if record.continued:  # the rest of a wrapped config line: same start, more keys
            if record.complete:
                start.details.pop("engine_config_line_cut", None)
            return
        start.set_fact("engine", record.engine, CONFIG_LINE, context)
        start.detail("enforce_eager", record.enforce_eager)
        if not record.complete:
            start.detail("engine_config_line_cut", True)

    def _engine_label(self, context: LineContext, record: Stats | None = None) -> str:
        if record is not None and record.engines_aggregated is not None:
            return AGGREGATED_ENGINE
        index = record.engine_index if record is not None and record.engine_index is not None else (context.dp_rank or 0)
        label = str(index)
        if label not in self.engines:
            if len(self.engines) >= MAX_ENGINES:
                capped = self.totals._capped
                if label not in capped and len(capped) < 10_000:
                    capped.add(label)
                    self.totals.engine_labels_capped += 1
                return OTHER_ENGINE
            self.engines.add(label)
        return label

    def _stats(self, start: EngineStart, context: LineContext, record: Stats) -> None:
        start.serving = True
        if self.keep_history:
            row = _ROW_VALUES(record) + (self._time(context),)
            start.stats_rows.append(row)
            peaks = start.peaks
            for key, index in PEAKS:
                value = row[index]
                if value is not None and (key not in peaks or value > peaks[key]):
                    peaks[key] = value
        start.last_stats_v0 = record.engine_format == "v0"
        engine = self._engine_label(context, record)
        totals = self.totals
        totals.stats_lines[engine] = totals.stats_lines.get(engine, 0) + 1
        if record.preemptions and record.preemptions > 0:
            start.preemptions += record.preemptions
            totals.preemptions[engine] = totals.preemptions.get(engine, 0) + record.preemptions
        self.latest_stats[engine] = LiveStats(record, self.clock(), start.last_stats_v0)
        for part in record.unknown_parts:
            start.unknown_stats_parts[part] = start.unknown_stats_parts.get(part, 0) + 1
        start.set_fact("engine", record.engine_format, INDIRECT, context)

    def _prefix_cache_hit(self, start: EngineStart, context: LineContext, record: PrefixCacheHit) -> None:
        # V0 prints it right after the stats line it belongs to.
        if not start.last_stats_v0:
            return
        if start.stats_rows and start.stats_rows[-1][ROW_HIT] is None:
            row = start.stats_rows[-1]
            start.stats_rows[-1] = row[:ROW_HIT] + (record.gpu_pct,) + row[ROW_HIT + 1:]
        live = self.latest_stats.get(self._engine_label(context))
        if live is not None and live.v0:
            live.values.setdefault("prefix_cache_hit_pct", record.gpu_pct)

    def _preemption(self, start: EngineStart, context: LineContext, record: Preemption) -> None:
        engine = self._engine_label(context)
        if start.add_error("preemption", record.message, self._time(context)):
            key = (engine, "preemption")
            self.totals.errors[key] = self.totals.errors.get(key, 0) + 1
        if record.cumulative_total is None:
            delta = 1
        else:  # V0 logs the 1st, 51st, 101st ... preemption with the running total
            delta = max(0, record.cumulative_total - start.v0_cumulative_preemptions)
            start.v0_cumulative_preemptions = max(start.v0_cumulative_preemptions, record.cumulative_total)
        start.preemptions += delta
        self.totals.preemptions[engine] = self.totals.preemptions.get(engine, 0) + delta
        self._engine_hint(start, context, "v0")

    def _error(self, start: EngineStart, context: LineContext, record: ErrorEvent) -> None:
        if (start.stop_reason not in (None, AFTER_FAILURE) and record.error_kind == "engine_fatal"
                and "unexpectedly" not in record.message):
            # The traceback a clean shutdown prints ("AsyncLLM output_handler failed",
            # "EngineDeadError") after vLLM's own "[shutdown]" lines: part of the stop. An engine
            # that "died unexpectedly" is a failure, whatever came before.
            start.details["errors_during_stop"] = start.details.get("errors_during_stop", 0) + 1
            return
        if record.error_kind in _CHAINED_KINDS:
            # One traceback prints several fatal lines from one logger call (same process, same
            # stamp): "AsyncLLM output_handler failed." then the EngineDeadError it ends with.
            where = (record.error_kind, context.process, context.pid, context.outer_time or context.log_time)
            chained = where == self._last_fatal and (context.pid is not None or where[3] is not None)
            self._last_fatal = where
            if chained:
                return
        if start.add_error(record.error_kind, record.message, self._time(context)):
            key = (self._engine_label(context), record.error_kind)
            self.totals.errors[key] = self.totals.errors.get(key, 0) + 1
        start.set_fact("max_model_len", record.max_model_len, ERROR_TEXT, context)
        start.set_fact("kv_cache_memory_gib", record.kv_cache_memory_gib, ERROR_TEXT, context)
        start.detail("kv_cache_gib_needed_for_max_model_len", record.kv_cache_needed_gib)
        start.detail("estimated_max_model_len", record.estimated_max_model_len)
        start.detail("kv_cache_tokens_capacity", record.kv_cache_tokens)
        if record.free_memory_gib is not None:
            start.detail("free_gpu_memory_on_startup_gib", record.free_memory_gib)
            start.detail("total_gpu_memory_reported_gib", record.total_gpu_memory_gib)
        self._engine_hint(start, context, record.engine)

    def _engine_hint(self, start: EngineStart, context: LineContext, engine: str | None) -> None:
        start.set_fact("engine", engine or _process_engine_hint(context), INDIRECT + 1, context)

    def _time(self, context: LineContext) -> str | None:
        """ISO 8601 UTC when the time can be resolved, else the stamp as printed."""
        if self.timeline is not None:
            text = self.timeline.iso(context)
            if text is not None:
                return text
        return context.outer_time or context.log_time

    # -- views -----------------------------------------------------------------------------------

    def current_theory_inputs(self) -> dict[str, Any]:
        start = self.current
        return theory_inputs(start.resolved_facts(), start.details)

