"""Assemble a CapacityReport: ModelSpec x GpuSpec x ServingConfig -> the numbers `plan` prints.

`build_report` is pure (specs in, report out). `CapacityReport.to_plan_dict()` is the
`vllm-obs plan --format json` contract; its key names must not change (values are null where the
inputs do not allow them: without a GPU there is no KV budget unless one is given).
The vLLM release decides defaults and memory rules (versions.py); what vLLM measures at start-up
is a low / expected / high range (overheads.py), collapsed by a logged or given value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from . import capacity as cap
from . import overheads as oh
from .dtypes import GiB
from .estimate import closed_loop, kv_running_limit
from .gpus import GpuSpec
from .models import ModelSpec
from .problems import find_problems, valid_tensor_parallel_sizes
from .setup import Problem, ServingConfig, Setup, overhead_terms, resolve
from .throughput import Efficiency, RooflineInputs, crossover_batch, decode_ladder, prefill_ceiling, roofline_inputs
from .versions import AppliedRules

__all__ = ["CapacityReport", "LayoutError", "Problem", "ServingConfig", "build_report", "roofline_for",
           "valid_tensor_parallel_sizes"]

CONTEXT_LADDER = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)


class CapacityReport(BaseModel):
    model: str
    gpu: str | None
    gpu_total_memory_gib: float | None
    tensor_parallel_size: int
    pipeline_parallel_size: int
    data_parallel_replicas: int
    max_model_len: int
    block_size: int
    model_dtype: str
    quantization: str | None
    kv_cache_dtype: str
    kv_cache_dtype_bytes: int
    arithmetic: str
    vllm_rules: dict[str, Any]
    gpu_memory_utilization: float
    parameters_total: int
    parameters_active: int
    model_weights_gib: float
    model_weights_gib_per_gpu: float
    kv_cache_bytes_per_token: int
    kv_cache_bytes_per_token_per_gpu: int
    usable_memory_gib_per_gpu: float | None
    activation_peak_gib: float        # the expected value of each range (the range: kv_capacity_range)
    non_torch_memory_gib: float
    cuda_graph_gib: float
    kv_cache_memory_gib_per_gpu: float | None
    kv_cache_memory_gib_per_gpu_source: str
    gpu_blocks: int | None
    kv_cache_tokens: int | None
    max_concurrency: float | None
    kv_capacity_range: dict[str, Any] | None
    kv_cache_gib_needed_for_max_model_len: float
    fits: bool | None
    concurrency_by_context: list[dict[str, Any]]
    max_num_seqs: int
    max_num_batched_tokens: int
    decode_context_tokens: int
    decode_ceiling_by_batch: list[dict[str, Any]]
    prefill_tokens_per_second_ceiling: float | None
    crossover_batch: int | None
    efficiency: dict[str, float] | None
    throughput_estimate: list[dict[str, Any]] | None
    sections: dict[str, dict[str, list[str]]]
    inputs: dict[str, str]
    problems: list[Problem]
    notes: list[str]

    def to_plan_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class LayoutError(ValueError):
    """TP/PP that vLLM refuses for this model: (problem, suggestion)."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(problem.message)


def _gib(b: float) -> float:
    return b / GiB


def _rules_dict(s: Setup) -> dict[str, Any]:
    a: AppliedRules = s.applied
    return {"version": a.version, "source": a.source, "rules": a.rules.label, "read_from": a.rules.read_from,
            "note": a.note, "default_gpu_memory_utilization": a.rules.default_gpu_memory_utilization,
            "model_runner": ("v2" if s.v2_runner else "v1") if s.arithmetic == cap.V1 else "v0/v1-legacy",
            "cuda_graphs_subtracted": s.graphs_subtracted, "memory_accounting": a.rules.accounting,
            "applied": a.describe()}


def build_report(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig) -> CapacityReport:
    tp, pp = cfg.tensor_parallel_size, cfg.pipeline_parallel_size
    layout = cap.parallel_layout_problem(spec, tp, pp)
    if layout:
        valid = [t for t in valid_tensor_parallel_sizes(spec) if t >= tp][:1] or valid_tensor_parallel_sizes(spec)[-1:]
        lower = [t for t in valid_tensor_parallel_sizes(spec) if t < tp][-1:]
        options = ", ".join(str(t) for t in lower + valid)
        raise LayoutError(Problem(kind="layout", message=layout,
                                  suggestion=f"use --tensor-parallel-size {options}" if options else None))

    s = resolve(spec, gpu, cfg)
    sources = dict(cfg.sources)
    quant, kvb, max_len, bs, arithmetic = s.quant, s.kv_dtype_bytes, s.max_model_len, s.block_size, s.arithmetic
    mnbt, seqs = s.max_num_batched_tokens, s.max_num_seqs
    has_memory = gpu.total_memory_gib > 0
    total_b = gpu.total_memory_gib * GiB
    stage_layers = max(cap.pp_layer_partition(spec.num_layers, pp))
    replicas = max(1, (cfg.num_gpus or tp * pp) // (tp * pp))
    sources.setdefault("gpu_memory_utilization", "flag" if cfg.gpu_memory_utilization else "default of this vLLM")
    sources.setdefault("block_size", "flag" if cfg.block_size else "default")

    weights = cap.weight_bytes(spec, s.weight_dtype_bytes, quant, tp, pp)
    weights_gpu_b = (cfg.model_weights_gib * GiB if cfg.model_weights_gib is not None
                     else weights.per_gpu_bytes)
    sources.setdefault("model_weights_gib", "log" if cfg.model_weights_gib is not None else "theory")
    terms = overhead_terms(spec, cfg, s, tp)
    act, nt, graph = terms
    for t in terms:
        sources.setdefault({"activation_peak": "activation_peak_gib", "non_torch": "non_torch_memory_gib",
                            "cuda_graphs": "cuda_graph_gib"}[t.name], t.source)

    usable_b = total_b * s.utilization if has_memory else None
    kv_range: dict[str, Any] | None = None
    if cfg.kv_cache_memory_gib is not None:
        budget_b: float | None = cfg.kv_cache_memory_gib * GiB
        budget_src = sources.setdefault("kv_cache_memory_gib", "flag")
    elif has_memory:
        def budget_at(level: str) -> float:
            pick = {"low": "high_bytes", "expected": "expected_bytes", "high": "low_bytes"}[level]
            return cap.kv_budget_bytes(total_b, s.utilization, weights_gpu_b,
                                       *(getattr(t, pick) for t in terms))
        budget_b = budget_at("expected")
        budget_src = "theory (expected)"
        kv_range = {"dominant_term": None, "terms": [t.as_dict() for t in terms]}
        for level in ("low", "expected", "high"):
            b = budget_at(level)
            k = cap.kv_capacity(spec, kvb, b, max_len, bs, tp, pp, arithmetic, mnbt)
            kv_range[level] = {"kv_cache_memory_gib": round(_gib(b), 4), "gpu_blocks": k.gpu_blocks,
                               "kv_cache_tokens": k.kv_cache_tokens, "max_concurrency": round(k.max_concurrency, 2)}
        dom = oh.dominant(terms)
        kv_range["dominant_term"] = dom.name if dom else None
        if dom:
            kv_range["why"] = (f"{dom.name.replace('_', ' ')} ({_gib(dom.low_bytes):.2f}-{_gib(dom.high_bytes):.2f} GiB) "
                               f"depends on {dom.why}; pass the logged value to collapse the range")
    else:
        budget_b, budget_src = None, "unknown: needs --gpu/--gpu-memory-gib or --kv-cache-memory-gib"

    kvc = (cap.kv_capacity(spec, kvb, budget_b, max_len, bs, tp, pp, arithmetic, mnbt)
           if budget_b is not None else None)
    needed_b = cap.kv_bytes_for_request(spec, kvb, max_len, bs, tp, stage_layers, mnbt)
    problems, notes = find_problems(spec, gpu, cfg, s, weights_gpu_b, terms, usable_b, budget_b, kvc, needed_b)

    by_ctx = []
    if kvc is not None:
        for ctx in [c for c in CONTEXT_LADDER if c < max_len] + [max_len]:
            conc = cap.max_concurrency(kvc.gpu_blocks, ctx, bs, arithmetic, spec, mnbt)
            by_ctx.append({"context_tokens": ctx, "max_concurrency": round(conc, 2),
                           "running_limit": min(int(conc), seqs)})

    workload_ctx = (cfg.prompt_tokens + cfg.output_tokens // 2) if cfg.prompt_tokens and cfg.output_tokens else None
    decode_ctx = cfg.context_tokens or workload_ctx or min(2048, max_len)  # the estimate's mean context
    ladder: list[dict[str, Any]] = []
    prefill: float | None = None
    crossover: int | None = None
    eff: dict[str, float] | None = None
    estimate: list[dict[str, Any]] | None = None
    r = roofline_for(spec, gpu, cfg, s) if gpu.has_throughput_specs else None
    if r is not None:
        eff = {"bandwidth": r.efficiency.bandwidth, "matmul": r.efficiency.matmul}
        max_batch = seqs
        if kvc is not None:
            max_batch = min(seqs, int(cap.max_concurrency(kvc.gpu_blocks, decode_ctx, bs, arithmetic, spec, mnbt)))
        for step in decode_ladder(r, decode_ctx, max_batch):
            ladder.append({"batch": step.batch, "tokens_per_second": round(step.tokens_per_second * replicas, 1),
                           "bound": step.bound, "step_ms": round(step.seconds * 1000, 3)})
        prefill = round(prefill_ceiling(r, mnbt).tokens_per_second * replicas, 1)
        crossover = crossover_batch(r, decode_ctx)
        if cfg.prompt_tokens and cfg.output_tokens:
            limit = (kv_running_limit(kvc.gpu_blocks, cfg.prompt_tokens, cfg.output_tokens, bs)
                     if kvc is not None else 1 << 30)
            estimate = [closed_loop(r, c, cfg.prompt_tokens, cfg.output_tokens, mnbt, seqs, limit, replicas)
                        for c in (cfg.concurrency or (1, 8, 64, 256))]
            if kvc is None:
                notes.append("throughput estimate without a KV budget: the KV capacity limit is not applied")
    elif gpu.total_memory_gib > 0 or gpu.name != "custom GPU":
        notes.append(f"{gpu.name} has no bandwidth/FLOPS figures: throughput ceilings need --gpu NAME")

    if spec.sliding_window_layers:
        notes.append(f"sliding-window attention ({spec.sliding_window} tokens) on "
                     f"{len(spec.sliding_window_layers)} of {spec.num_layers} layers: per-request blocks "
                     "follow vLLM 0.27.1's SlidingWindowSpec (approximate for mixed layers)")
    if replicas > 1:
        notes.append(f"{replicas} data-parallel replicas: concurrency figures are per replica, "
                     "throughput ceilings are for all replicas")
    if s.applied.note:
        notes.append(s.applied.note)
    if not has_memory and cfg.max_num_seqs is None and arithmetic != cap.V0:
        notes.append(f"GPU memory unknown: vLLM's small-card defaults are assumed (max_num_seqs {seqs}, "
                     f"max_num_batched_tokens {mnbt}); cards with >= 70 GiB get 1024 / 8192")

    return CapacityReport(
        model=spec.name, gpu=gpu.name if (has_memory or gpu.name != "custom GPU") else None,
        gpu_total_memory_gib=gpu.total_memory_gib if has_memory else None,
        tensor_parallel_size=tp, pipeline_parallel_size=pp, data_parallel_replicas=replicas,
        max_model_len=max_len, block_size=bs, model_dtype=s.model_dtype,
        quantization=quant.name if quant else None, kv_cache_dtype=cfg.kv_cache_dtype or "auto",
        kv_cache_dtype_bytes=kvb, arithmetic=arithmetic, vllm_rules=_rules_dict(s),
        gpu_memory_utilization=s.utilization,
        parameters_total=weights.breakdown.total, parameters_active=weights.breakdown.active,
        model_weights_gib=round(_gib(weights.total_bytes), 4),
        model_weights_gib_per_gpu=round(_gib(weights_gpu_b), 4),
        kv_cache_bytes_per_token=cap.kv_bytes_per_token(spec, kvb, 1),
        kv_cache_bytes_per_token_per_gpu=cap.kv_bytes_per_token(spec, kvb, tp, stage_layers),
        usable_memory_gib_per_gpu=round(_gib(usable_b), 4) if usable_b is not None else None,
        activation_peak_gib=round(_gib(act.expected_bytes), 4), non_torch_memory_gib=round(_gib(nt.expected_bytes), 4),
        cuda_graph_gib=round(_gib(graph.expected_bytes), 4),
        kv_cache_memory_gib_per_gpu=round(_gib(budget_b), 4) if budget_b is not None else None,
        kv_cache_memory_gib_per_gpu_source=budget_src,
        gpu_blocks=kvc.gpu_blocks if kvc else None, kv_cache_tokens=kvc.kv_cache_tokens if kvc else None,
        max_concurrency=round(kvc.max_concurrency, 2) if kvc else None, kv_capacity_range=kv_range,
        kv_cache_gib_needed_for_max_model_len=round(_gib(needed_b), 4),
        fits=(not problems) if kvc is not None else (False if problems else None),
        concurrency_by_context=by_ctx, max_num_seqs=seqs, max_num_batched_tokens=mnbt,
        decode_context_tokens=decode_ctx, decode_ceiling_by_batch=ladder,
        prefill_tokens_per_second_ceiling=prefill, crossover_batch=crossover, efficiency=eff,
        throughput_estimate=estimate, sections=_sections(cfg, has_memory, budget_b is not None, r is not None),
        inputs=sources, problems=problems, notes=notes,
    )


def _sections(cfg: ServingConfig, has_memory: bool, has_budget: bool, has_speeds: bool) -> dict[str, dict[str, list[str]]]:
    """Which inputs each part of the answer used, and which it lacks."""
    shape = ["model config", "dtype/quantization", "tensor/pipeline parallel sizes"]
    gpu_mem = ["--gpu or --gpu-memory-gib (total memory)"]
    budget_used = (["--kv-cache-memory-gib"] if cfg.kv_cache_memory_gib is not None
                   else ["GPU total memory", "gpu_memory_utilization", "weights", "activation/non-torch/graph ranges"])
    workload = ["--prompt-tokens", "--output-tokens"]
    return {
        "weights": {"used": shape, "missing": []},
        "kv_per_token": {"used": shape + ["kv_cache_dtype"], "missing": []},
        "kv_budget": {"used": budget_used if has_budget else [],
                      "missing": [] if has_budget else gpu_mem + ["or --kv-cache-memory-gib"]},
        "kv_capacity": {"used": ["KV budget", "block_size", "max_model_len"] if has_budget else ["block_size", "max_model_len"],
                        "missing": [] if has_budget else ["a KV budget (see kv_budget)"]},
        "ceilings": {"used": ["GPU bandwidth and FLOPS"] if has_speeds else [],
                     "missing": [] if has_speeds else ["--gpu NAME (bandwidth and FLOPS)"]},
        "throughput_estimate": {
            "used": (["GPU bandwidth and FLOPS", "calibrated efficiency terms"] + workload
                     if has_speeds and cfg.prompt_tokens and cfg.output_tokens else []),
            "missing": ([] if has_speeds else ["--gpu NAME"])
                       + ([] if cfg.prompt_tokens and cfg.output_tokens else workload)
                       + ([] if has_budget or not has_speeds else ["a KV budget (for the KV capacity limit)"])},
    }


def roofline_for(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig, setup: Setup | None = None) -> RooflineInputs | None:
    """RooflineInputs for this setup (None when the GPU has no speed figures)."""
    if not gpu.has_throughput_specs:
        return None
    s = setup or resolve(spec, gpu, cfg)
    weights = cap.weight_bytes(spec, s.weight_dtype_bytes, s.quant, cfg.tensor_parallel_size, cfg.pipeline_parallel_size)
    w_gpu = cfg.model_weights_gib * GiB if cfg.model_weights_gib is not None else weights.per_gpu_bytes
    efficiency = Efficiency.for_gpu(gpu, cfg.bandwidth_efficiency, cfg.matmul_efficiency)
    lin = s.quant.bytes_per_param() if s.quant else float(s.weight_dtype_bytes)
    return roofline_inputs(spec, weights.breakdown, w_gpu, lin, s.kv_dtype_bytes, gpu,
                           s.quant.compute if s.quant else "fp16", cfg.tensor_parallel_size,
                           cfg.pipeline_parallel_size, efficiency)
