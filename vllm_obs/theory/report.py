"""Assemble a CapacityReport: ModelSpec x GpuSpec x ServingConfig -> the numbers `plan` prints.

`build_report` is pure (specs in, report out). `CapacityReport.to_plan_dict()` is the
`vllm-obs plan --format json` contract; its key names must not change.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import capacity as cap
from .dtypes import GiB, Quantization, dtype_bytes, kv_cache_dtype_bytes, resolve_model_dtype, resolve_quantization
from .gpus import GpuSpec
from .models import ModelSpec
from .throughput import (Efficiency, crossover_batch, decode_ladder, prefill_ceiling, roofline_inputs)

CONTEXT_LADDER = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)


class ServingConfig(BaseModel):
    """The vLLM flags that decide memory, plus what a log or the user measured."""

    model_config = ConfigDict(frozen=True)

    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    num_gpus: int | None = None
    max_model_len: int | None = None           # None: the model's max_position_embeddings (vLLM's default)
    gpu_memory_utilization: float = 0.9
    dtype: str = "auto"
    quantization: str | None = None
    kv_cache_dtype: str = "auto"
    block_size: int = cap.DEFAULT_BLOCK_SIZE
    kv_cache_memory_gib: float | None = None   # per-GPU KV budget as vLLM logged it
    gpu_memory_used_gib: float = 0.0           # held by other processes before vLLM starts
    model_weights_gib: float | None = None     # per GPU, as logged
    activation_peak_gib: float | None = None
    non_torch_memory_gib: float | None = None
    cuda_graph_gib: float | None = None
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    engine: str | None = None                  # "v0" / "v1"; None: current vLLM
    vllm_version: str | None = None
    context_tokens: int | None = None          # context each running request holds, for decode ceilings
    bandwidth_efficiency: float | None = None
    matmul_efficiency: float | None = None
    sources: dict[str, str] = Field(default_factory=dict)  # input name -> "log" / "flag" / "default"


class Problem(BaseModel):
    kind: str         # layout | weights_do_not_fit | kv_too_small | free_memory | max_model_len
    message: str
    suggestion: str | None = None


class CapacityReport(BaseModel):
    model: str
    gpu: str
    gpu_total_memory_gib: float
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
    parameters_total: int
    parameters_active: int
    model_weights_gib: float
    model_weights_gib_per_gpu: float
    kv_cache_bytes_per_token: int
    kv_cache_bytes_per_token_per_gpu: int
    usable_memory_gib_per_gpu: float
    activation_peak_gib: float
    non_torch_memory_gib: float
    cuda_graph_gib: float
    kv_cache_memory_gib_per_gpu: float
    kv_cache_memory_gib_per_gpu_source: str
    gpu_blocks: int
    kv_cache_tokens: int
    max_concurrency: float
    kv_cache_gib_needed_for_max_model_len: float
    fits: bool
    concurrency_by_context: list[dict[str, Any]]
    max_num_seqs: int
    max_num_batched_tokens: int
    decode_context_tokens: int
    decode_ceiling_by_batch: list[dict[str, Any]]
    prefill_tokens_per_second_ceiling: float | None
    crossover_batch: int | None
    efficiency: dict[str, float] | None
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


def valid_tensor_parallel_sizes(spec: ModelSpec, upper: int = 64) -> list[int]:
    return [tp for tp in range(1, upper + 1) if cap.parallel_layout_problem(spec, tp, 1) is None]


def build_report(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig) -> CapacityReport:
    tp, pp = cfg.tensor_parallel_size, cfg.pipeline_parallel_size
    layout = cap.parallel_layout_problem(spec, tp, pp)
    if layout:
        valid = [t for t in valid_tensor_parallel_sizes(spec) if t >= tp][:1] or valid_tensor_parallel_sizes(spec)[-1:]
        lower = [t for t in valid_tensor_parallel_sizes(spec) if t < tp][-1:]
        options = ", ".join(str(t) for t in lower + valid)
        raise LayoutError(Problem(kind="layout", message=layout,
                                  suggestion=f"use --tensor-parallel-size {options}" if options else None))

    sources = dict(cfg.sources)
    model_dtype = resolve_model_dtype(cfg.dtype, spec.torch_dtype)
    wbytes = dtype_bytes(model_dtype)
    quant: Quantization | None = resolve_quantization(cfg.quantization, spec.quantization_config)
    if quant is not None and spec.quantization_config and cfg.dtype == "auto" and quant.weight_bits == 4:
        model_dtype, wbytes = "float16", 2  # AWQ/GPTQ kernels run fp16 (vLLM forces it)
    kvb = kv_cache_dtype_bytes(cfg.kv_cache_dtype, model_dtype)
    arithmetic = cap.arithmetic_for(cfg.engine, cfg.vllm_version)
    max_len = cfg.max_model_len or spec.max_position_embeddings
    bs = cfg.block_size
    total_b = gpu.total_memory_gib * GiB
    default_mnbt, default_seqs = cap.default_scheduler_limits(gpu.total_memory_gib, gpu.name)
    mnbt = cfg.max_num_batched_tokens or (max(max_len, 2048) if arithmetic == cap.V0 else default_mnbt)
    seqs = cfg.max_num_seqs or (256 if arithmetic != cap.V1 else default_seqs)

    weights = cap.weight_bytes(spec, wbytes, quant, tp, pp)
    weights_gpu_b = (cfg.model_weights_gib * GiB if cfg.model_weights_gib is not None
                     else weights.per_gpu_bytes)
    sources.setdefault("model_weights_gib", "log" if cfg.model_weights_gib is not None else "theory")

    def pick(value: float | None, estimate: int, name: str) -> float:
        if value is not None:
            sources.setdefault(name, "flag")
            return value * GiB
        sources.setdefault(name, "estimate")
        return float(estimate)

    act_b = pick(cfg.activation_peak_gib, cap.estimate_activation_peak_bytes(spec, wbytes, tp, mnbt, seqs),
                 "activation_peak_gib")
    nt_b = pick(cfg.non_torch_memory_gib, cap.estimate_non_torch_bytes(tp, pp), "non_torch_memory_gib")
    graph_b = pick(cfg.cuda_graph_gib, cap.estimate_cuda_graph_bytes(spec, arithmetic), "cuda_graph_gib")
    if arithmetic != cap.V1:
        graph_b = 0.0  # not subtracted from the KV budget before V1 0.21

    usable_b = total_b * cfg.gpu_memory_utilization
    if cfg.kv_cache_memory_gib is not None:
        budget_b = cfg.kv_cache_memory_gib * GiB
        budget_src = sources.setdefault("kv_cache_memory_gib", "flag")
    else:
        budget_b = cap.kv_budget_bytes(total_b, cfg.gpu_memory_utilization, weights_gpu_b, act_b, nt_b, graph_b)
        budget_src = "theory"

    kvc = cap.kv_capacity(spec, kvb, budget_b, max_len, bs, tp, pp, arithmetic, mnbt)
    stage_layers = max(cap.pp_layer_partition(spec.num_layers, pp))
    replicas = max(1, (cfg.num_gpus or tp * pp) // (tp * pp))

    problems: list[Problem] = []
    notes: list[str] = []
    if max_len > spec.max_position_embeddings:
        problems.append(Problem(
            kind="max_model_len",
            message=(f"max_model_len {max_len} exceeds the model's max_position_embeddings "
                     f"{spec.max_position_embeddings}; vLLM refuses it unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1"),
            suggestion=f"--max-model-len {spec.max_position_embeddings}"))
    if cfg.gpu_memory_used_gib:
        ok_util = cap.free_memory_problem(total_b, cfg.gpu_memory_used_gib * GiB, cfg.gpu_memory_utilization)
        if ok_util is not None:
            free = gpu.total_memory_gib - cfg.gpu_memory_used_gib
            if arithmetic == cap.V1:
                # The smallest usable memory that still serves one max-length request: weights,
                # run-time overheads and that request's KV cache.
                one_request_b = cap.kv_bytes_for_request(spec, kvb, max_len, bs, tp, max(cap.pp_layer_partition(spec.num_layers, pp)))
                needed_b = weights_gpu_b + act_b + nt_b + graph_b + one_request_b
                if ok_util * total_b >= needed_b:
                    suggestion = f"--gpu-memory-utilization {ok_util:.2f} (what is free), or free the GPU"
                else:
                    suggestion = (f"free at least {_gib(needed_b) - free:.1f} GiB more on each GPU: even one "
                                  f"{max_len:,}-token request needs {_gib(needed_b):.1f} GiB (weights, run-time "
                                  f"memory and its KV cache), or more GPUs")
                problems.append(Problem(
                    kind="free_memory",
                    message=(f"only {free:.2f} GiB of {gpu.total_memory_gib:.2f} GiB is free; vLLM V1 refuses "
                             f"to start when free memory is below total x gpu_memory_utilization "
                             f"({_gib(usable_b):.2f} GiB)"),
                    suggestion=suggestion))
            else:
                notes.append(f"only {free:.2f} GiB is free: V0 sizes the KV cache as if the memory were "
                             "free and runs out of memory when it allocates it")
    if weights_gpu_b >= usable_b or budget_b <= 0:
        sugg = _smallest_fitting_tp(spec, gpu, cfg, wbytes, quant, kvb, max_len)
        problems.append(Problem(
            kind="weights_do_not_fit",
            message=(f"weights take {_gib(weights_gpu_b):.2f} GiB per GPU and leave "
                     f"{_gib(budget_b):.2f} GiB for the KV cache of {_gib(usable_b):.2f} GiB usable"),
            suggestion=sugg))
    elif not kvc.fits:
        longest = cap.largest_max_model_len(spec, kvb, budget_b, bs, tp, stage_layers, upper=max_len)
        sugg = f"--max-model-len {longest}" if longest > 0 else None
        tp_sugg = _smallest_fitting_tp(spec, gpu, cfg, wbytes, quant, kvb, max_len)
        if tp_sugg:
            sugg = f"{sugg} (or {tp_sugg})" if sugg else tp_sugg
        problems.append(Problem(
            kind="kv_too_small",
            message=(f"one request of {max_len} tokens needs "
                     f"{cap.format_gib_like_vllm(kvc.kv_needed_for_max_model_len_bytes)} GiB of KV cache, "
                     f"more than the {cap.format_gib_like_vllm(budget_b)} GiB available "
                     "(vLLM stops at start-up with this ValueError)"),
            suggestion=sugg))

    by_ctx = []
    for ctx in [c for c in CONTEXT_LADDER if c < max_len] + [max_len]:
        conc = cap.max_concurrency(kvc.gpu_blocks, ctx, bs, arithmetic, spec, mnbt)
        by_ctx.append({"context_tokens": ctx, "max_concurrency": round(conc, 2),
                       "running_limit": min(int(conc), seqs)})

    # Ceilings
    decode_ctx = cfg.context_tokens or min(2048, max_len)
    ladder: list[dict[str, Any]] = []
    prefill = None
    crossover = None
    eff = None
    if gpu.has_throughput_specs:
        efficiency = Efficiency.for_gpu(gpu, cfg.bandwidth_efficiency, cfg.matmul_efficiency)
        eff = {"bandwidth": efficiency.bandwidth, "matmul": efficiency.matmul}
        lin = quant.bytes_per_param() if quant else float(wbytes)
        r = roofline_inputs(spec, weights.breakdown, weights_gpu_b, lin, kvb, gpu,
                            quant.compute if quant else "fp16", tp, pp, efficiency)
        kv_limit = cap.max_concurrency(kvc.gpu_blocks, decode_ctx, bs, arithmetic, spec, mnbt)
        max_batch = min(seqs, int(kv_limit))
        for step in decode_ladder(r, decode_ctx, max_batch):
            ladder.append({"batch": step.batch, "tokens_per_second": round(step.tokens_per_second * replicas, 1),
                           "bound": step.bound,
                           "step_ms": round(step.seconds * 1000, 3)})
        prefill = round(prefill_ceiling(r, mnbt).tokens_per_second * replicas, 1)
        crossover = crossover_batch(r, decode_ctx)
    else:
        notes.append(f"{gpu.name} has no bandwidth/FLOPS figures: throughput ceilings need --gpu NAME")

    if spec.sliding_window_layers:
        notes.append(f"sliding-window attention ({spec.sliding_window} tokens) on "
                     f"{len(spec.sliding_window_layers)} of {spec.num_layers} layers: per-request blocks "
                     "follow vLLM 0.27.1's SlidingWindowSpec (approximate for mixed layers)")
    if replicas > 1:
        notes.append(f"{replicas} data-parallel replicas: concurrency figures are per replica, "
                     "throughput ceilings are for all replicas")

    return CapacityReport(
        model=spec.name, gpu=gpu.name, gpu_total_memory_gib=gpu.total_memory_gib,
        tensor_parallel_size=tp, pipeline_parallel_size=pp, data_parallel_replicas=replicas,
        max_model_len=max_len, block_size=bs, model_dtype=model_dtype,
        quantization=quant.name if quant else None, kv_cache_dtype=cfg.kv_cache_dtype or "auto",
        kv_cache_dtype_bytes=kvb, arithmetic=arithmetic,
        parameters_total=weights.breakdown.total, parameters_active=weights.breakdown.active,
        model_weights_gib=round(_gib(weights.total_bytes), 4),
        model_weights_gib_per_gpu=round(_gib(weights_gpu_b), 4),
        kv_cache_bytes_per_token=cap.kv_bytes_per_token(spec, kvb, 1),
        kv_cache_bytes_per_token_per_gpu=cap.kv_bytes_per_token(spec, kvb, tp, stage_layers),
        usable_memory_gib_per_gpu=round(_gib(usable_b), 4),
        activation_peak_gib=round(_gib(act_b), 4), non_torch_memory_gib=round(_gib(nt_b), 4),
        cuda_graph_gib=round(_gib(graph_b), 4),
        kv_cache_memory_gib_per_gpu=round(_gib(budget_b), 4),
        kv_cache_memory_gib_per_gpu_source=budget_src,
        gpu_blocks=kvc.gpu_blocks, kv_cache_tokens=kvc.kv_cache_tokens,
        max_concurrency=round(kvc.max_concurrency, 2),
        kv_cache_gib_needed_for_max_model_len=round(_gib(kvc.kv_needed_for_max_model_len_bytes), 4),
        fits=not problems,
        concurrency_by_context=by_ctx, max_num_seqs=seqs, max_num_batched_tokens=mnbt,
        decode_context_tokens=decode_ctx, decode_ceiling_by_batch=ladder,
        prefill_tokens_per_second_ceiling=prefill, crossover_batch=crossover, efficiency=eff,
        inputs=sources, problems=problems, notes=notes,
    )


def roofline_for(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig):
    """RooflineInputs for this setup (None when the GPU has no speed figures)."""
    if not gpu.has_throughput_specs:
        return None
    model_dtype = resolve_model_dtype(cfg.dtype, spec.torch_dtype)
    wbytes = dtype_bytes(model_dtype)
    quant = resolve_quantization(cfg.quantization, spec.quantization_config)
    if quant is not None and spec.quantization_config and cfg.dtype == "auto" and quant.weight_bits == 4:
        model_dtype, wbytes = "float16", 2
    kvb = kv_cache_dtype_bytes(cfg.kv_cache_dtype, model_dtype)
    weights = cap.weight_bytes(spec, wbytes, quant, cfg.tensor_parallel_size, cfg.pipeline_parallel_size)
    w_gpu = cfg.model_weights_gib * GiB if cfg.model_weights_gib is not None else weights.per_gpu_bytes
    efficiency = Efficiency.for_gpu(gpu, cfg.bandwidth_efficiency, cfg.matmul_efficiency)
    lin = quant.bytes_per_param() if quant else float(wbytes)
    return roofline_inputs(spec, weights.breakdown, w_gpu, lin, kvb, gpu, quant.compute if quant else "fp16",
                           cfg.tensor_parallel_size, cfg.pipeline_parallel_size, efficiency)


def _smallest_fitting_tp(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig, wbytes: int,
                         quant: Quantization | None, kvb: int, max_len: int) -> str | None:
    """The smallest valid TP (above the current one) at which one max-length request fits."""
    for tp in valid_tensor_parallel_sizes(spec):
        if tp <= cfg.tensor_parallel_size:
            continue
        trial = cfg.model_copy(update={"tensor_parallel_size": tp, "kv_cache_memory_gib": None,
                                       "model_weights_gib": None, "num_gpus": None})
        arithmetic = cap.arithmetic_for(trial.engine, trial.vllm_version)
        w = cap.weight_bytes(spec, wbytes, quant, tp, trial.pipeline_parallel_size).per_gpu_bytes
        mnbt, seqs = cap.default_scheduler_limits(gpu.total_memory_gib, gpu.name)
        act = (trial.activation_peak_gib * GiB if trial.activation_peak_gib is not None
               else cap.estimate_activation_peak_bytes(spec, wbytes, tp, trial.max_num_batched_tokens or mnbt,
                                                       trial.max_num_seqs or seqs))
        nt = (trial.non_torch_memory_gib * GiB if trial.non_torch_memory_gib is not None
              else cap.estimate_non_torch_bytes(tp, trial.pipeline_parallel_size))
        graph = cap.estimate_cuda_graph_bytes(spec, arithmetic)
        budget = cap.kv_budget_bytes(gpu.total_memory_gib * GiB, trial.gpu_memory_utilization, w, act, nt, graph)
        layers = max(cap.pp_layer_partition(spec.num_layers, trial.pipeline_parallel_size))
        need = cap.kv_bytes_for_request(spec, kvb, max_len, trial.block_size, tp, layers)
        if budget > 0 and need <= budget:
            return f"--tensor-parallel-size {tp} ({tp * trial.pipeline_parallel_size} GPUs)"
    return None
