"""Assemble a CapacityReport: ModelSpec x GpuSpec x ServingConfig -> the numbers `plan` prints.

`build_report` is pure (specs in, report out). `CapacityReport.to_plan_dict()` is the
`vllm-obs plan --format json` contract; its key names must not change (values are null where the
inputs do not allow them: without a GPU there is no KV budget unless one is given).
The vLLM release decides defaults and memory rules (versions.py); what vLLM measures at start-up
is a low / expected / high range (overheads.py), collapsed by a logged or given value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import capacity as cap
from . import overheads as oh
from .dtypes import GiB, Quantization, dtype_bytes, kv_cache_dtype_bytes, resolve_model_dtype, resolve_quantization
from .estimate import closed_loop, kv_running_limit
from .gpus import GpuSpec
from .models import ModelSpec
from .throughput import (Efficiency, RooflineInputs, crossover_batch, decode_ladder, prefill_ceiling,
                         roofline_inputs)
from .versions import AppliedRules, graphs_subtracted, rules_for, uses_v2_model_runner
from .versions import default_scheduler_limits as rules_scheduler_limits

CONTEXT_LADDER = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)


class ServingConfig(BaseModel):
    """The vLLM flags that decide memory, plus what a log or the user measured."""

    model_config = ConfigDict(frozen=True)

    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    num_gpus: int | None = None
    max_model_len: int | None = None           # None: the model's max_position_embeddings (vLLM's default)
    gpu_memory_utilization: float | None = None  # None: the release's default (0.9, or 0.92 since 0.20)
    dtype: str = "auto"
    quantization: str | None = None
    kv_cache_dtype: str = "auto"
    block_size: int | None = None              # None: the release's default (16)
    kv_cache_memory_gib: float | None = None   # per-GPU KV budget as vLLM logged it
    gpu_memory_used_gib: float = 0.0           # held by other processes before vLLM starts
    model_weights_gib: float | None = None     # per GPU, as logged
    activation_peak_gib: float | None = None
    non_torch_memory_gib: float | None = None
    cuda_graph_gib: float | None = None
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    engine: str | None = None                  # "v0" / "v1"; None: the release's engine
    vllm_version: str | None = None            # None: the newest release versions.py knows
    v2_model_runner: bool | None = None        # None: the release's default for this model
    context_tokens: int | None = None          # context each running request holds, for decode ceilings
    bandwidth_efficiency: float | None = None
    matmul_efficiency: float | None = None
    prompt_tokens: int | None = None           # closed-loop workload for the throughput estimate
    output_tokens: int | None = None
    concurrency: tuple[int, ...] | None = None
    sources: dict[str, str] = Field(default_factory=dict)  # input name -> "log" / "flag" / "default"


class Problem(BaseModel):
    kind: str         # layout | weights_do_not_fit | kv_too_small | free_memory | max_model_len
    message: str
    suggestion: str | None = None


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
    activation_peak_gib: float | None
    non_torch_memory_gib: float | None
    cuda_graph_gib: float | None
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


def valid_tensor_parallel_sizes(spec: ModelSpec, upper: int = 64) -> list[int]:
    return [tp for tp in range(1, upper + 1) if cap.parallel_layout_problem(spec, tp, 1) is None]


class _Setup(BaseModel):
    """What a config resolves to under its vLLM release (shared by the report and the ceilings)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    applied: Any
    arithmetic: str
    model_dtype: str
    weight_dtype_bytes: int
    quant: Any
    kv_dtype_bytes: int
    max_model_len: int
    block_size: int
    utilization: float
    max_num_batched_tokens: int
    max_num_seqs: int
    v2_runner: bool
    graphs_subtracted: bool


def resolve(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig) -> _Setup:
    """Apply the release's rules and defaults to a config (raises versions.VersionError)."""
    version, version_src = cfg.vllm_version, cfg.sources.get("vllm_version", "flag")
    if version is None and cfg.engine == "v0":
        version, version_src = "0.7.3", "assumed from engine V0 (no version given)"  # the last V0-only release
    applied: AppliedRules = rules_for(version, version_src)
    rules = applied.rules
    model_dtype = resolve_model_dtype(cfg.dtype, spec.torch_dtype)
    wbytes = dtype_bytes(model_dtype)
    quant: Quantization | None = resolve_quantization(cfg.quantization, spec.quantization_config)
    if quant is not None and spec.quantization_config and cfg.dtype == "auto" and quant.weight_bits == 4:
        model_dtype, wbytes = "float16", 2  # AWQ/GPTQ kernels run fp16 (vLLM forces it)
    arithmetic = cap.arithmetic_for(cfg.engine, version)
    max_len = cfg.max_model_len or spec.max_position_embeddings
    mnbt_default, seqs_default = rules_scheduler_limits(rules, gpu.total_memory_gib or None, gpu.name)
    if arithmetic == cap.V0:
        mnbt_default, seqs_default = max(max_len, 2048), 256  # V0 without chunked prefill
    v2 = cfg.v2_model_runner
    if v2 is None:
        v2 = arithmetic == cap.V1 and uses_v2_model_runner(rules, spec.architectures, spec.is_moe, quant is not None)
    return _Setup(
        applied=applied, arithmetic=arithmetic, model_dtype=model_dtype, weight_dtype_bytes=wbytes, quant=quant,
        kv_dtype_bytes=kv_cache_dtype_bytes(cfg.kv_cache_dtype, model_dtype), max_model_len=max_len,
        block_size=cfg.block_size or rules.default_block_size,
        utilization=cfg.gpu_memory_utilization or rules.default_gpu_memory_utilization,
        max_num_batched_tokens=cfg.max_num_batched_tokens or mnbt_default,
        max_num_seqs=cfg.max_num_seqs or seqs_default, v2_runner=v2,
        graphs_subtracted=graphs_subtracted(rules, v2) if arithmetic == cap.V1 else False)


def overhead_terms(spec: ModelSpec, cfg: ServingConfig, s: _Setup, tp: int) -> list[oh.Term]:
    """Activation peak, non-torch and CUDA graphs for this setup, as ranges (a value given or
    logged collapses its range)."""
    src = cfg.sources
    formula = cap.estimate_activation_peak_bytes(spec, s.weight_dtype_bytes, tp, s.max_num_batched_tokens,
                                                 s.max_num_seqs)
    acc = s.applied.rules.accounting
    return [
        oh.activation_term(formula, acc, cfg.activation_peak_gib, src.get("activation_peak_gib", "flag")),
        oh.non_torch_term(acc, tp * cfg.pipeline_parallel_size > 1, cfg.non_torch_memory_gib,
                          src.get("non_torch_memory_gib", "flag")),
        oh.graph_term(spec.num_layers, s.graphs_subtracted, cfg.cuda_graph_gib, src.get("cuda_graph_gib", "flag")),
    ]


def _rules_dict(s: _Setup) -> dict[str, Any]:
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
    kv_range = None
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
    problems, notes = _problems(spec, gpu, cfg, s, weights_gpu_b, terms, usable_b, budget_b, kvc, needed_b)

    by_ctx = []
    if kvc is not None:
        for ctx in [c for c in CONTEXT_LADDER if c < max_len] + [max_len]:
            conc = cap.max_concurrency(kvc.gpu_blocks, ctx, bs, arithmetic, spec, mnbt)
            by_ctx.append({"context_tokens": ctx, "max_concurrency": round(conc, 2),
                           "running_limit": min(int(conc), seqs)})

    decode_ctx = cfg.context_tokens or min(2048, max_len)
    ladder: list[dict[str, Any]] = []
    prefill = crossover = eff = estimate = None
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


def _problems(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig, s: _Setup, weights_gpu_b: float,
              terms: list[oh.Term], usable_b: float | None, budget_b: float | None, kvc: cap.KvCapacity | None,
              needed_b: int) -> tuple[list[Problem], list[str]]:
    problems: list[Problem] = []
    notes: list[str] = []
    max_len, tp, pp = s.max_model_len, cfg.tensor_parallel_size, cfg.pipeline_parallel_size
    total_b = gpu.total_memory_gib * GiB
    overheads_b = sum(t.expected_bytes for t in terms)
    too_long = max_len > spec.max_position_embeddings
    if too_long:
        # One suggestion: the model's limit, or less if the KV budget cannot hold that.
        limit = spec.max_position_embeddings
        if budget_b is not None:
            limit = min(limit, cap.largest_max_model_len(spec, s.kv_dtype_bytes, budget_b, s.block_size, tp,
                                                         max(cap.pp_layer_partition(spec.num_layers, pp)), upper=limit))
        problems.append(Problem(
            kind="max_model_len",
            message=(f"max_model_len {max_len} exceeds the model's max_position_embeddings "
                     f"{spec.max_position_embeddings}; vLLM refuses it unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1"),
            suggestion=f"--max-model-len {limit}" if limit > 0 else None))
    if cfg.gpu_memory_used_gib and usable_b is not None:
        ok_util = cap.free_memory_problem(total_b, cfg.gpu_memory_used_gib * GiB, s.utilization)
        if ok_util is not None:
            free = gpu.total_memory_gib - cfg.gpu_memory_used_gib
            if s.arithmetic == cap.V1:
                # The smallest usable memory that still serves one max-length request.
                need_all = weights_gpu_b + overheads_b + needed_b
                if ok_util * total_b >= need_all:
                    suggestion = f"--gpu-memory-utilization {ok_util:.2f} (what is free), or free the GPU"
                else:
                    suggestion = (f"free at least {_gib(need_all) - free:.1f} GiB more on each GPU: even one "
                                  f"{max_len:,}-token request needs {_gib(need_all):.1f} GiB (weights, run-time "
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
    if budget_b is None or kvc is None:
        return problems, notes
    if (usable_b is not None and weights_gpu_b >= usable_b) or budget_b <= 0:
        sugg = _smallest_fitting_tp(spec, gpu, cfg, s) if usable_b is not None else None
        if usable_b is not None:
            message = (f"weights take {_gib(weights_gpu_b):.2f} GiB per GPU and leave "
                       f"{_gib(budget_b):.2f} GiB for the KV cache of {_gib(usable_b):.2f} GiB usable")
        else:
            message = f"a KV budget of {_gib(budget_b):.2f} GiB holds no KV cache"
        problems.append(Problem(kind="weights_do_not_fit", message=message, suggestion=sugg))
    elif not kvc.fits and not too_long:
        stage_layers = max(cap.pp_layer_partition(spec.num_layers, pp))
        longest = cap.largest_max_model_len(spec, s.kv_dtype_bytes, budget_b, s.block_size, tp, stage_layers,
                                            upper=max_len)
        sugg = f"--max-model-len {longest}" if longest > 0 else None
        tp_sugg = _smallest_fitting_tp(spec, gpu, cfg, s) if usable_b is not None else None
        if tp_sugg:
            sugg = f"{sugg} (or {tp_sugg})" if sugg else tp_sugg
        problems.append(Problem(
            kind="kv_too_small",
            message=(f"one request of {max_len} tokens needs "
                     f"{cap.format_gib_like_vllm(kvc.kv_needed_for_max_model_len_bytes)} GiB of KV cache, "
                     f"more than the {cap.format_gib_like_vllm(budget_b)} GiB available "
                     "(vLLM stops at start-up with this ValueError)"),
            suggestion=sugg))
    return problems, notes


def roofline_for(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig, setup: _Setup | None = None) -> RooflineInputs | None:
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


def _smallest_fitting_tp(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig, s: _Setup) -> str | None:
    """The smallest valid TP (above the current one) at which one max-length request fits
    (expected overheads of this vLLM release)."""
    for tp in valid_tensor_parallel_sizes(spec):
        if tp <= cfg.tensor_parallel_size:
            continue
        trial = cfg.model_copy(update={"tensor_parallel_size": tp, "kv_cache_memory_gib": None,
                                       "model_weights_gib": None, "num_gpus": None})
        w = cap.weight_bytes(spec, s.weight_dtype_bytes, s.quant, tp, trial.pipeline_parallel_size).per_gpu_bytes
        over = sum(t.expected_bytes for t in overhead_terms(spec, trial, s, tp))
        budget = cap.kv_budget_bytes(gpu.total_memory_gib * GiB, s.utilization, w, over, 0.0, 0.0)
        layers = max(cap.pp_layer_partition(spec.num_layers, trial.pipeline_parallel_size))
        need = cap.kv_bytes_for_request(spec, s.kv_dtype_bytes, s.max_model_len, s.block_size, tp, layers)
        if budget > 0 and need <= budget:
            return f"--tensor-parallel-size {tp} ({tp * trial.pipeline_parallel_size} GPUs)"
    return None
