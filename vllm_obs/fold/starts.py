"""When does a log begin a new engine start?

vLLM prints its startup sequence once per engine start, in order: the API server's version
banner and args, the engine config line, the weights, the memory profile and KV cache sizing,
then serving (stats lines). A startup line whose phase is not beyond what the current start has
already reached begins a new start: a container restart, a crash loop, or two engines in one
stream. Copies of a line from other tensor- or data-parallel ranks are not starts.
The fold (fold/fold.py) applies this one rule for `analyze`, the sidecar and the export.
"""

from __future__ import annotations

from vllm_obs.parse.records import (
    CudaGraph,
    DeviceMemoryReport,
    EngineConfig,
    KvCacheBlocks,
    KvCacheSize,
    LineContext,
    MaxConcurrency,
    MemoryProfile,
    ModelWeights,
    Record,
    ServerArgs,
    Stats,
    VersionInfo,
)

PHASE_VERSION, PHASE_ARGS, PHASE_CONFIG, PHASE_WEIGHTS, PHASE_CAPACITY, PHASE_SERVING = 0, 1, 2, 3, 4, 9


def is_rank_zero(context: LineContext) -> bool:
    """True for rank 0 / the driver; False for the copies other ranks print of the same line."""
    if context.rank not in (None, 0) or context.dp_rank not in (None, 0):
        return False
    # V0 tensor-parallel workers are ranks 1..N-1; the driver (rank 0) is untagged.
    return not (context.process or "").startswith("VllmWorkerProcess")


class StartDetector:
    def __init__(self) -> None:
        self.phase = -1
        self.config_dp_ranks: set[int | None] = set()
        self.records_in_start = 0
        self.latest_time = ""  # the latest stamp seen (outer RFC 3339, else vLLM's MM-DD HH:MM:SS)

    def observe(self, context: LineContext, record: Record) -> bool:
        """Note a record; True when it is the first record of a new engine start."""
        new_start = False
        match record:
            case EngineConfig():
                if record.continued:
                    return False
                dp_rank = context.dp_rank
                # The banner and args come before the config line; other DP engines print their own.
                new_start = dp_rank in self.config_dp_ranks or (self.phase > PHASE_CONFIG and dp_rank in (None, 0))
                phase = PHASE_CONFIG
                self.config_dp_ranks.add(dp_rank)
            case VersionInfo():
                phase = PHASE_VERSION
                new_start = record.vllm_version is not None and self.phase >= phase
            case ServerArgs():
                phase = PHASE_ARGS
                new_start = self.phase >= phase
            case ModelWeights():
                phase = PHASE_WEIGHTS
                new_start = is_rank_zero(context) and self.phase >= phase
            case MemoryProfile() | DeviceMemoryReport() | KvCacheBlocks() | KvCacheSize() | MaxConcurrency() | CudaGraph():
                phase = PHASE_CAPACITY
            case Stats():
                phase = PHASE_SERVING
            case _:
                phase = -1
        # A log never goes back in time; an excerpt pasted out of order does: a startup line
        # stamped earlier the same day than what the start already printed is that start's.
        stamp = context.outer_time or context.log_time or ""
        latest = self.latest_time
        earlier = bool(stamp) and stamp < latest and len(stamp) == len(latest) and stamp[:5] == latest[:5]
        new_start = new_start and self.records_in_start > 0 and not earlier
        if stamp and (not latest or len(stamp) != len(latest) or stamp > latest):
            self.latest_time = stamp
        if new_start:
            self.phase = -1
            self.config_dp_ranks = {context.dp_rank} if isinstance(record, EngineConfig) else set()
            self.records_in_start = 0
            self.latest_time = stamp
        if phase > self.phase:
            self.phase = phase
        self.records_in_start += 1
        return new_start
