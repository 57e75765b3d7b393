"""Typed records the parser produces: one per recognised log line.

Records are frozen, slotted dataclasses: immutable, typed for mypy, dispatched with `match` /
`isinstance`. Not pydantic models: the parser is the hot path over archives of millions of
lines, records are built from regex groups the pattern table already typed, and validation
would cost several times the construction (measured here: a frozen slotted dataclass 3.4 µs,
a NamedTuple 1.1 µs, a validated pydantic model more). Each class carries its `kind` (a
ClassVar, the discriminator written to JSON). `LineContext` stays a NamedTuple: it is built for
every record and is plain positional data, not a record.

Units are in the field names. GiB is 2**30 bytes; vLLM printed "GB" for the weights in
versions <= 0.8.2 while dividing by 2**30, so `*_gib` fields always hold GiB and
`unit_printed` records the word vLLM used.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, NamedTuple


class LineContext(NamedTuple):
    """Where a record came from: the envelope around the vLLM message."""

    line_number: int  # 1-based physical line number in its source
    source: str  # file name, container name, "-" for stdin
    outer_time: str | None = None  # RFC 3339 time from Docker/CRI/journald/JSON logging
    log_time: str | None = None  # vLLM's own "MM-DD HH:MM:SS" (no year, container-local)
    level: str | None = None  # INFO, WARNING, ...
    process: str | None = None  # vLLM process tag name: APIServer, EngineCore_DP0, Worker_TP1 ...
    pid: int | None = None
    rank: int | None = None  # tensor-parallel rank, from the process tag or "[rankN]:"
    dp_rank: int | None = None  # data-parallel index, from EngineCore_DPn / Worker_DPn_...
    stream: str | None = None  # stdout / stderr when the envelope says
    # vLLM's "[file.py:N]" file name: an engine hint for the fold (gpu_model_runner.py, core.py,
    # kv_cache_utils.py, core_client.py print only in V1; worker.py's profile, llm_engine.py in V0).
    file: str | None = None


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The "Initializing ... LLM engine (vX) with config: ..." line: one per engine start."""

    kind: ClassVar[str] = "engine_config"
    engine: str | None  # "v0" / "v1"
    vllm_version: str | None = None
    model: str | None = None
    served_model_name: str | None = None
    tokenizer: str | None = None
    dtype: str | None = None
    max_model_len: int | None = None
    tensor_parallel_size: int | None = None
    pipeline_parallel_size: int | None = None
    data_parallel_size: int | None = None
    quantization: str | None = None
    kv_cache_dtype: str | None = None
    enable_prefix_caching: bool | None = None
    enforce_eager: bool | None = None
    complete: bool = True  # False when the line was cut before its last key
    continued: bool = False  # re-parsed with the unprefixed line(s) that continued a wrapped line


@dataclass(frozen=True, slots=True)
class ServerArgs:
    """"non-default args: {...}" (0.9+) or "args: Namespace(...)" (<= 0.8.5)."""

    kind: ClassVar[str] = "server_args"
    model: str | None = None
    served_model_name: str | tuple[str, ...] | None = None
    dtype: str | None = None
    max_model_len: int | None = None
    tensor_parallel_size: int | None = None
    pipeline_parallel_size: int | None = None
    data_parallel_size: int | None = None
    gpu_memory_utilization: float | None = None
    quantization: str | None = None
    kv_cache_dtype: str | None = None
    enable_prefix_caching: bool | None = None
    block_size: int | None = None
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    kv_cache_memory_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """vLLM version (and model) from the server banner or its ASCII logo."""

    kind: ClassVar[str] = "version"
    vllm_version: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Single facts about the model printed at startup."""

    kind: ClassVar[str] = "model_info"
    max_model_len: int | None = None  # "Using max model len N"
    architecture: str | None = None  # "Resolved architecture: Qwen3ForCausalLM"
    max_num_batched_tokens: int | None = None  # "Chunked prefill is enabled with ..."
    # "Auto-fit max_model_len: reduced from A to B ..." / "... full model context length A fits"
    # (--max-model-len -1, 0.20+): the length this start serves, replacing the configured one.
    auto_fit_max_model_len: int | None = None
    auto_fit_from_max_model_len: int | None = None  # A, the model's full length
    auto_fit_kv_cache_memory_gib: float | None = None  # the KV memory it was fitted into


@dataclass(frozen=True, slots=True)
class ModelWeights:
    """"Loading model weights took X GB" / "Model loading took X GiB [memory] and Y seconds"."""

    kind: ClassVar[str] = "model_weights"
    weights_gib: float
    unit_printed: str  # "GB" (means GiB, <= 0.8.2) or "GiB"
    load_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class MemoryProfile:
    """Any part of vLLM's memory profile; the V0 forms span several physical lines."""

    kind: ClassVar[str] = "memory_profile"
    total_gpu_memory_gib: float | None = None
    gpu_memory_utilization: float | None = None
    requested_memory_gib: float | None = None  # total x utilization
    model_weights_gib: float | None = None
    non_torch_memory_gib: float | None = None
    activation_peak_gib: float | None = None
    peak_torch_memory_gib: float | None = None  # 0.6.4 one-line form only
    kv_cache_memory_gib: float | None = None  # the KV budget; negative when nothing is left
    profile_seconds: float | None = None
    engine: str | None = None  # "v0"/"v1": each form is printed by one engine only
    # "Initial free memory X GiB, reserved Y GiB memory for KV Cache as specified by
    # kv_cache_memory_bytes" (0.10.2+): the free memory before loading; Y is the KV budget.
    initial_free_memory_gib: float | None = None
    non_kv_cache_memory_gib: float | None = None  # V1 DEBUG "Total non KV cache memory"


@dataclass(frozen=True, slots=True)
class DeviceMemoryReport:
    """V1 (0.2x+) "Free memory on device (F/T GiB) on startup. ... Current kv cache memory in use"."""

    kind: ClassVar[str] = "device_memory_report"
    free_memory_gib: float
    total_gpu_memory_gib: float
    gpu_memory_utilization: float | None = None
    requested_memory_gib: float | None = None
    consumed_memory_gib: float | None = None  # weights + non-torch
    activation_peak_gib: float | None = None
    cuda_graph_gib: float | None = None
    kv_cache_memory_gib: float | None = None
    # 0.26's wording names the parts instead of "consumed memory (weights + non-torch)".
    model_weights_gib: float | None = None
    non_torch_memory_gib: float | None = None


@dataclass(frozen=True, slots=True)
class KvCacheBlocks:
    """"# GPU blocks: N, # CPU blocks: M" and its platform variants."""

    kind: ClassVar[str] = "kv_cache_blocks"
    gpu_blocks: int | None
    cpu_blocks: int | None = None
    device: str | None = None  # the word vLLM printed: GPU, CUDA, cuda, TPU, ...
    # "Overriding num_gpu_blocks=N with num_gpu_blocks_override=M": gpu_blocks is M, this is N.
    overridden_gpu_blocks: int | None = None


@dataclass(frozen=True, slots=True)
class KvCacheSize:
    """V1 "GPU KV cache size: N tokens" (0.28+ also carries the concurrency)."""

    kind: ClassVar[str] = "kv_cache_size"
    kv_cache_tokens: int
    device: str = "GPU"
    max_concurrency: float | None = None
    tokens_per_request: int | None = None
    host_offload: bool | None = None  # True for "GPU + host KV cache size" (0.32+, CPU offloading): tokens of both


@dataclass(frozen=True, slots=True)
class MaxConcurrency:
    """"Maximum concurrency for N tokens per request: X.XXx"."""

    kind: ClassVar[str] = "max_concurrency"
    max_concurrency: float
    tokens_per_request: int


@dataclass(frozen=True, slots=True)
class CudaGraph:
    """"Graph capturing finished in S secs[, took G GiB]"."""

    kind: ClassVar[str] = "cuda_graph"
    seconds: float
    gib: float | None = None


@dataclass(frozen=True, slots=True)
class EngineInit:
    """"init engine (profile, create kv cache, warmup model) took X seconds|s"."""

    kind: ClassVar[str] = "engine_init"
    seconds: float
    compilation_seconds: float | None = None


# Not frozen, unlike every other record: a busy log makes one Stats per ten lines, and a frozen
# dataclass's __init__ sets each of its 20 fields through object.__setattr__, several times the
# cost of an unfrozen one (benchmarks/bench_stats_line.py). Treat it as immutable all the same;
# it stays hashable by value.
@dataclass(slots=True, unsafe_hash=True)
class Stats:
    """The periodic stats line, parsed part by part (V0 and V1)."""

    kind: ClassVar[str] = "stats"
    engine_format: str  # "v0" (Swapped/Pending) or "v1"
    engine_index: int | None = None  # NNN of "Engine NNN:"
    engines_aggregated: int | None = None  # N of "N Engines Aggregated:"
    prompt_tps: float | None = None
    generation_tps: float | None = None
    running: int | None = None
    waiting: int | None = None  # V1 Waiting, V0 Pending
    swapped: int | None = None
    deferred: int | None = None
    preemptions: int | None = None  # V1: preemptions in this interval
    gpu_kv_usage_pct: float | None = None  # device KV usage (GPU/XPU/... in 0.30+)
    cpu_kv_usage_pct: float | None = None  # V0: CPU swap space usage
    prefix_cache_hit_pct: float | None = None
    external_prefix_cache_hit_pct: float | None = None
    mm_cache_hit_pct: float | None = None
    corrupted: int | None = None
    kv_fetch_waiting: int | None = None
    kv_fetch_in_progress: int | None = None
    kv_fetch_completed: int | None = None
    unknown_parts: tuple[str, ...] = ()  # parts this version of vllm-obs does not know


@dataclass(frozen=True, slots=True)
class PrefixCacheHit:
    """V0's separate "Prefix cache hit rate: GPU: x%, CPU: y%" line after a stats line."""

    kind: ClassVar[str] = "prefix_cache_hit"
    gpu_pct: float
    cpu_pct: float | None = None


@dataclass(frozen=True, slots=True)
class SpecDecode:
    """"SpecDecoding metrics: ..." / V0 "Speculative metrics: ..."."""

    kind: ClassVar[str] = "spec_decode"
    acceptance_rate_pct: float | None = None
    mean_acceptance_length: float | None = None
    accepted_tokens: int | None = None
    drafted_tokens: int | None = None
    accepted_tps: float | None = None
    drafted_tps: float | None = None


@dataclass(frozen=True, slots=True)
class Preemption:
    """V0 WARNING "Sequence group X is preempted by PreemptionMode.M mode ..."."""

    kind: ClassVar[str] = "preemption"
    mode: str  # RECOMPUTE / SWAP
    sequence_group: str
    cumulative_total: int | None = None  # total_num_cumulative_preemption
    message: str = ""


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """A failure or warning worth alerting on."""

    kind: ClassVar[str] = "error"
    error_kind: str  # insufficient_kv_cache, no_kv_cache_memory, cuda_oom, engine_startup_failed,
    #                  engine_fatal, worker_died (preemption has its own record)
    message: str
    max_model_len: int | None = None
    kv_cache_needed_gib: float | None = None
    kv_cache_memory_gib: float | None = None  # the budget the error quotes
    kv_cache_tokens: int | None = None  # V0: tokens the KV cache can hold
    estimated_max_model_len: int | None = None
    total_gpu_memory_gib: float | None = None
    free_memory_gib: float | None = None
    gpu_memory_utilization: float | None = None
    engine: str | None = None  # "v0"/"v1" when the wording is printed by one engine only


@dataclass(frozen=True, slots=True)
class CudaGraphMemory:
    """V1 0.21+ CUDA graph memory profiling: "CUDA graph pool memory: A GiB (actual), B GiB
    (estimated)" and the "... --gpu-memory-utilization=U is equivalent to
    --gpu-memory-utilization=E without CUDA graph memory profiling ... increase ... to S" notice."""

    kind: ClassVar[str] = "cuda_graph_memory"
    actual_gib: float | None = None
    estimated_gib: float | None = None
    gpu_memory_utilization: float | None = None
    equivalent_utilization_without_profiling: float | None = None
    suggested_utilization: float | None = None


@dataclass(frozen=True, slots=True)
class Shutdown:
    """A step of a clean stop: vLLM's "[shutdown] ..." lines (0.26+), "Shutting down FastAPI HTTP
    server." (0.6.2-0.22), "Received KeyboardInterrupt", uvicorn's "Shutting down" / "Finished
    server process [N]". Not a failure: a shutdown traceback that follows belongs to the stop."""

    kind: ClassVar[str] = "shutdown"
    reason: str  # "signal SIGTERM", "keyboard interrupt", "shutdown requested"
    signal: str | None = None  # SIGINT / SIGTERM when the line names it
    step: str = ""  # the line's own words, bounded ("[shutdown] EngineCore: exiting busy loop")


@dataclass(frozen=True, slots=True)
class HttpAccess:
    """A uvicorn access line."""

    kind: ClassVar[str] = "http_access"
    method: str
    path: str  # without the query string
    status: int
    client: str | None = None


Record = (
    EngineConfig
    | ServerArgs
    | VersionInfo
    | ModelInfo
    | ModelWeights
    | MemoryProfile
    | DeviceMemoryReport
    | KvCacheBlocks
    | KvCacheSize
    | MaxConcurrency
    | CudaGraph
    | EngineInit
    | Stats
    | PrefixCacheHit
    | SpecDecode
    | Preemption
    | ErrorEvent
    | Shutdown
    | HttpAccess
    | CudaGraphMemory
)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(record_type: type) -> tuple[str, ...]:
    """The fields of a record class, in declaration order."""
    names = _FIELD_NAMES.get(record_type)
    if names is None:
        names = _FIELD_NAMES[record_type] = tuple(f.name for f in fields(record_type))
    return names


def record_values(record: Record) -> dict[str, Any]:
    """The fields vLLM printed (not None, not empty), in declaration order."""
    out: dict[str, Any] = {}
    for name in field_names(type(record)):
        value = getattr(record, name)
        if value is None or value == ():
            continue
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def record_to_dict(record: Record, context: LineContext | None = None) -> dict[str, Any]:
    """A JSON-ready dict: `kind`, the fields that are set, and the context under `at`."""
    out: dict[str, Any] = {"kind": record.kind}
    out.update(record_values(record))
    if context is not None:
        out["at"] = {k: v for k, v in zip(context._fields, context) if v is not None}
    return out
