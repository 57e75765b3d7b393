"""What one engine start logged: its facts, stats, failures, counts, and how it ended.

`EngineStart` is filled by the fold (`fold/fold.py`) and read by the `analyze` summary, the
sidecar's state and the export. Which value wins when a fact is printed more than once:
- the more direct source: the engine config line over the server args over other mentions;
  "Loading model weights took" over the memory profile's "model weights take";
- then rank 0 (or the untagged driver) over other tensor/data-parallel ranks;
- then the first occurrence.
Data-parallel engines each size their own KV cache: those facts are also kept per engine, and
a start names one server-wide KV figure only when every engine printed the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vllm_obs.fold.starts import is_rank_zero
from vllm_obs.parse.records import LineContext

if TYPE_CHECKING:
    from vllm_obs.fold.digest import StatsDigest

# Source priorities (lower wins).
CONFIG_LINE, SERVER_ARGS, DIRECT, INDIRECT, ERROR_TEXT = 0, 1, 2, 3, 4

# Facts each data-parallel engine computes for itself.
PER_ENGINE_KEYS = frozenset({"kv_cache_memory_gib", "gpu_blocks", "cpu_blocks", "kv_cache_tokens", "max_concurrency"})

# Error kinds that mean the engine is not serving (preemption is load, not failure).
FAILURE_KINDS = frozenset(
    {"insufficient_kv_cache", "no_kv_cache_memory", "cuda_oom", "engine_startup_failed", "engine_fatal", "worker_died"}
)
AFTER_FAILURE = "after failure"  # the stop reason of a server going down after a crash
# Engine states, in the order the sidecar exports them.
ENGINE_STATES = ("starting", "serving", "stopped", "failed")

# A stats row is a compact tuple (an archive has tens of thousands): the contract's keys, the
# engine index, the parts the contract has no key for, then the time.
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
EXTRA_STATS_KEYS = (
    "preemptions", "deferred", "external_prefix_cache_hit_pct", "mm_cache_hit_pct",
    "engines_aggregated", "corrupted", "kv_fetch_waiting", "kv_fetch_in_progress", "kv_fetch_completed",
)
ROW_FIELDS = STATS_KEYS + ("engine_index",) + EXTRA_STATS_KEYS
ROW_ENGINE = len(STATS_KEYS)
ROW_HIT = STATS_KEYS.index("prefix_cache_hit_pct")
ROW_AGGREGATED = ROW_FIELDS.index("engines_aggregated")
PEAKS = tuple(
    (f"peak_{key}", STATS_KEYS.index(key)) for key in ("gpu_kv_usage_pct", "waiting", "running", "generation_tps", "prompt_tps")
)
MAX_SEEN_ERRORS = 10_000


def _rank_priority(context: LineContext) -> int:
    """0 for rank 0 / the driver process, 1 for other ranks (their copies of the same line)."""
    return 0 if is_rank_zero(context) else 1


class EngineStart:
    """Everything one engine start logged."""

    def __init__(self, index: int, keep_history: bool = True, stats_rows: bool = True) -> None:
        from vllm_obs.fold.digest import StatsDigest  # (digest.py builds on this module's row layout)

        self.index = index
        self.keep_history = keep_history  # False (sidecar): no stats rows, no error list
        self.facts: dict[str, Any] = {}
        self._priority: dict[str, tuple[int, int]] = {}
        self.by_engine: dict[int, dict[str, Any]] = {}  # data-parallel engine -> its own KV facts
        self.details: dict[str, Any] = {}
        # Every stats line's row, or (stats_rows=False) a digest of them in constant memory.
        self.stats_rows: list[tuple[Any, ...]] | StatsDigest = [] if stats_rows else StatsDigest()
        self.peaks: dict[str, float] = {}
        self.errors: list[dict[str, str]] = []
        self.error_times: list[str | None] = []
        self._seen_errors: set[tuple[str, str]] = set()
        self.failed = False
        self.serving = False
        self.started_at: str | None = None
        self.stopped_at: str | None = None
        self.stop_reason: str | None = None
        self.http_by_status: dict[str, int] = {}
        self.preemptions = 0
        self.v0_cumulative_preemptions = 0
        self.unknown_stats_parts: dict[str, int] = {}
        self.last_stats_v0 = False

    # -- facts -------------------------------------------------------------------------------------

    def set_fact(self, key: str, value: Any, source: int, context: LineContext) -> None:
        if value is None:
            return
        current = self._priority.get(key)
        if current is not None and current <= (source, 0) and key not in PER_ENGINE_KEYS:
            return  # already set at least as well as any line of this source can (the stats line's hint, each time)
        priority = (source, _rank_priority(context))
        if current is None or priority < current:
            self.facts[key] = value
            self._priority[key] = priority
        if key in PER_ENGINE_KEYS and context.dp_rank is not None:
            self.by_engine.setdefault(context.dp_rank, {}).setdefault(key, value)

    def detail(self, key: str, value: Any) -> None:
        if value is not None and key not in self.details:
            self.details[key] = value

    def add_error(self, kind: str, message: str, time: str | None) -> bool:
        """Note a failure; False when it is the same failure again (echoed by another rank or
        re-raised), which counts once."""
        key = (kind, message)
        if key in self._seen_errors:
            return False
        if len(self._seen_errors) >= MAX_SEEN_ERRORS:
            self._seen_errors.clear()  # bounded: a log of endless distinct failures
        self._seen_errors.add(key)
        if kind in FAILURE_KINDS:
            self.failed = True
        if self.keep_history:
            self.errors.append({"kind": kind, "message": message})
            self.error_times.append(time)
        return True

    def stop(self, reason: str, signal: str | None, time: str | None) -> None:
        """A step of a clean stop; the first one dates it. A start that had already failed stops
        "after failure"; a named signal says more than the first step's words."""
        if self.stopped_at is None:
            self.stopped_at = time
        if self.failed:
            self.stop_reason = AFTER_FAILURE
        elif signal is not None or self.stop_reason is None:
            self.stop_reason = reason

    @property
    def state(self) -> str:
        """starting, serving, stopped (a clean shutdown was logged) or failed."""
        if self.failed:
            return "failed"  # also when it then stopped: "after failure"
        if self.stop_reason is not None:
            return "stopped"
        return "serving" if self.serving else "starting"

    def resolved_facts(self) -> dict[str, Any]:
        """The facts, without a server-wide KV figure that data-parallel engines disagree on."""
        disputed = self.disputed_keys()
        return {k: v for k, v in self.facts.items() if k not in disputed} if disputed else self.facts

    def disputed_keys(self) -> set[str]:
        if len(self.by_engine) < 2:
            return set()
        out = set()
        for key in PER_ENGINE_KEYS:
            values = {facts[key] for facts in self.by_engine.values() if key in facts}
            if len(values) > 1:
                out.add(key)
        return out

    def all_details(self) -> dict[str, Any]:
        details = dict(self.details)
        for key, _index in PEAKS:
            if key in self.peaks:
                details[key] = self.peaks[key]
        if self.disputed_keys():
            details["kv_cache_by_engine"] = {str(k): dict(v) for k, v in sorted(self.by_engine.items())}
        return details

    def is_empty(self) -> bool:
        return not (self.facts or self.stats_rows or self.errors or self.http_by_status or self.details or self.stop_reason)


def theory_inputs(facts: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    """An engine start's facts as theory needs them: the GPU total from V1's device memory report
    (or a startup failure) when no memory profile printed it, and the block size from the args."""
    out = dict(facts)
    if "total_gpu_memory_gib" not in out:
        report = details.get("device_memory_report") or {}
        total = report.get("total_gpu_memory_gib") or details.get("total_gpu_memory_reported_gib")
        if total:
            out["total_gpu_memory_gib"] = total
    if "block_size" not in out and details.get("block_size"):
        out["block_size"] = details["block_size"]
    return out
