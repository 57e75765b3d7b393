"""vLLM's own KV-cache arithmetic, as pure functions.

Every formula cites the vLLM source it mirrors (read from the 0.6.3, 0.8.5 and 0.27.1 wheels);
docs/theory.md derives them. Nothing here reads files or the environment.

Three eras of arithmetic matter for what vLLM prints:
- "v0"        (worker/worker.py + executor): blocks = budget // (block_size * bytes/token over layers);
              concurrency = blocks * block_size / max_model_len; graphs not subtracted.
- "v1-legacy" (v1/core/kv_cache_utils.py in 0.8.5): blocks = budget // page // num_layers;
              tokens = blocks * block_size; concurrency = tokens / max_model_len.
- "v1"        (0.27.1): concurrency = blocks / cdiv(max_model_len, block_size);
              tokens = int(concurrency * max_model_len). Whether the CUDA-graph estimate is
              subtracted depends on the release and model runner (versions.py).
The three give the same blocks for the same budget; they differ in concurrency and tokens only when
max_model_len is not a multiple of block_size, and in the budget by the graph estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .dtypes import GiB, Quantization
from .models import ModelSpec, ParamBreakdown, parameter_breakdown

V0, V1_LEGACY, V1 = "v0", "v1-legacy", "v1"
DEFAULT_BLOCK_SIZE = 16          # vllm/config/cache.py (0.8.5, 0.27.1)
VOCAB_PADDING = 64               # vllm/model_executor/layers/vocab_parallel_embedding.py DEFAULT_VOCAB_PADDING_SIZE


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def arithmetic_for(engine: str | None, vllm_version: str | None) -> str:
    """Which era's arithmetic a log's numbers follow (unknown: the current one)."""
    if engine == "v0":
        return V0
    ver = _version_tuple(vllm_version)
    if ver is not None and ver < (0, 8, 0) and engine != "v1":
        return V0
    if ver is not None and ver < (0, 10, 0):
        # 0.8.5 verified (tokens / max_model_len); the cdiv form is verified in 0.27.1. The change
        # came with the hybrid KV-cache allocator work; 0.10 is our best boundary.
        return V1_LEGACY
    return V1


def _version_tuple(version: str | None) -> tuple[int, int, int] | None:
    if not version:
        return None
    parts = []
    for piece in version.lstrip("v").split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts[:3]) if parts else None  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Parallel layout
# ---------------------------------------------------------------------------------------------

def kv_heads_per_rank(total_kv_heads: int, tensor_parallel_size: int) -> int:
    """vllm/config/model.py get_num_kv_heads (0.27.1 l.1430; config.py in 0.8.5): KV heads are
    split across TP ranks, and replicated when TP exceeds them, so each rank keeps at least one."""
    return max(1, total_kv_heads // tensor_parallel_size)


def pp_layer_partition(num_layers: int, pipeline_parallel_size: int) -> list[int]:
    """Layers per pipeline stage: vllm/distributed/utils.py get_pp_indices (0.27.1). The
    remainder goes one layer each to the stages before the last, counting backwards."""
    per = num_layers // pipeline_parallel_size
    parts = [per] * pipeline_parallel_size
    for i in range(2, num_layers % pipeline_parallel_size + 2):
        parts[-i] += 1
    return parts


def parallel_layout_problem(spec: ModelSpec, tp: int, pp: int) -> str | None:
    """Why vLLM would refuse this TP/PP (ModelConfig.verify_with_parallel_config), or None."""
    if tp < 1 or pp < 1:
        return "tensor and pipeline parallel sizes must be at least 1"
    if spec.num_attention_heads % tp:
        return (f"tensor parallel size {tp} does not divide the {spec.num_attention_heads} "
                "attention heads (vLLM requires it)")
    if not spec.use_mla and spec.num_kv_heads >= tp and spec.num_kv_heads % tp:
        return f"tensor parallel size {tp} does not divide the {spec.num_kv_heads} KV heads"
    if not spec.use_mla and spec.num_kv_heads < tp and tp % spec.num_kv_heads:
        return (f"tensor parallel size {tp} is not a multiple of the {spec.num_kv_heads} KV heads "
                "(needed to replicate them)")
    if pp > spec.num_layers:
        return f"pipeline parallel size {pp} exceeds the {spec.num_layers} layers"
    return None


# ---------------------------------------------------------------------------------------------
# KV cache bytes
# ---------------------------------------------------------------------------------------------

def kv_bytes_per_token_per_layer(spec: ModelSpec, kv_dtype_bytes: int, tp: int = 1) -> int:
    """One token of one attention layer on one rank.

    Standard attention: K and V, each kv_heads_rank x head_dim (v1/kv_cache_interface.py
    AttentionSpec.real_page_size_bytes = 2 * block_size * num_kv_heads * head_size * dtype;
    worker/cache_engine.py get_cache_block_size in V0).
    MLA: one latent of kv_lora_rank + rope dim, no V, never split by TP (get_num_kv_heads returns 1).
    """
    if spec.use_mla:
        return (spec.kv_lora_rank + spec.qk_rope_head_dim) * kv_dtype_bytes
    return 2 * kv_heads_per_rank(spec.num_kv_heads, tp) * spec.head_dim * kv_dtype_bytes


def kv_bytes_per_token(spec: ModelSpec, kv_dtype_bytes: int, tp: int = 1, num_layers: int | None = None) -> int:
    """All attention layers (or `num_layers` of them, e.g. one PP stage) for one token on one rank.
    With tp=1 this is the whole model's figure: 2 * L * n_kv * head_dim * bytes."""
    layers = spec.num_layers if num_layers is None else num_layers
    return layers * kv_bytes_per_token_per_layer(spec, kv_dtype_bytes, tp)


def block_bytes(spec: ModelSpec, kv_dtype_bytes: int, block_size: int, tp: int = 1,
                num_layers: int | None = None) -> int:
    """Bytes of one block across all layers of a rank: the divisor vLLM turns the budget into blocks."""
    return block_size * kv_bytes_per_token(spec, kv_dtype_bytes, tp, num_layers)


def num_gpu_blocks(kv_budget_bytes: float, block_bytes_all_layers: int) -> int:
    """V0: int(available // cache_block_size); V1: int(available // page_size // num_layers).
    Identical for integers; negative budgets give 0 (both clamp with max(.., 0))."""
    if block_bytes_all_layers <= 0:
        return 0
    return max(int(kv_budget_bytes // block_bytes_all_layers), 0)


def blocks_per_request(spec: ModelSpec, context_tokens: int, block_size: int,
                       max_num_batched_tokens: int | None = None) -> float:
    """Blocks one request of `context_tokens` holds in every layer.

    Full attention: cdiv(len, block_size) (FullAttentionSpec.max_memory_usage_bytes).
    Sliding window on every layer: cdiv(min(window - 1 + in-flight tokens, len), block_size) + 1
    (SlidingWindowSpec.max_admission_blocks_per_request, 0.27.1).
    Mixed full/sliding layers: a layer-weighted average (an approximation of vLLM's grouped
    allocator, documented as such in docs/theory.md).
    """
    full = cdiv(context_tokens, block_size)
    if not spec.sliding_window or not spec.sliding_window_layers:
        return float(full)
    in_flight = max_num_batched_tokens or 8192
    window_tokens = min(spec.sliding_window - 1 + in_flight, context_tokens)
    windowed = cdiv(window_tokens, block_size) + 1
    n_sw = len(spec.sliding_window_layers)
    if n_sw == spec.num_layers:
        return float(windowed)
    return (full * (spec.num_layers - n_sw) + windowed * n_sw) / spec.num_layers


def kv_bytes_for_request(spec: ModelSpec, kv_dtype_bytes: int, context_tokens: int, block_size: int,
                         tp: int = 1, num_layers: int | None = None,
                         max_num_batched_tokens: int | None = None) -> int:
    """KV one request of this length needs on one rank: the "X GiB KV cache is needed" of vLLM's
    startup ValueError (v1/core/kv_cache_utils.py check_enough_kv_cache_memory)."""
    blocks = blocks_per_request(spec, context_tokens, block_size, max_num_batched_tokens)
    return int(round(blocks * block_bytes(spec, kv_dtype_bytes, block_size, tp, num_layers)))


def max_concurrency(blocks: int, max_model_len: int, block_size: int, arithmetic: str = V1,
                    spec: ModelSpec | None = None, max_num_batched_tokens: int | None = None) -> float:
    """How many max-length requests the blocks hold (the "Maximum concurrency ... Nx" line)."""
    if max_model_len <= 0:
        return 0.0
    if arithmetic in (V0, V1_LEGACY) or spec is None:
        if arithmetic == V1 and spec is None:
            return blocks / cdiv(max_model_len, block_size)
        return blocks * block_size / max_model_len
    return blocks / blocks_per_request(spec, max_model_len, block_size, max_num_batched_tokens)


def kv_cache_tokens(blocks: int, max_model_len: int, block_size: int, arithmetic: str = V1,
                    spec: ModelSpec | None = None, max_num_batched_tokens: int | None = None) -> int:
    """The "GPU KV cache size: N tokens" line: blocks * block_size in 0.8.5, and
    int(max_concurrency * max_model_len) in 0.27.1 (get_kv_cache_capacity)."""
    if arithmetic in (V0, V1_LEGACY):
        return blocks * block_size
    conc = max_concurrency(blocks, max_model_len, block_size, arithmetic, spec, max_num_batched_tokens)
    return int(conc * max_model_len)


def largest_max_model_len(spec: ModelSpec, kv_dtype_bytes: int, kv_budget_bytes: float, block_size: int,
                          tp: int = 1, num_layers: int | None = None,
                          upper: int | None = None) -> int:
    """Largest max_model_len whose one request fits the budget (vLLM's estimate_max_model_len does
    the same by binary search). Full attention: whole blocks fit, so floor(budget/block) blocks."""
    per_block = block_bytes(spec, kv_dtype_bytes, block_size, tp, num_layers)
    if kv_budget_bytes <= 0 or per_block <= 0:
        return 0
    upper = upper or spec.max_position_embeddings
    if not spec.sliding_window_layers:
        return min(int(kv_budget_bytes // per_block) * block_size, upper)
    lo, hi, best = 1, upper, 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if kv_bytes_for_request(spec, kv_dtype_bytes, mid, block_size, tp, num_layers) <= kv_budget_bytes:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def format_gib_like_vllm(num_bytes: float) -> str:
    """vLLM prints GiB with %.2f (0.8.5) or round(x, 2) (0.27.1 utils/mem_utils.format_gib);
    both round half to even on the binary value, e.g. 5.625 -> 5.62."""
    return f"{num_bytes / GiB:.2f}"


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WeightBytes:
    total_bytes: int                  # whole model, each tensor once
    per_stage_rank_bytes: list[int]   # bytes on one GPU of each pipeline stage
    rope_cache_bytes: int             # cos/sin buffer per GPU (counted in vLLM's "model weights")
    breakdown: ParamBreakdown = field(repr=False)

    @property
    def per_gpu_bytes(self) -> int:
        """The heaviest GPU (what limits the KV budget: vLLM takes the minimum block count)."""
        return max(self.per_stage_rank_bytes)


def _pad(n: int, to: int) -> int:
    return cdiv(n, to) * to


def weight_bytes(spec: ModelSpec, model_dtype_bytes: int, quant: Quantization | None,
                 tp: int = 1, pp: int = 1) -> WeightBytes:
    """Weight memory per GPU as vLLM lays it out.

    Split by TP: q/o projections, MLPs, experts, vocab rows (padded to 64, vocab_parallel_embedding.py).
    Replicated on every rank: norms, MoE router gates (ReplicatedLinear), and KV projections when
    TP > KV heads (each rank keeps max(1, n_kv // tp) heads). Quantized schemes store decoder-block
    matmuls at `quant.bytes_per_param()`; embeddings, lm_head, norms and routers stay 16-bit.
    Plus the rotary cos/sin cache (max_position x rotary_dim, model dtype; rotary_embedding/base.py),
    which vLLM's "model weights" figure includes.
    """
    p = parameter_breakdown(spec)
    lin = quant.bytes_per_param() if quant else float(model_dtype_bytes)
    wb = float(model_dtype_bytes)
    h, d = spec.hidden_size, spec.head_dim
    L = spec.num_layers

    total = ((p.embedding + p.lm_head + p.norms + p.router) * wb + p.linear_in_layers * lin)

    # Per-layer pieces on one rank.
    kv_rank_heads = kv_heads_per_rank(spec.num_kv_heads, tp)
    if spec.use_mla:
        kv_layer_rank = p.kv_proj / L / tp  # MLA projections are column/row-parallel
    else:
        kv_layer_rank = 2 * h * d * kv_rank_heads + (2 * d * kv_rank_heads if spec.qkv_bias else 0)
    attn_layer = p.attention / L
    kv_layer_total = p.kv_proj / L + (2 * d * spec.num_kv_heads if spec.qkv_bias and not spec.use_mla else 0)
    qk_norm = 2 * d if spec.qk_norm else 0
    attn_rank = (attn_layer - kv_layer_total - qk_norm) / tp + kv_layer_rank + qk_norm
    dense_mlp_one = 3 * h * spec.intermediate_size
    moe_mlp_one = (spec.num_experts * p.routed_expert_one + 3 * h * spec.shared_expert_intermediate_size)
    router_one = p.router / spec.num_moe_layers if spec.num_moe_layers else 0
    norm_layer = 2 * h

    vocab_rank = _pad(spec.vocab_size, VOCAB_PADDING) // tp * h
    rope_dim = spec.qk_rope_head_dim if spec.use_mla else d
    rope = spec.max_position_embeddings * rope_dim * model_dtype_bytes

    dense_set = set(spec.dense_layers) if spec.is_moe else set(range(L))
    stages = pp_layer_partition(L, pp)
    out, start = [], 0
    for s, n in enumerate(stages):
        layers = range(start, start + n)
        start += n
        n_dense = sum(1 for i in layers if i in dense_set)
        n_moe = n - n_dense
        linear = n * attn_rank + n_dense * dense_mlp_one / tp + n_moe * moe_mlp_one / tp
        small = n * norm_layer + n_moe * router_one
        b = linear * lin + small * wb
        if s == 0:
            b += vocab_rank * wb
        if s == pp - 1:
            b += h * wb  # final norm
            if not spec.tie_word_embeddings or pp > 1:
                b += vocab_rank * wb  # lm_head (a tied head on another stage is a separate copy)
        out.append(int(round(b)) + rope)
    return WeightBytes(total_bytes=int(round(total)), per_stage_rank_bytes=out,
                       rope_cache_bytes=rope, breakdown=p)


# ---------------------------------------------------------------------------------------------
# The activation formula: the scale of overheads.py's range (the log's number wins)
# ---------------------------------------------------------------------------------------------

def estimate_activation_peak_bytes(spec: ModelSpec, model_dtype_bytes: int, tp: int,
                                   max_num_batched_tokens: int, max_num_seqs: int) -> int:
    """Peak of the profiling forward pass (a rough, documented model; docs/theory.md calibrates it).

    The dummy batch has max_num_batched_tokens tokens. Per token a rank holds at the MLP peak the
    gate+up output (2 I/tp), the activation output (I/tp) and about 4 hidden-size buffers
    (residual, normed input, attention output, MLP output); MoE layers hold those for k experts of
    width I_e. The sampler then works on max_num_seqs rows of float32 logits over the vocabulary.
    overheads.py turns it into a low / expected / high range per vLLM era, calibrated on logged
    peaks (docs/theory.md 5.2); pass the logged value when there is a log.
    """
    h = spec.hidden_size
    if spec.is_moe:
        inter = spec.num_experts_per_tok * spec.moe_intermediate_size + spec.shared_expert_intermediate_size
        if spec.dense_layers:
            inter = max(inter, spec.intermediate_size)
    else:
        inter = spec.intermediate_size
    qkv = (spec.num_attention_heads + 2 * spec.num_kv_heads) * spec.head_dim
    per_token = (3 * inter / tp + qkv / tp + 4 * h) * model_dtype_bytes
    sampler = max_num_seqs * spec.vocab_size * 4
    return int(max_num_batched_tokens * per_token + sampler)


# ---------------------------------------------------------------------------------------------
# The budget and the capacity
# ---------------------------------------------------------------------------------------------

def kv_budget_bytes(total_memory_bytes: float, gpu_memory_utilization: float, weights_per_gpu_bytes: float,
                    activation_peak_bytes: float, non_torch_bytes: float, cuda_graph_bytes: float) -> float:
    """usable = total x utilization (v1/worker/utils.py request_memory: ceil; worker.py in V0);
    KV budget = usable - weights - activation peak - non-torch - CUDA-graph estimate
    (v1/worker/gpu_worker.py determine_available_memory, 0.27.1; worker.py:255 in 0.8.5 without graphs)."""
    usable = math.ceil(total_memory_bytes * gpu_memory_utilization)
    return usable - weights_per_gpu_bytes - activation_peak_bytes - non_torch_bytes - cuda_graph_bytes


def free_memory_problem(total_memory_bytes: float, used_by_others_bytes: float,
                        gpu_memory_utilization: float) -> float | None:
    """vLLM V1 refuses to start when free memory < total x utilization (v1/worker/utils.py
    request_memory, 0.27.1: "Free memory on device ... is less than desired GPU memory
    utilization"). Returns the largest utilization that would pass, or None if this one passes.
    V0 does not check: it sizes the cache as if the memory were free and fails later."""
    free = total_memory_bytes - used_by_others_bytes
    if free >= math.ceil(total_memory_bytes * gpu_memory_utilization):
        return None
    return max(math.floor(free / total_memory_bytes * 100) / 100, 0.0)


@dataclass(frozen=True)
class KvCapacity:
    kv_budget_bytes: float
    block_bytes: int
    gpu_blocks: int
    kv_cache_tokens: int
    max_concurrency: float
    kv_needed_for_max_model_len_bytes: int
    fits: bool


def kv_capacity(spec: ModelSpec, kv_dtype_bytes: int, budget_bytes: float, max_model_len: int,
                block_size: int, tp: int = 1, pp: int = 1, arithmetic: str = V1,
                max_num_batched_tokens: int | None = None) -> KvCapacity:
    """Blocks, tokens and concurrency for a per-GPU KV budget. With PP every stage gets the same
    block count, the smallest (get_kv_cache_configs: min over workers); the stage with the most
    layers is the one that limits it when budgets are equal."""
    layers = max(pp_layer_partition(spec.num_layers, pp))
    per_block = block_bytes(spec, kv_dtype_bytes, block_size, tp, layers)
    blocks = num_gpu_blocks(budget_bytes, per_block)
    needed = kv_bytes_for_request(spec, kv_dtype_bytes, max_model_len, block_size, tp, layers,
                                  max_num_batched_tokens)
    return KvCapacity(
        kv_budget_bytes=budget_bytes, block_bytes=per_block, gpu_blocks=blocks,
        kv_cache_tokens=kv_cache_tokens(blocks, max_model_len, block_size, arithmetic, spec,
                                        max_num_batched_tokens),
        max_concurrency=max_concurrency(blocks, max_model_len, block_size, arithmetic, spec,
                                        max_num_batched_tokens),
        kv_needed_for_max_model_len_bytes=needed,
        fits=needed <= budget_bytes and budget_bytes > 0,
    )
