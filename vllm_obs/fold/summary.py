"""Fold parsed records into the `vllm-obs analyze --format json` summary.

The contract (../shared/real-logs/README.md): top-level scalars hold only values vLLM printed
(absent otherwise) under the labelled names; `stats` lists every periodic stats line in order
with the labelled keys; `errors` lists failures with a `kind` from a fixed vocabulary and a short
`message`. Facts the contract has no name for live under `details`; each engine start is also
summarised on its own under `starts`.

Which value wins when a fact is printed more than once:
- the more direct source: the engine config line over the server args over other mentions;
  "Loading model weights took" over the memory profile's "model weights take";
- then rank 0 (or the untagged driver) over other tensor/data-parallel ranks;
- then the first occurrence.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from vllm_obs.fold.starts import StartDetector, is_rank_zero
from vllm_obs.ingest.timestamps import iso
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
    Shutdown,
    ServerArgs,
    SpecDecode,
    Stats,
    VersionInfo,
)

# Top-level keys in the order they are written.
CONTRACT_KEYS = (
    "vllm_version",
    "engine",
    "model",
    "served_model_name",
    "dtype",
    "quantization",
    "kv_cache_dtype",
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "data_parallel_size",
    "max_model_len",
    "gpu_memory_utilization",
    "total_gpu_memory_gib",
    "model_weights_gib",
    "weights_unit_printed",
    "model_load_seconds",
    "non_torch_memory_gib",
    "activation_peak_gib",
    "kv_cache_memory_gib",
    "gpu_blocks",
    "cpu_blocks",
    "kv_cache_tokens",
    "max_concurrency",
    "max_concurrency_tokens_per_request",
    "cuda_graph_seconds",
    "cuda_graph_gib",
)
STATS_KEYS = (
    "prompt_tps",
    "generation_tps",
    "running",
    "waiting",
    "swapped",
    "gpu_kv_usage_pct",
    "cpu_kv_usage_pct",
    "prefix_cache_hit_pct",
)

# Engine config line fields that map to contract keys of the same name.
_CONFIG_KEYS = (
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

# A stats row: the contract's keys, the engine index, the parts the contract has no key for,
# then the time.
_EXTRA_KEYS = (
    "preemptions", "deferred", "external_prefix_cache_hit_pct", "mm_cache_hit_pct",
    "engines_aggregated", "corrupted", "kv_fetch_waiting", "kv_fetch_in_progress", "kv_fetch_completed",
)
_RECORD_ROW_FIELDS = STATS_KEYS + ("engine_index",) + _EXTRA_KEYS
_ENGINE = len(STATS_KEYS)
_AGGREGATED = _RECORD_ROW_FIELDS.index("engines_aggregated")
_HIT = STATS_KEYS.index("prefix_cache_hit_pct")
_PEAKS = tuple(
    (f"peak_{name}", STATS_KEYS.index(key))
    for name, key in (
        ("gpu_kv_usage_pct", "gpu_kv_usage_pct"),
        ("waiting", "waiting"),
        ("running", "running"),
        ("generation_tps", "generation_tps"),
        ("prompt_tps", "prompt_tps"),
    )
)

# Source priorities (lower wins).
CONFIG_LINE, SERVER_ARGS, DIRECT, INDIRECT, ERROR_TEXT = 0, 1, 2, 3, 4
# "Auto-fit max_model_len: reduced from A to B": what the start serves, over the config line's A.
AUTO_FIT = -1
_FAILURE_KINDS = frozenset({"engine_fatal", "engine_startup_failed", "worker_died", "cuda_oom", "insufficient_kv_cache", "no_kv_cache_memory"})



def _v1_only_version(version: str | None) -> bool:
    """vLLM 0.11.0 removed V0: every later release runs V1."""
    parts = (version or "").split(".")
    try:
        return len(parts) >= 2 and (int(parts[0]), int(parts[1].split("+")[0].split("r")[0])) >= (0, 11)
    except ValueError:
        return False


def _rank_priority(context: LineContext) -> int:
    """0 for rank 0 / the driver process, 1 for other ranks (their copies of the same line)."""
    return 0 if is_rank_zero(context) else 1


def _process_engine_hint(context: LineContext) -> str | None:
    process = context.process or ""
    if process.startswith(("EngineCore", "VllmWorker ", "Worker_", "Worker")) and not process.startswith("VllmWorkerProcess"):
        return "v1"
    if process.startswith("VllmWorkerProcess"):
        return "v0"
    return None


class EngineStart:
    """Everything one engine start logged."""

    def __init__(self, index: int, keep_history: bool = True) -> None:
        self.index = index
        self.keep_history = keep_history  # False (sidecar): no stats rows, no error list
        self.facts: dict[str, Any] = {}
        self._priority: dict[str, tuple[int, int]] = {}
        self.details: dict[str, Any] = {}
        # One compact tuple per stats line (ROW_FIELDS): an archive has tens of thousands of
        # them, and dicts would cost several times the memory.
        self.stats_rows: list[tuple] = []
        self.peaks: dict[str, float] = {}  # details' peak_* values, kept as rows arrive
        self.errors: list[dict] = []
        self.error_times: list[str | None] = []
        self._error_keys: set[tuple[str, str]] = set()
        self.started_at: str | None = None
        self.http_by_status: dict[str, int] = {}
        self.preemptions_total = 0  # V1 per-interval counts, summed
        self.v0_cumulative_preemptions: int | None = None
        self.unknown_stats_parts: dict[str, int] = {}
        self.last_stats_v0 = False
        self.failed = False  # a failure was read (kept in sidecar mode too, where errors are not)

    # -- facts ---------------------------------------------------------------------------------

    def set(self, key: str, value: Any, source: int, context: LineContext) -> None:
        if value is None:
            return
        priority = (source, _rank_priority(context))
        current = self._priority.get(key)
        if current is None or priority < current:
            self.facts[key] = value
            self._priority[key] = priority

    def detail(self, key: str, value: Any) -> None:
        if value is not None and key not in self.details:
            self.details[key] = value

    def add_error(self, kind: str, message: str, time: str | None = None) -> None:
        if not self.keep_history:
            return  # the sidecar counts errors itself and must not grow with them
        key = (kind, message)
        if key in self._error_keys:  # the same failure echoed by another rank or a re-raise
            return
        self._error_keys.add(key)
        self.errors.append({"kind": kind, "message": message})
        self.error_times.append(time)

    def is_empty(self) -> bool:
        return not (self.facts or self.stats_rows or self.errors or self.http_by_status or self.details)


class Summarizer:
    """Feed (context, record) pairs in log order; `summary()` gives the JSON-ready dict."""

    def __init__(self, keep_history: bool = True) -> None:
        """`keep_history=False` (the sidecar) keeps only the current engine start and no stats
        lines, so memory stays flat however long the log runs."""
        self.keep_history = keep_history
        # Set per input by the caller (see timeline.py); without it times stay as vLLM printed them.
        self.resolve_time: Callable[[LineContext], float | None] | None = None
        self.starts: list[EngineStart] = [EngineStart(0, keep_history)]
        self.detector = StartDetector()
        self.lines = {"matched": 0, "unmatched": 0, "error": 0}
        self.sources: list[str] = []

    @property
    def current(self) -> EngineStart:
        return self.starts[-1]

    def add_counts(self, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            self.lines[key] = self.lines.get(key, 0) + value

    def add(self, context: LineContext, record: Record) -> bool:
        """Fold one record in; True when it began a new engine start."""
        new_start = self.detector.observe(context, record)
        if new_start:
            index = self.current.index + 1
            if self.keep_history:
                self.starts.append(EngineStart(index))
            else:
                self.starts = [EngineStart(index, keep_history=False)]
        start = self.current
        # Access lines reach the summary as counts (LineParser.scan), so they do not date a start.
        if start.started_at is None and type(record) is not HttpAccess:
            start.started_at = self._time(context)
        handler = _HANDLERS.get(type(record))
        if handler is not None:
            handler(self, context, record)
        hint = file_engine_hint(context, record)  # the printing file: a V1-only file, V0's worker.py
        if hint is not None:
            start.set("engine", hint, INDIRECT + 1, context)
        return new_start

    # -- one method per record kind -----------------------------------------------------------

    def _version(self, context: LineContext, record: VersionInfo) -> None:
        start = self.current
        start.set("vllm_version", record.vllm_version, DIRECT, context)
        start.set("model", record.model, INDIRECT, context)
        if _v1_only_version(record.vllm_version):
            start.set("engine", "v1", INDIRECT + 1, context)

    def _server_args(self, context: LineContext, record: ServerArgs) -> None:
        start = self.current
        for key in _CONFIG_KEYS[1:] + ("gpu_memory_utilization",):  # the args print no version
            value = getattr(record, key)
            if key == "dtype" and value == "auto":
                continue  # "auto" says nothing about the dtype the engine picked
            if key == "max_model_len" and value == -1:
                continue  # --max-model-len -1: auto-fit, the served length comes later
            if isinstance(value, tuple):
                value = list(value)
            start.set(key, value, SERVER_ARGS, context)
        for key in ("enable_prefix_caching", "block_size", "max_num_seqs", "max_num_batched_tokens", "kv_cache_memory_bytes"):
            start.detail(key, getattr(record, key))

    def _engine_config(self, context: LineContext, record: EngineConfig) -> None:
        start = self.current
        if record.continued:  # the rest of a wrapped config line: same start, more keys
            for key in _CONFIG_KEYS:
                start.set(key, getattr(record, key), CONFIG_LINE, context)
            start.detail("enable_prefix_caching", record.enable_prefix_caching)
            if record.complete:
                start.details.pop("engine_config_line_cut", None)
            return
        start.set("engine", record.engine, CONFIG_LINE, context)
        for key in _CONFIG_KEYS:
            start.set(key, getattr(record, key), CONFIG_LINE, context)
        start.detail("enable_prefix_caching", record.enable_prefix_caching)
        start.detail("enforce_eager", record.enforce_eager)
        if not record.complete:
            start.detail("engine_config_line_cut", True)

    def _model_info(self, context: LineContext, record: ModelInfo) -> None:
        start = self.current
        start.set("max_model_len", record.max_model_len, DIRECT, context)
        if record.auto_fit_max_model_len is not None:
            self._auto_fit(context, record)
        start.detail("architecture", record.architecture)
        start.detail("max_num_batched_tokens", record.max_num_batched_tokens)

    def _weights(self, context: LineContext, record: ModelWeights) -> None:
        start = self.current
        start.set("model_weights_gib", record.weights_gib, DIRECT, context)
        if record.unit_printed != "GiB" and start.facts.get("model_weights_gib") == record.weights_gib:
            # vLLM printed "GB" while dividing by 2**30: record the word it used.
            start.set("weights_unit_printed", record.unit_printed, DIRECT, context)
        start.set("model_load_seconds", record.load_seconds, DIRECT, context)
        self._engine_hint(context, None)

    def _memory_profile(self, context: LineContext, record: MemoryProfile) -> None:
        start = self.current
        start.set("total_gpu_memory_gib", record.total_gpu_memory_gib, DIRECT, context)
        start.set("gpu_memory_utilization", record.gpu_memory_utilization, DIRECT, context)
        start.set("model_weights_gib", record.model_weights_gib, INDIRECT, context)
        start.set("non_torch_memory_gib", record.non_torch_memory_gib, DIRECT, context)
        start.set("activation_peak_gib", record.activation_peak_gib, DIRECT, context)
        start.set("kv_cache_memory_gib", record.kv_cache_memory_gib, DIRECT, context)
        start.detail("requested_memory_gib", record.requested_memory_gib)
        start.detail("peak_torch_memory_gib", record.peak_torch_memory_gib)
        start.detail("memory_profile_seconds", record.profile_seconds)
        start.detail("initial_free_memory_gib", record.initial_free_memory_gib)
        start.detail("non_kv_cache_memory_gib", record.non_kv_cache_memory_gib)
        self._engine_hint(context, record.engine)

    def _device_report(self, context: LineContext, record: DeviceMemoryReport) -> None:
        report = {k: v for k, v in zip(record._fields, record) if v is not None}
        self.current.detail("device_memory_report", report)
        self._engine_hint(context, "v1")

    def _blocks(self, context: LineContext, record: KvCacheBlocks) -> None:
        start = self.current
        start.set("gpu_blocks", record.gpu_blocks, DIRECT, context)
        start.set("cpu_blocks", record.cpu_blocks, DIRECT, context)
        if record.overridden_gpu_blocks is not None:  # printed by both engines
            start.detail("gpu_blocks_before_override", record.overridden_gpu_blocks)
            return
        # "# GPU blocks: N" alone is V1 (0.6.4-0.7.3); with "# CPU blocks" or a CUDA/cuda/TPU
        # device word it is V0's executor.
        self._engine_hint(context, "v1" if record.cpu_blocks is None and record.device == "GPU" else "v0")

    def _kv_size(self, context: LineContext, record: KvCacheSize) -> None:
        start = self.current
        start.set("kv_cache_tokens", record.kv_cache_tokens, DIRECT, context)
        start.set("max_concurrency", record.max_concurrency, DIRECT, context)
        start.set("max_concurrency_tokens_per_request", record.tokens_per_request, DIRECT, context)
        start.detail("kv_cache_tokens_include_host", record.host_offload)
        self._engine_hint(context, "v1")

    def _concurrency(self, context: LineContext, record: MaxConcurrency) -> None:
        start = self.current
        start.set("max_concurrency", record.max_concurrency, DIRECT, context)
        start.set("max_concurrency_tokens_per_request", record.tokens_per_request, DIRECT, context)

    def _cuda_graph(self, context: LineContext, record: CudaGraph) -> None:
        start = self.current
        seconds = int(record.seconds) if record.seconds.is_integer() else record.seconds
        start.set("cuda_graph_seconds", seconds, DIRECT, context)
        start.set("cuda_graph_gib", record.gib, DIRECT, context)

    def _engine_init(self, context: LineContext, record: EngineInit) -> None:
        self.current.detail("engine_init_seconds", record.seconds)
        self.current.detail("compilation_seconds", record.compilation_seconds)

    def _stats(self, context: LineContext, record: Stats) -> None:
        start = self.current
        if self.keep_history:
            row = tuple(getattr(record, key) for key in _RECORD_ROW_FIELDS) + (self._time(context),)
            start.stats_rows.append(row)
            peaks = start.peaks
            for key, index in _PEAKS:
                value = row[index]
                if value is not None and (key not in peaks or value > peaks[key]):
                    peaks[key] = value
        start.last_stats_v0 = record.engine_format == "v0"
        if record.preemptions:
            start.preemptions_total += record.preemptions
        for part in record.unknown_parts:
            start.unknown_stats_parts[part] = start.unknown_stats_parts.get(part, 0) + 1
        start.set("engine", record.engine_format, INDIRECT, context)

    def _prefix_cache_hit(self, context: LineContext, record: PrefixCacheHit) -> None:
        start = self.current
        # V0 prints it right after the stats line it belongs to.
        if start.stats_rows and start.last_stats_v0 and start.stats_rows[-1][_HIT] is None:
            row = start.stats_rows[-1]
            start.stats_rows[-1] = row[:_HIT] + (record.gpu_pct,) + row[_HIT + 1:]

    def _spec_decode(self, context: LineContext, record: SpecDecode) -> None:
        start = self.current
        start.details["spec_decode_lines"] = start.details.get("spec_decode_lines", 0) + 1
        if record.mean_acceptance_length is not None:
            start.details["spec_decode_mean_acceptance_length"] = record.mean_acceptance_length
        if record.acceptance_rate_pct is not None:
            start.details["spec_decode_acceptance_rate_pct"] = record.acceptance_rate_pct

    def _preemption(self, context: LineContext, record: Preemption) -> None:
        start = self.current
        start.add_error("preemption", record.message, self._time(context))
        if record.cumulative_total is not None:
            start.v0_cumulative_preemptions = max(start.v0_cumulative_preemptions or 0, record.cumulative_total)
        self._engine_hint(context, "v0")

    # -- new record kinds (parsing branch; small, separate handlers for the lead's new fold) ------

    def _auto_fit(self, context: LineContext, record: ModelInfo) -> None:
        start = self.current
        start.set("max_model_len", record.auto_fit_max_model_len, AUTO_FIT, context)
        start.detail("max_model_len_auto_fit_from", record.auto_fit_from_max_model_len)
        start.detail("max_model_len_auto_fit_kv_cache_memory_gib", record.auto_fit_kv_cache_memory_gib)

    def _cuda_graph_memory(self, context: LineContext, record: CudaGraphMemory) -> None:
        start = self.current
        start.detail("cuda_graph_pool_actual_gib", record.actual_gib)
        start.detail("cuda_graph_pool_estimated_gib", record.estimated_gib)
        start.detail("gpu_memory_utilization_without_graph_profiling", record.equivalent_utilization_without_profiling)
        start.detail("gpu_memory_utilization_suggested_with_graph_profiling", record.suggested_utilization)
        start.set("gpu_memory_utilization", record.gpu_memory_utilization, INDIRECT, context)
        self._engine_hint(context, "v1")

    def _shutdown(self, context: LineContext, record: Shutdown) -> None:
        start = self.current
        start.detail("stopped_at", self._time(context))
        if start.failed:
            start.details["stop_reason"] = "after failure"  # the server going down after a crash
        elif record.signal is not None or "stop_reason" not in start.details:
            start.details["stop_reason"] = record.reason  # a named signal says more than the first step

    def _error_during_stop(self, record: ErrorEvent) -> bool:
        """True (and counted) for the engine_fatal traceback a clean stop prints after its
        shutdown lines ("AsyncLLM output_handler failed", "EngineDeadError")."""
        start = self.current
        if start.details.get("stop_reason", "after failure") == "after failure":
            return False
        if record.error_kind != "engine_fatal" or "unexpectedly" in record.message:
            return False
        start.details["errors_during_stop"] = start.details.get("errors_during_stop", 0) + 1
        return True

    def _error(self, context: LineContext, record: ErrorEvent) -> None:
        start = self.current
        if self._error_during_stop(record):
            return
        if record.error_kind in _FAILURE_KINDS:
            start.failed = True
        start.add_error(record.error_kind, record.message, self._time(context))
        start.set("max_model_len", record.max_model_len, ERROR_TEXT, context)
        start.set("kv_cache_memory_gib", record.kv_cache_memory_gib, ERROR_TEXT, context)
        start.detail("kv_cache_gib_needed_for_max_model_len", record.kv_cache_needed_gib)
        start.detail("estimated_max_model_len", record.estimated_max_model_len)
        start.detail("kv_cache_tokens_capacity", record.kv_cache_tokens)
        if record.free_memory_gib is not None:
            start.detail("free_gpu_memory_on_startup_gib", record.free_memory_gib)
            start.detail("total_gpu_memory_reported_gib", record.total_gpu_memory_gib)
        self._engine_hint(context, record.engine)

    def _time(self, context: LineContext) -> str | None:
        """ISO 8601 UTC when the time can be resolved, else the stamp as printed."""
        if self.resolve_time is not None:
            seconds = self.resolve_time(context)
            if seconds is not None:
                return iso(seconds)
        return context.outer_time or context.log_time

    def _http(self, context: LineContext, record: HttpAccess) -> None:
        self.add_http_counts({(record.method, record.path, record.status): 1})

    def add_http_counts(self, counts: dict[tuple[str, str, int], int]) -> None:
        """Access lines counted by (method, path, status), as `LineParser.scan` hands them over."""
        by_status = self.current.http_by_status
        for (_method, _path, status), n in counts.items():
            key = str(status)
            by_status[key] = by_status.get(key, 0) + n

    def _engine_hint(self, context: LineContext, engine: str | None) -> None:
        self.current.set("engine", engine or _process_engine_hint(context), INDIRECT + 1, context)

    # -- output ---------------------------------------------------------------------------------

    def summary(self, lazy: bool = False) -> dict:
        """The JSON-ready summary. With `lazy`, the stats lists are LazyLists that build their
        entries as they are written (write_json), so a huge archive is never held twice."""
        starts = [s for s in self.starts if not s.is_empty()]
        out: dict[str, Any] = {}
        for key in CONTRACT_KEYS:
            for start in starts:  # the first start that printed the fact
                if key in start.facts:
                    out[key] = start.facts[key]
                    break
        # Absent rather than empty when the log has none, like every other key of the contract.
        if any(start.stats_rows for start in starts):
            entries = lambda: (_contract_entry(row) for start in starts for row in start.stats_rows)  # noqa: E731
            out["stats"] = LazyList(entries) if lazy else list(entries())
        errors = [error for start in starts for error in start.errors]
        if errors:
            out["errors"] = errors
        details: dict[str, Any] = {}
        for start in starts:
            for key, value in _start_details(start).items():
                details.setdefault(key, value)
        details["preemptions_total"] = sum(_preemptions(s) for s in starts)
        details["http_requests_by_status"] = _merge_counts(s.http_by_status for s in starts)
        details["unknown_stats_parts"] = _merge_counts(s.unknown_stats_parts for s in starts)
        details["engine_starts"] = len(starts)
        details["lines"] = dict(self.lines)
        out["details"] = details
        out["starts"] = [_start_summary(s, lazy) for s in starts]
        return out


class LazyList:
    """A list written element by element (write_json); iterable more than once."""

    def __init__(self, make_iterator: Callable[[], Any]) -> None:
        self._make = make_iterator

    def __iter__(self):
        return iter(self._make())


def write_json(value: Any, out) -> None:
    """Compact JSON, byte for byte what json.dumps(value, separators=(",", ":")) gives for the
    materialized value, streaming LazyLists element by element."""
    dumps = json.dumps
    if isinstance(value, dict):
        out.write("{")
        for i, (key, item) in enumerate(value.items()):
            out.write(("," if i else "") + dumps(key) + ":")
            write_json(item, out)
        out.write("}")
    elif isinstance(value, LazyList):
        out.write("[")
        separator, batch = "", []
        for item in value:
            batch.append(dumps(item, separators=(",", ":")))
            if len(batch) >= 1024:  # fewer, larger writes
                out.write(separator + ",".join(batch))
                separator, batch = ",", []
        if batch:
            out.write(separator + ",".join(batch))
        out.write("]")
    elif isinstance(value, list) and any(isinstance(v, (dict, LazyList)) for v in value):
        out.write("[")
        for i, item in enumerate(value):
            if i:
                out.write(",")
            write_json(item, out)
        out.write("]")
    else:
        out.write(dumps(value, separators=(",", ":")))


def theory_facts(facts: dict, details: dict) -> dict:
    """An engine start's facts as theory needs them: the GPU total from V1's device memory report
    (or a startup failure) when no memory profile printed it, and the block size from the args."""
    out = dict(facts)
    if "total_gpu_memory_gib" not in out:
        total = (details.get("device_memory_report") or {}).get("total_gpu_memory_gib") or details.get("total_gpu_memory_reported_gib")
        if total:
            out["total_gpu_memory_gib"] = total
    if "block_size" not in out and details.get("block_size"):
        out["block_size"] = details["block_size"]
    return out


def _preemptions(start: EngineStart) -> int:
    return max(start.preemptions_total, start.v0_cumulative_preemptions or 0)


def _merge_counts(counts) -> dict[str, int]:
    merged: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            merged[k] = merged.get(k, 0) + v
    return dict(sorted(merged.items()))


def _start_details(start: EngineStart) -> dict[str, Any]:
    details = dict(start.details)
    for key, _index in _PEAKS:
        if key in start.peaks:
            details[key] = start.peaks[key]
    return details


def _contract_entry(row: tuple) -> dict:
    """A stats row as the contract's entry: the labelled keys that vLLM printed."""
    entry = {key: row[i] for i, key in enumerate(STATS_KEYS) if row[i] is not None}
    if row[_ENGINE] is not None:
        entry["engine"] = row[_ENGINE]
    elif row[_AGGREGATED] is not None:  # "N Engines Aggregated:": all engines, not engine 0
        entry["engines_aggregated"] = row[_AGGREGATED]
    return entry


def _start_entry(row: tuple) -> dict:
    """A stats row in a start's summary: the contract's keys, the parts the contract has no key
    for, and the time."""
    entry = _contract_entry(row)
    for i, key in enumerate(_EXTRA_KEYS, start=_ENGINE + 1):
        if row[i] is not None:
            entry[key] = row[i]
    if row[-1]:
        entry["time"] = row[-1]
    return entry


def _start_summary(start: EngineStart, lazy: bool = False) -> dict:
    out: dict[str, Any] = {"index": start.index, "started_at": start.started_at}
    for key in CONTRACT_KEYS:
        if key in start.facts:
            out[key] = start.facts[key]
    entries = lambda: (_start_entry(row) for row in start.stats_rows)  # noqa: E731
    out["stats"] = LazyList(entries) if lazy else list(entries())
    out["errors"] = [dict(error, time=time) if time else dict(error) for error, time in zip(start.errors, start.error_times)]
    details = _start_details(start)
    details["preemptions_total"] = _preemptions(start)
    details["http_requests_by_status"] = dict(sorted(start.http_by_status.items()))
    out["details"] = details
    return out


_HANDLERS = {
    VersionInfo: Summarizer._version,
    ServerArgs: Summarizer._server_args,
    EngineConfig: Summarizer._engine_config,
    ModelInfo: Summarizer._model_info,
    ModelWeights: Summarizer._weights,
    MemoryProfile: Summarizer._memory_profile,
    DeviceMemoryReport: Summarizer._device_report,
    KvCacheBlocks: Summarizer._blocks,
    KvCacheSize: Summarizer._kv_size,
    MaxConcurrency: Summarizer._concurrency,
    CudaGraph: Summarizer._cuda_graph,
    EngineInit: Summarizer._engine_init,
    Stats: Summarizer._stats,
    PrefixCacheHit: Summarizer._prefix_cache_hit,
    SpecDecode: Summarizer._spec_decode,
    Preemption: Summarizer._preemption,
    ErrorEvent: Summarizer._error,
    HttpAccess: Summarizer._http,
    CudaGraphMemory: Summarizer._cuda_graph_memory,
    Shutdown: Summarizer._shutdown,
}
