"""A throughput *estimate* (not a ceiling) for a closed-loop client under vLLM's chunked prefill.

The client keeps C requests in flight, each of P prompt and O output tokens. In steady state a
step of the engine holds d decoding requests and p prefill tokens (the prefill of the requests
that replace finished ones), within the max_num_batched_tokens budget. Its time is

    t = t_step + c_req * (requests in the step)
        + max(weight bytes / (B * e_bw), 2 * matmul params * (d + p) / (F * e_mm))      (matmuls)
        + max(KV bytes read / (B * e_bw), attention FLOPs / (F * e_mm))                 (attention)

with B and F the GPU's bandwidth and dense FLOPS. Prefill tokens share the matmuls of the step:
that is the prefill interference (steps with a chunk and decode-only steps are timed apart and
averaged by how often each occurs). Four efficiency terms, each from a measurement (docs/theory.md,
"Throughput estimate"):
- e_bw = 0.80: achievable HBM bandwidth (llama-roofline measurements: 65-97 %; prior, not fitted).
- e_mm: the GPU's measured achievable matmul fraction (gpus.json, ml-engineering MAMF: H100 0.803).
- t_step = 0.8 ms: per-step cost beyond the memory traffic, from case 060 at concurrency 1
  (147.0 tok/s = 6.80 ms/step against 6.12 ms of weight reads at 0.80 x 3.35 TB/s).
- c_req = 20 us per request in the step (scheduling, sampling, per-request attention work), from
  the slope of case 060 between concurrency 8, 64 and 256.
Calibrated on the H100 run (case 060: 147.0 / 1,088.7 / 6,433.2 / 12,328.2 tok/s at 1 / 8 / 64 /
256, within 5 %); the same terms serve every GPU and model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .throughput import RooflineInputs, decode_step, weight_bytes_read

STEP_OVERHEAD_SECONDS = 0.8e-3
PER_REQUEST_STEP_SECONDS = 20e-6


@dataclass(frozen=True)
class StepTime:
    seconds: float
    memory_seconds: float     # weights + KV at achievable bandwidth
    compute_seconds: float    # matmul + attention FLOPs at achievable FLOPS
    bound: str                # "memory" / "compute"


def step_time(r: RooflineInputs, decode_requests: float, prefill_tokens: float, decode_context: float,
              prefill_context: float, prefill_requests: float = 0.0) -> StepTime:
    """One engine step with `decode_requests` generating one token at `decode_context` of KV each,
    and `prefill_tokens` prompt tokens attending to `prefill_context` tokens on average."""
    bw = r.bandwidth_bytes_s * r.efficiency.bandwidth
    fl = r.peak_flops * r.efficiency.matmul
    tokens = decode_requests + prefill_tokens
    gemm_mem = weight_bytes_read(r, max(1, math.ceil(tokens))) / bw
    gemm_comp = 2 * r.matmul_params_per_token_per_gpu * tokens / fl
    ctx = r.effective_context(int(decode_context))
    kv_mem = decode_requests * ctx * r.kv_bytes_per_token_per_gpu / bw
    att_comp = r.attention_flops_per_context_token * (decode_requests * ctx
                                                      + prefill_tokens * r.effective_context(int(prefill_context))) / fl
    overhead = STEP_OVERHEAD_SECONDS + PER_REQUEST_STEP_SECONDS * (decode_requests + prefill_requests)
    mem, comp = gemm_mem + kv_mem, gemm_comp + att_comp
    t = overhead + max(gemm_mem, gemm_comp) + max(kv_mem, att_comp)
    return StepTime(t, mem, comp, "memory" if mem >= comp else "compute")


def closed_loop(r: RooflineInputs, concurrency: int, prompt_tokens: int, output_tokens: int,
                max_num_batched_tokens: int, max_num_seqs: int, kv_running_limit: int,
                replicas: int = 1) -> dict:
    """The steady state of C requests in flight (split evenly over data-parallel replicas)."""
    per_replica = math.ceil(concurrency / max(replicas, 1))
    running = min(per_replica, max_num_seqs, kv_running_limit)
    limited_by = None
    if running < per_replica:
        limited_by = "kv_capacity" if kv_running_limit <= max_num_seqs else "max_num_seqs"
    out = {"concurrency": concurrency, "running_per_replica": running, "running_limited_by": limited_by}
    if running <= 0:
        return out | {"generation_tokens_per_second": 0.0, "prompt_tokens_per_second": 0.0,
                      "bound": "kv_capacity", "step_ms": None}
    # Steps a request spends: ceil(P / budget) prefill steps (the last emits the first token),
    # then O - 1 decode steps. Completions per step are limited by the token budget too.
    prefill_steps = max(1, math.ceil(prompt_tokens / max_num_batched_tokens))
    by_running = running / (prefill_steps + output_tokens - 1)
    by_budget = max_num_batched_tokens / (prompt_tokens + output_tokens - 1)
    done_per_step = min(by_running, by_budget)
    decoding = done_per_step * (output_tokens - 1)
    prefill = done_per_step * prompt_tokens
    # Prefill chunks land in a fraction q of the steps, not evenly in all: a step with a chunk
    # reads (for MoE) many more experts than a decode-only one, so the two kinds are timed apart.
    q = min(1.0, done_per_step * prefill_steps)
    ctx = prompt_tokens + output_tokens / 2
    mixed = step_time(r, decoding, prefill / q, ctx, prompt_tokens / 2, prefill_requests=1.0 if q < 1 else
                      done_per_step * prefill_steps)
    plain = step_time(r, decoding, 0.0, ctx, 1.0) if q < 1 else mixed
    seconds = q * mixed.seconds + (1 - q) * plain.seconds
    st = mixed if q * mixed.seconds >= (1 - q) * plain.seconds else plain
    gen = done_per_step * output_tokens / seconds * replicas
    # The KV limit is the bound only if more running requests would have done more per step.
    bound = "kv_capacity" if limited_by == "kv_capacity" and by_running < by_budget else st.bound
    return out | {"generation_tokens_per_second": round(gen, 1),
                  "prompt_tokens_per_second": round(gen * prompt_tokens / output_tokens, 1),
                  "bound": bound, "step_ms": round(seconds * 1e3, 3)}


def kv_running_limit(gpu_blocks: int, prompt_tokens: int, output_tokens: int, block_size: int) -> int:
    """Requests whose whole KV (P + O tokens, in blocks) fits at once: more are preempted."""
    per_request = -(-(prompt_tokens + output_tokens) // block_size)
    return gpu_blocks // per_request if per_request else 0


def generation_estimate(r: RooflineInputs, running: float, context_tokens: float,
                        prompt_per_generated: float = 0.0) -> float:
    """Estimated tokens/s for `running` decoding requests at `context_tokens` each, with
    `prompt_per_generated` prompt tokens prefilled per generated token (a stats line's ratio)."""
    if running <= 0:
        return 0.0
    prefill = running * prompt_per_generated
    st = step_time(r, running, prefill, context_tokens, max(context_tokens / 2, 1))
    return running / st.seconds


def inferred_running(r: RooflineInputs, generation_tps: float, context_tokens: float,
                     prompt_per_generated: float = 0.0, upper: int = 4096) -> float | None:
    """The average running count that gives `generation_tps` at the estimate's per-request rate
    (throughput / per-request rate, solved by bisection); None when even `upper` cannot."""
    if generation_tps <= 0:
        return 0.0
    if generation_estimate(r, upper, context_tokens, prompt_per_generated) < generation_tps:
        return None
    lo, hi = 0.0, float(upper)
    for _ in range(50):
        mid = (lo + hi) / 2
        if generation_estimate(r, mid, context_tokens, prompt_per_generated) < generation_tps:
            lo = mid
        else:
            hi = mid
    return hi


def fewest_running_for(r: RooflineInputs, generation_tps: float, context_tokens: int, upper: int) -> int | None:
    """The fewest running requests whose roofline ceiling reaches `generation_tps` (None if none
    up to `upper` does): at least that many must have run on average in the interval."""
    if decode_step(r, upper, context_tokens).tokens_per_second < generation_tps:
        return None
    lo, hi = 1, upper
    while lo < hi:
        mid = (lo + hi) // 2
        if decode_step(r, mid, context_tokens).tokens_per_second >= generation_tps:
            hi = mid
        else:
            lo = mid + 1
    return lo


def interval_running(r: RooflineInputs, generation_tps: float | None, context_tokens: int, end_running: int,
                     prompt_per_generated: float, upper: int) -> tuple[float, str, float | None]:
    """The running count a stats interval's ceiling is taken at, why, and the inferred average.

    A stats line's running count is the one at its end; its throughput averages the interval. The
    average running is inferred as throughput / per-request rate (the estimate's rate, solved by
    bisection). Since the ceiling is above the estimate at every batch, the ceiling at the larger
    of the end count and that average is above the observed rate: observed / ceiling exceeds 1 only
    when even `upper` requests could not produce it at the ceiling rate."""
    upper = max(upper, end_running)
    if not generation_tps:
        return end_running, "the line's end-of-interval running count", None
    avg = inferred_running(r, generation_tps, context_tokens, prompt_per_generated, upper=upper)
    if avg is not None:
        n = max(float(end_running), avg)  # an average: fractional (a ceiling at ceil(avg) would jump)
        if n > end_running:
            return n, (f"the interval's average running, inferred as throughput / per-request rate: {avg:.1f} "
                       f"(the line's end count is {end_running})"), avg
        return n, "the line's end-of-interval running count (not below the inferred average)", avg
    fewest = fewest_running_for(r, generation_tps, context_tokens, upper)
    if fewest is None:
        return upper, f"the largest batch ({upper}): even it could not produce this rate at the ceiling", None
    return max(end_running, fewest), (f"the fewest requests whose ceiling reaches {generation_tps:,.0f} tok/s "
                                      "(above the estimate at every batch)"), None
