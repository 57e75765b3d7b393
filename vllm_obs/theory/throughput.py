"""Roofline throughput *ceilings*: what the hardware cannot beat, not a prediction.

A decode step reads every weight byte a rank holds (for MoE: the experts the batch touches) plus
the KV of every running request, and does 2 FLOPs per active parameter per token plus attention.
Its time is the larger of the two, each at an efficiency factor (memory bandwidth: 0.8, within the
65-97 % llama-roofline measured; matmul: the GPU's measured achievable fraction, ml-engineering
MAMF, else 0.7). TP ranks run in parallel (communication ignored); PP stages are assumed
perfectly pipelined. Pure functions; docs/theory.md derives them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .capacity import kv_bytes_per_token, pp_layer_partition
from .gpus import DEFAULT_MATMUL_FRACTION, GpuSpec
from .models import ModelSpec, ParamBreakdown

DEFAULT_BANDWIDTH_EFFICIENCY = 0.8


@dataclass(frozen=True)
class Efficiency:
    bandwidth: float = DEFAULT_BANDWIDTH_EFFICIENCY
    matmul: float = DEFAULT_MATMUL_FRACTION

    @classmethod
    def for_gpu(cls, gpu: GpuSpec, bandwidth: float | None = None, matmul: float | None = None) -> "Efficiency":
        return cls(bandwidth=bandwidth or DEFAULT_BANDWIDTH_EFFICIENCY,
                   matmul=matmul or gpu.achievable_matmul_fraction or DEFAULT_MATMUL_FRACTION)


@dataclass(frozen=True)
class RooflineInputs:
    """Everything the ceilings need, per GPU of the heaviest pipeline stage."""

    weights_per_gpu_bytes: float      # all of it, as held
    expert_bytes_per_gpu: float       # the routed experts' share of weights_per_gpu_bytes
    experts_per_layer: int            # E (0 for dense)
    experts_per_token: int            # k
    kv_bytes_per_token_per_gpu: int   # the stage's layers, this rank's heads
    matmul_params_per_token_per_gpu: float   # active params in matmuls (no embedding lookup) / tp
    attention_flops_per_context_token: float # per generated token per context token, per GPU
    peak_flops: float                 # FLOP/s (dense tensor, the quantization's compute path)
    bandwidth_bytes_s: float
    efficiency: Efficiency
    window_tokens: int | None = None  # sliding-window layers read at most this much context
    windowed_fraction: float = 0.0    # share of layers that use the window

    def effective_context(self, context_tokens: int) -> float:
        """Context tokens whose KV a step reads, averaged over layers (windowed layers stop at the window)."""
        if not self.window_tokens:
            return float(context_tokens)
        return ((1 - self.windowed_fraction) * context_tokens
                + self.windowed_fraction * min(context_tokens, self.window_tokens))


def roofline_inputs(spec: ModelSpec, params: ParamBreakdown, weights_per_gpu_bytes: float,
                    linear_bytes_per_param: float, kv_dtype_bytes: int, gpu: GpuSpec, compute: str,
                    tp: int = 1, pp: int = 1, efficiency: Efficiency | None = None) -> RooflineInputs:
    stage_layers = max(pp_layer_partition(spec.num_layers, pp))
    share = stage_layers / spec.num_layers
    expert_bytes = params.routed_experts * linear_bytes_per_param / tp * share
    matmul_active = (params.active - params.embedding) / tp * share
    if spec.use_mla:
        attn_dim = spec.num_attention_heads * (spec.kv_lora_rank * 2 + spec.qk_rope_head_dim)
    else:
        attn_dim = spec.num_attention_heads * spec.head_dim * 2  # QK^T and PV
    attention = 2 * attn_dim * stage_layers / tp  # 2 FLOPs per multiply-add
    tflops = gpu.tensor_tflops(compute) or 0.0
    return RooflineInputs(
        weights_per_gpu_bytes=weights_per_gpu_bytes, expert_bytes_per_gpu=expert_bytes,
        experts_per_layer=spec.num_experts, experts_per_token=spec.num_experts_per_tok,
        kv_bytes_per_token_per_gpu=kv_bytes_per_token(spec, kv_dtype_bytes, tp, stage_layers),
        matmul_params_per_token_per_gpu=matmul_active, attention_flops_per_context_token=attention,
        peak_flops=tflops * 1e12, bandwidth_bytes_s=(gpu.memory_bandwidth_gb_s or 0.0) * 1e9,
        efficiency=efficiency or Efficiency.for_gpu(gpu),
        window_tokens=spec.sliding_window if spec.sliding_window_layers else None,
        windowed_fraction=len(spec.sliding_window_layers) / spec.num_layers,
    )


def expected_experts_touched(num_experts: int, experts_per_token: int, tokens: float) -> float:
    """Distinct experts a layer reads for `tokens` tokens under uniform routing:
    E * (1 - (1 - k/E)^tokens). One token reads k; a big batch reads them all."""
    if num_experts <= 0:
        return 0.0
    return num_experts * (1 - (1 - experts_per_token / num_experts) ** tokens)


def weight_bytes_read(r: RooflineInputs, tokens: float) -> float:
    if r.experts_per_layer <= 0:
        return r.weights_per_gpu_bytes
    frac = expected_experts_touched(r.experts_per_layer, r.experts_per_token, tokens) / r.experts_per_layer
    return r.weights_per_gpu_bytes - r.expert_bytes_per_gpu * (1 - frac)


@dataclass(frozen=True)
class StepCeiling:
    batch: float        # requests (an interval's average may be fractional)
    seconds: float
    tokens_per_second: float
    bound: str          # "memory" | "compute"
    memory_seconds: float
    compute_seconds: float


def decode_step(r: RooflineInputs, batch: float, context_tokens: int) -> StepCeiling:
    """One decode step of `batch` requests each holding `context_tokens` of KV."""
    ctx = r.effective_context(context_tokens)
    read = weight_bytes_read(r, batch) + batch * ctx * r.kv_bytes_per_token_per_gpu
    mem_s = read / (r.bandwidth_bytes_s * r.efficiency.bandwidth)
    flops = batch * (2 * r.matmul_params_per_token_per_gpu + r.attention_flops_per_context_token * ctx)
    comp_s = flops / (r.peak_flops * r.efficiency.matmul)
    t = max(mem_s, comp_s)
    return StepCeiling(batch, t, batch / t, "memory" if mem_s >= comp_s else "compute", mem_s, comp_s)


def prefill_ceiling(r: RooflineInputs, tokens_per_step: int) -> StepCeiling:
    """A prefill step of `tokens_per_step` prompt tokens (one prompt of that length: average
    attention context is half of it). Compute-bound except for tiny steps."""
    read = weight_bytes_read(r, tokens_per_step) + tokens_per_step * r.kv_bytes_per_token_per_gpu
    mem_s = read / (r.bandwidth_bytes_s * r.efficiency.bandwidth)
    flops = tokens_per_step * (2 * r.matmul_params_per_token_per_gpu
                               + r.attention_flops_per_context_token * r.effective_context(tokens_per_step) / 2)
    comp_s = flops / (r.peak_flops * r.efficiency.matmul)
    t = max(mem_s, comp_s)
    return StepCeiling(tokens_per_step, t, tokens_per_step / t,
                       "memory" if mem_s >= comp_s else "compute", mem_s, comp_s)


def crossover_batch(r: RooflineInputs, context_tokens: int, limit: int = 1 << 16) -> int | None:
    """Smallest batch at which a decode step turns compute-bound (None if not below `limit`)."""
    lo, hi = 1, limit
    if decode_step(r, hi, context_tokens).bound == "memory":
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if decode_step(r, mid, context_tokens).bound == "compute":
            hi = mid
        else:
            lo = mid + 1
    return lo


BATCH_LADDER = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def decode_ladder(r: RooflineInputs, context_tokens: int, max_batch: int) -> list[StepCeiling]:
    """Ceilings for 1, 2, 4 ... up to max_batch (the most requests that can run at this context:
    min(max_num_seqs, KV tokens // context)), with max_batch itself as the last rung."""
    if max_batch < 1:
        return []
    rungs = [b for b in BATCH_LADDER if b <= max_batch]
    if not rungs or rungs[-1] != max_batch:
        rungs.append(max_batch)
    return [decode_step(r, b, context_tokens) for b in rungs]
