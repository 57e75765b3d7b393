"""What vLLM would refuse or run out of, with the nearest config that works."""

from __future__ import annotations

from . import capacity as cap
from . import overheads as oh
from .dtypes import GiB
from .gpus import GpuSpec
from .models import ModelSpec
from .setup import Problem, ServingConfig, Setup, overhead_terms


def _gib(b: float) -> float:
    return b / GiB


def valid_tensor_parallel_sizes(spec: ModelSpec, upper: int = 64) -> list[int]:
    return [tp for tp in range(1, upper + 1) if cap.parallel_layout_problem(spec, tp, 1) is None]


def find_problems(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig, s: Setup, weights_gpu_b: float,
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


def _smallest_fitting_tp(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig, s: Setup) -> str | None:
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
