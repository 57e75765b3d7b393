"""When does a log begin a new engine start?

vLLM prints its startup sequence once per engine start, in order: the API server's version
banner and args, the engine config line, the weights, the memory profile and KV cache sizing,
then serving (stats lines). A startup line whose phase is not beyond what the current start has
already reached begins a new start: a container restart, a crash loop, or two engines in one
stream. Copies of a line from other tensor- or data-parallel ranks are not starts.
The summary (`analyze`) and the sidecar's state use this one rule.
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
_CAPACITY_KINDS = (MemoryProfile, DeviceMemoryReport, KvCacheBlocks, KvCacheSize, MaxConcurrency, CudaGraph)


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

    def observe(self, context: LineContext, record: Record) -> bool:
        """Note a record; True when it is the first record of a new engine start."""
        kind = type(record)
        new_start = False
        if kind is EngineConfig:
            if record.continued:
                return False
            dp_rank = context.dp_rank
            # The banner and args come before the config line; other DP engines print their own.
            new_start = dp_rank in self.config_dp_ranks or (self.phase > PHASE_CONFIG and dp_rank in (None, 0))
            phase = PHASE_CONFIG
        elif kind is VersionInfo:
            phase = PHASE_VERSION
            new_start = record.vllm_version is not None and self.phase >= phase
        elif kind is ServerArgs:
            phase = PHASE_ARGS
            new_start = self.phase >= phase
        elif kind is ModelWeights:
            phase = PHASE_WEIGHTS
            new_start = is_rank_zero(context) and self.phase >= phase
        elif kind in _CAPACITY_KINDS:
            phase = PHASE_CAPACITY
        elif kind is Stats:
            phase = PHASE_SERVING
        else:
            phase = -1
        new_start = new_start and self.records_in_start > 0
        if new_start:
            self.phase = -1
            self.config_dp_ranks = set()
            self.records_in_start = 0
        if kind is EngineConfig:
            self.config_dp_ranks.add(context.dp_rank)
        if phase > self.phase:
            self.phase = phase
        self.records_in_start += 1
        return new_start
