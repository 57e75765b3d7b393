"""vLLM's defaults and memory rules by release, read from each release's wheel.

Each row applies from its `since` release until the next row. The comment above a row names the
wheels and files it was read from (`pip download --no-deps vllm==X`, then the files named); rows
marked "boundary not read" place a change between two read releases at the later one we know.
Nothing here is vLLM code: these are facts about it, so `plan` and `analyze` can follow the
release a user runs. docs/theory.md prints this table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .capacity import V0, V1, V1_LEGACY

# How vLLM picks the model runner by default (vllm/config/vllm.py use_v2_model_runner):
NEVER, QWEN3, QWEN3_LLAMA, LISTED, NOT_MOE, ALWAYS = "never", "qwen3", "qwen3-llama", "listed", "not-moe", "always"

# How vLLM charges what the profiling run consumed (vllm/utils/mem_utils.py memory_profiling):
# "split"    weights + torch peak increase + non-torch increase (<= 0.26.0)
# "consumed" free-memory drop since start-up (weights, buffers, non-torch) + transient peak
#            headroom (torch peak - torch allocated) (>= 0.27.1)
SPLIT, CONSUMED = "split", "consumed"


@dataclass(frozen=True)
class VllmRules:
    since: tuple[int, int, int]
    label: str                            # the releases the row covers, e.g. "0.20-0.21"
    read_from: str                        # wheels and files the row was read from
    arithmetic: str                       # V0 / V1_LEGACY / V1 (see capacity.py)
    default_gpu_memory_utilization: float
    block_sizes: tuple[int, ...] | None   # accepted --block-size values; None: a multiple of 16
    v1_runner_subtracts_graphs: bool      # VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS default
    v2_runner_default: str                # NEVER ... ALWAYS
    v2_runner_subtracts_graphs: bool      # V2 GPUModelRunner.profile_cudagraph_memory != 0
    accounting: str                       # SPLIT / CONSUMED
    a100_small_tier: bool                 # A100s get the 2048/256 scheduler defaults
    tier_160_gib: bool                    # >= 160 GiB cards get max_num_batched_tokens 16384
    default_block_size: int = 16          # CacheConfig.DEFAULT_BLOCK_SIZE / block_size default

    def block_size_problem(self, block_size: int) -> str | None:
        """Why this release refuses a --block-size, or None."""
        if self.block_sizes is not None:
            if block_size not in self.block_sizes:
                return (f"--block-size {block_size} is not accepted by vLLM {self.label} "
                        f"(choices: {', '.join(map(str, self.block_sizes))})")
            return None
        if block_size % 16:
            return (f"--block-size {block_size} is not a multiple of 16, which vLLM {self.label}'s CUDA "
                    "attention backends need (FlashAttention/Triton get_supported_kernel_block_sizes)")
        return None


_V2_LISTED_024 = frozenset({"Qwen3ForCausalLM", "DeepseekV2ForCausalLM", "Qwen2MoeForCausalLM",
                            "GraniteMoeForCausalLM", "LlamaForCausalLM", "MistralForCausalLM"})
_V2_LISTED_025 = frozenset({"DeepseekV2ForCausalLM", "Qwen2MoeForCausalLM", "GraniteMoeForCausalLM",
                            "InklingForCausalLM", "InklingForConditionalGeneration",
                            "LongcatFlashNgramForCausalLM"})

TABLE: tuple[VllmRules, ...] = (
    # 0.6.3: engine/arg_utils.py (block_size 16, --block-size choices 8/16/32), config.py CacheConfig
    # (gpu_memory_utilization 0.90), worker/worker.py determine_num_available_blocks (no graph term).
    VllmRules((0, 0, 0), "< 0.8", "0.6.3 engine/arg_utils.py, config.py, worker/worker.py", V0, 0.9,
              (8, 16, 32), False, NEVER, False, SPLIT, False, False),
    # 0.8.5: config.py BlockSize = Literal[1, 8, 16, 32, 64, 128], gpu_memory_utilization 0.9;
    # engine/arg_utils.py: 8192 / 1024 on any card >= 70 GiB (no A100 exception);
    # v1/worker/gpu_worker.py determine_available_memory: no graph term.
    VllmRules((0, 8, 0), "0.8-0.9", "0.8.5 config.py, engine/arg_utils.py, v1/worker/gpu_worker.py",
              V1_LEGACY, 0.9, (1, 8, 16, 32, 64, 128), False, NEVER, False, SPLIT, False, False),
    # 0.11.2, 0.13.0, 0.17.0: config/cache.py BlockSize adds 256; engine/arg_utils.py "a100" check
    # (boundary not read: 0.10 taken as the start, with the cdiv concurrency of capacity.py).
    VllmRules((0, 10, 0), "0.10-0.17", "0.11.2/0.13.0/0.17.0 config/cache.py, engine/arg_utils.py",
              V1, 0.9, (1, 8, 16, 32, 64, 128, 256), False, NEVER, False, SPLIT, True, False),
    # 0.18.0, 0.19.0: config/cache.py block_size is a plain int; envs.py
    # VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS defaults to "0" (estimated, not subtracted).
    VllmRules((0, 18, 0), "0.18-0.19", "0.18.0/0.19.0 config/cache.py, envs.py, v1/worker/gpu_worker.py",
              V1, 0.9, None, False, NEVER, False, SPLIT, True, False),
    # 0.20.0, 0.21.0: config/cache.py gpu_memory_utilization default 0.92; envs.py
    # VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS "1" (vLLM's own log line says "default since
    # v0.21.0"; the 0.20.0 wheel already has "1"); VLLM_USE_V2_MODEL_RUNNER defaults to False.
    VllmRules((0, 20, 0), "0.20-0.21", "0.20.0/0.21.0 config/cache.py, envs.py, v1/worker/gpu_worker.py",
              V1, 0.92, None, True, NEVER, False, SPLIT, True, False),
    # 0.22.0: config/vllm.py DEFAULT_V2_MODEL_RUNNER_ARCHITECTURES = {Qwen3ForCausalLM}, not MoE,
    # not quantized; v1/worker/gpu/model_runner.py profile_cudagraph_memory returns 0.
    VllmRules((0, 22, 0), "0.22", "0.22.0 config/vllm.py, v1/worker/gpu/model_runner.py",
              V1, 0.92, None, True, QWEN3, False, SPLIT, True, False),
    # 0.23.0: adds LlamaForCausalLM and MistralForCausalLM (still dense and unquantized).
    VllmRules((0, 23, 0), "0.23", "0.23.0 config/vllm.py", V1, 0.92, None, True, QWEN3_LLAMA, False,
              SPLIT, True, False),
    # 0.24.0: the listed architectures (_V2_LISTED_024), MoE or not.
    VllmRules((0, 24, 0), "0.24", "0.24.0 config/vllm.py", V1, 0.92, None, True, LISTED, False,
              SPLIT, True, False),
    # 0.25.0, 0.26.0: listed architectures or any non-MoE generative model (not hybrid).
    VllmRules((0, 25, 0), "0.25-0.26", "0.25.0/0.26.0 config/vllm.py, v1/worker/gpu_worker.py, "
              "v1/worker/gpu/model_runner.py, v1/attention/backends/flash_attn.py",
              V1, 0.92, None, True, NOT_MOE, False, SPLIT, True, False),
    # 0.27.1: utils/mem_utils.py memory_profiling charges total_consumed + transient_peak_headroom
    # (boundary not read: 0.27.0 assumed to have it).
    VllmRules((0, 27, 0), "0.27", "0.27.1 utils/mem_utils.py, v1/worker/gpu_worker.py, config/vllm.py",
              V1, 0.92, None, True, NOT_MOE, False, CONSUMED, True, False),
    # 0.28.0: engine/arg_utils.py: cards >= 160 GiB default to max_num_batched_tokens 16384.
    VllmRules((0, 28, 0), "0.28", "0.28.0 engine/arg_utils.py, v1/worker/gpu/model_runner.py",
              V1, 0.92, None, True, NOT_MOE, False, CONSUMED, True, True),
    # 0.29.0-0.33.0: v1/worker/gpu/model_runner.py profile_cudagraph_memory measures the graphs
    # (subtracted); config/vllm.py use_v2_model_runner: V2 unless a feature is unsupported.
    VllmRules((0, 29, 0), "0.29-0.33", "0.29.0-0.33.0 v1/worker/gpu/model_runner.py, config/vllm.py, "
              "v1/worker/gpu_worker.py, engine/arg_utils.py", V1, 0.92, None, True, ALWAYS, True,
              CONSUMED, True, True),
)

NEWEST_KNOWN = "0.33.0"   # the newest release the table was read from (the default for `plan`)

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.+-]?(?:post|dev|rc|a|b)?[0-9a-z.+]*)?$", re.I)


class VersionError(ValueError):
    pass


def parse_version(text: str) -> tuple[int, int, int]:
    """'0.26.0', 'v0.8.5.post1', '0.6.4.dev123+g...', '0.11' -> (major, minor, patch)."""
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise VersionError(f"--vllm-version {text!r} is not a vLLM version (like 0.26.0 or 0.8.5.post1)")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


@dataclass(frozen=True)
class AppliedRules:
    rules: VllmRules
    version: str                   # as given (or NEWEST_KNOWN)
    source: str                    # "flag" / "log" / "default (newest known)"
    note: str | None = None        # e.g. newer than the table

    def describe(self) -> str:
        text = f"vLLM {self.version} ({self.source}): rules of {self.rules.label}, read from {self.rules.read_from}"
        return text + (f"; {self.note}" if self.note else "")


def rules_for(version: str | None, source: str = "flag") -> AppliedRules:
    """The table row for a version (None: the newest known). Raises VersionError for a bad string."""
    if not version:
        return AppliedRules(TABLE[-1], NEWEST_KNOWN, "default (newest known)")
    ver = parse_version(version)
    row = TABLE[0]
    for candidate in TABLE:
        if ver >= candidate.since:
            row = candidate
    note = None
    if ver > parse_version(NEWEST_KNOWN):
        note = f"newer than {NEWEST_KNOWN}, the newest release read: its rules are assumed"
    elif ver < (0, 3, 0):
        note = "older than 0.3: the oldest rules known are assumed"
    return AppliedRules(row, version, source, note)


# The 0.11.2 wheel has neither vllm/worker/worker.py nor VLLM_USE_V1 (0.8.5 has both).
NO_V0_ENGINE_SINCE = (0, 11, 0)


def engine_problem(engine: str | None, version: str | None) -> str | None:
    """Why an --engine does not exist in this release, or None."""
    if engine == "v0" and version and parse_version(version) >= NO_V0_ENGINE_SINCE:
        return f"--engine v0 with --vllm-version {version}: vLLM has had no V0 engine since 0.11 (read in 0.11.2)"
    return None


def uses_v2_model_runner(rules: VllmRules, architectures: tuple[str, ...], is_moe: bool,
                         quantized: bool) -> bool:
    """Whether this release picks the V2 model runner for the model by default
    (VLLM_USE_V2_MODEL_RUNNER unset, no unsupported feature such as ngram speculation)."""
    arch = set(architectures)
    kind = rules.v2_runner_default
    if kind == NEVER:
        return False
    if kind == QWEN3:
        return "Qwen3ForCausalLM" in arch and not is_moe and not quantized
    if kind == QWEN3_LLAMA:
        return bool(arch & {"Qwen3ForCausalLM", "LlamaForCausalLM", "MistralForCausalLM"}) and not is_moe \
            and not quantized
    if kind == LISTED:
        return bool(arch & _V2_LISTED_024)
    if kind == NOT_MOE:
        return bool(arch & _V2_LISTED_025) or not is_moe
    return True


def graphs_subtracted(rules: VllmRules, v2_runner: bool) -> bool:
    """Whether the CUDA-graph estimate comes out of the KV budget (gpu_worker.py
    determine_available_memory: cudagraph_memory_estimate_applied)."""
    if rules.arithmetic != V1:
        return False
    return rules.v2_runner_subtracts_graphs if v2_runner else rules.v1_runner_subtracts_graphs


def default_scheduler_limits(rules: VllmRules, total_memory_gib: float | None,
                             gpu_name: str | None = None) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) of `vllm serve` when not given
    (engine/arg_utils.py _set_default_max_num_seqs_and_batched_tokens_args)."""
    gib = total_memory_gib or 0.0
    if rules.tier_160_gib and gib >= 160:
        return 16384, 1024
    big = gib >= 70 and not (rules.a100_small_tier and "a100" in (gpu_name or "").lower())
    return (8192, 1024) if big else (2048, 256)
