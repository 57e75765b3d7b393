"""Put theory beside what a log says: `vllm-obs analyze` calls `theory_for_summary`.

Two theories per engine start:
- "as logged": vLLM's arithmetic applied to the KV budget the log printed. Blocks, tokens and
  concurrency then match the log to within the budget's rounding (ratio ~1.00); a mismatch means
  the model, KV dtype or block size are not what we assumed.
- "predicted": the budget theory expects from total memory (weights from shapes, estimated
  activation/non-torch/graph memory), so the user sees where memory went when it differs.
"""

from __future__ import annotations

from typing import Any

from . import capacity as cap
from .model_catalog import UnknownModelError, resolve_model
from .dtypes import DtypeError, GiB, guess_quantization_from_name
from .estimate import generation_estimate, interval_running
from .gpus import GpuSpec, UnknownGpuError, custom_gpu, find_gpu, guess_gpu_from_total
from .models import ModelConfigError
from .overheads import graph_estimate_bytes
from .sizing import CapacityReport, LayoutError, ServingConfig, build_report, roofline_for
from .throughput import decode_step
from .versions import VersionError, rules_for

TOLERANCE = 0.05

# summary key -> ServingConfig field
_LOG_FIELDS = {
    "tensor_parallel_size": "tensor_parallel_size", "pipeline_parallel_size": "pipeline_parallel_size",
    "max_model_len": "max_model_len", "gpu_memory_utilization": "gpu_memory_utilization",
    "dtype": "dtype", "kv_cache_dtype": "kv_cache_dtype", "block_size": "block_size",
    "engine": "engine", "vllm_version": "vllm_version",
}


def _ratio(observed: float | None, theory: float | None) -> float | None:
    if observed is None or theory is None or theory <= 0 or observed < 0:
        return None  # a ratio of negative budgets says nothing
    return round(observed / theory, 4)


def _pct(ratio: float | None) -> str:
    if ratio is None:
        return "differs from theory"
    diff = (ratio - 1) * 100
    return f"{abs(diff):.0f}% {'above' if diff > 0 else 'below'} theory"


def _resolve(summary: dict, model: str | None, model_config: str | None) -> tuple | None:
    names: list[str | None] = [model] if (model or model_config) else []
    names += [summary.get("model")]
    served = summary.get("served_model_name")
    names += served if isinstance(served, list) else [served]
    candidates: list[str | None] = [n for n in names if n]
    for name in candidates or [None]:
        try:
            spec, where = resolve_model(name, model_config)
            return spec, name, where
        except (UnknownModelError, ModelConfigError):
            if model_config:
                return None
            continue
    return None


def resolve_setup(summary: dict, *, model: str | None = None, model_config: str | None = None,
                  gpu: str | None = None):
    """What theory runs on for one engine start: (spec, model name, GPU, ServingConfig fields,
    inputs with their sources), or None when the model is unknown or nothing is known about
    memory (no GPU, no total memory and no logged KV budget). Used by `theory_for_summary` and
    by the sidecar's theory metrics."""
    resolved = _resolve(summary or {}, model, model_config)
    if resolved is None:
        return None
    spec, model_name, model_source = resolved
    inputs: dict[str, dict[str, Any]] = {
        "model": {"value": spec.name, "source": "flag" if (model or model_config) else "log",
                  "detail": model_source},
    }

    # --- GPU: a named card gives speeds; the log's total memory wins for memory.
    total_logged = summary.get("total_gpu_memory_gib")
    gpu_spec: GpuSpec | None = None
    if gpu:
        try:
            gpu_spec = find_gpu(gpu)
        except UnknownGpuError:
            gpu_spec = None
        inputs["gpu"] = {"value": gpu, "source": "flag"}
    elif total_logged:
        gpu_spec = guess_gpu_from_total(total_logged)
        if gpu_spec:
            inputs["gpu"] = {"value": gpu_spec.name, "source": "log (total_gpu_memory matches)"}
    if total_logged:
        gpu_spec = custom_gpu(total_logged, gpu_spec)
        inputs["total_gpu_memory_gib"] = {"value": total_logged, "source": "log"}
    logged_budget = summary.get("kv_cache_memory_gib")
    if gpu_spec is None:
        if logged_budget is None:
            return None
        gpu_spec = custom_gpu(0.0)  # memory unknown: only the as-logged arithmetic is meaningful

    # --- serving config from the log, with defaults recorded as such.
    fields: dict[str, Any] = {}
    for key, field in _LOG_FIELDS.items():
        value = summary.get(key)
        if value is not None:
            fields[field] = value
            inputs[key] = {"value": value, "source": "log"}
    # The release in the log decides the defaults (0.92 utilization since 0.20) and memory rules.
    try:
        applied = rules_for(fields.get("vllm_version"), "log")
    except VersionError:
        fields.pop("vllm_version", None)
        applied = rules_for(None)
        inputs["vllm_version"] = {"value": summary.get("vllm_version"), "source": "log (not a version: newest rules)"}
    inputs["vllm_rules"] = {"value": applied.rules.label, "source": applied.describe()}
    if fields.get("vllm_version"):
        fields["sources"] = {"vllm_version": "log"}
    for key, default in (("tensor_parallel_size", 1), ("pipeline_parallel_size", 1),
                         ("max_model_len", spec.max_position_embeddings),
                         ("gpu_memory_utilization", applied.rules.default_gpu_memory_utilization),
                         ("block_size", applied.rules.default_block_size),
                         ("kv_cache_dtype", "auto"), ("dtype", "auto")):
        if key not in inputs:
            inputs[key] = {"value": default, "source": f"default of vLLM {applied.rules.label}"
                           if key in ("gpu_memory_utilization", "block_size") else "default"}
    if summary.get("max_concurrency_tokens_per_request") and "max_model_len" not in fields:
        fields["max_model_len"] = int(summary["max_concurrency_tokens_per_request"])
        inputs["max_model_len"] = {"value": fields["max_model_len"], "source": "log (concurrency line)"}
    quant = summary.get("quantization")
    if quant is None and model_name:
        quant = guess_quantization_from_name(str(model_name))
        if quant:
            inputs["quantization"] = {"value": quant, "source": "model name"}
    elif quant is not None:
        inputs["quantization"] = {"value": quant, "source": "log"}
    if isinstance(quant, str) and quant.lower().startswith("compressed"):
        quant = "compressed-tensors"
    fields["quantization"] = quant
    if summary.get("dtype") in (None, "auto"):
        fields.pop("dtype", None)

    return spec, model_name, gpu_spec, fields, inputs


def theory_for_summary(summary: dict, *, model: str | None = None, model_config: str | None = None,
                       gpu: str | None = None) -> dict | None:
    """The theory object for one engine start, or None when the model is unknown or there is not
    enough to compute (no GPU, no total memory and no logged KV budget)."""
    setup = resolve_setup(summary, model=model, model_config=model_config, gpu=gpu)
    if setup is None:
        return None
    spec, model_name, gpu_spec, fields, inputs = setup
    logged_budget = summary.get("kv_cache_memory_gib")
    logged = {
        "model_weights_gib": summary.get("model_weights_gib"),
        "activation_peak_gib": summary.get("activation_peak_gib"),
        "non_torch_memory_gib": summary.get("non_torch_memory_gib"),
        "cuda_graph_gib": summary.get("cuda_graph_gib"),
    }
    try:
        predicted = build_report(spec, gpu_spec, ServingConfig(**fields)) if gpu_spec.total_memory_gib else None
        as_logged = build_report(spec, gpu_spec, ServingConfig(
            **{k: v for k, v in fields.items() if k != "sources"}, kv_cache_memory_gib=logged_budget,
            sources={**fields.get("sources", {}),
                     **({"kv_cache_memory_gib": "log"} if logged_budget is not None else {})}))
    except (LayoutError, DtypeError, ValueError):
        return None

    base = as_logged if logged_budget is not None else predicted
    assert base is not None
    out: dict[str, Any] = {
        key: value for key, value in base.to_plan_dict().items()
        if key not in ("inputs", "problems", "notes")
    }
    out["model"] = spec.name
    if not gpu_spec.total_memory_gib:
        out["gpu"] = None
        out["gpu_total_memory_gib"] = None
    if predicted is not None:
        out["predicted"] = _predicted(predicted)
    out["inputs"] = inputs

    observed_vs: dict[str, dict[str, Any]] = {}
    explanations: list[str] = []

    def compare(name: str, observed: float | None, theory: float | None, why) -> None:
        if observed is None or theory is None:
            return
        r = _ratio(observed, theory)
        observed_vs[name] = {"observed": observed, "theory": theory, "ratio": r}
        off = abs(r - 1) > TOLERANCE if r is not None else abs(observed - theory) > 0.05
        if off:
            line = why(r, observed, theory)
            if line:
                explanations.append(line)

    per_block_gib = base.kv_cache_bytes_per_token_per_gpu * base.block_size / GiB
    # Weights: theory from shapes vs the log.
    compare("model_weights_gib", logged["model_weights_gib"], base.model_weights_gib_per_gpu
            if summary.get("model_weights_gib") is None else _theory_weights(spec, gpu_spec, fields),
            lambda r, o, t: (f"weights {_pct(r)} ({o:.2f} vs {t:.2f} GiB per GPU): the checkpoint is not "
                             f"stored as assumed (dtype {base.model_dtype}, quantization "
                             f"{base.quantization or 'none'}) or holds extra tensors"))
    if predicted is not None:
        rng = predicted.kv_capacity_range
        budget_range = ((rng["low"]["kv_cache_memory_gib"], rng["high"]["kv_cache_memory_gib"]) if rng else None)
        compare("kv_cache_memory_gib", logged_budget, predicted.kv_cache_memory_gib_per_gpu,
                lambda r, o, t: None if budget_range and o > 0 and budget_range[0] - 0.005 <= o <= budget_range[1] + 0.005
                else _budget_explanation(r, o, t, predicted, logged))
        if budget_range and "kv_cache_memory_gib" in observed_vs:
            entry = observed_vs["kv_cache_memory_gib"]
            entry["range"] = list(budget_range)
            entry["inside_range"] = budget_range[0] - 0.005 <= entry["observed"] <= budget_range[1] + 0.005
            entry["dominant_term"] = rng["dominant_term"] if rng else None
        for key, label in (("activation_peak_gib", "activation peak"), ("non_torch_memory_gib", "non-torch memory"),
                           ("cuda_graph_gib", "CUDA graph memory")):
            theory_v = getattr(predicted, key)
            if key == "cuda_graph_gib" and theory_v == 0:
                theory_v = graph_estimate_bytes(spec.num_layers) / GiB  # captured, though not subtracted
            compare(key, logged[key], theory_v,
                    lambda r, o, t, label=label: (f"{label} {_pct(r)} ({o:.2f} vs {t:.2f} GiB, an estimate: "
                                                  "the logged value is the one that counts)")
                    if abs(o - t) >= 0.1 else None)
    # Blocks, tokens, concurrency: exact arithmetic on the logged budget.
    if logged_budget is not None:
        rounding_blocks = 0.005 / per_block_gib if per_block_gib else 0
        mismatch = (lambda what: lambda r, o, t: (
            f"{what} {_pct(r)}: vLLM's arithmetic on the logged {logged_budget:.2f} GiB gives {t:,}; the KV layout "
            f"differs from the assumed one (kv_cache_dtype {base.kv_cache_dtype}, block_size {base.block_size}, "
            f"{base.kv_cache_bytes_per_token_per_gpu:,} B/token per GPU)"))
        gpu_blocks_obs = summary.get("gpu_blocks")
        if gpu_blocks_obs is not None and abs(gpu_blocks_obs - base.gpu_blocks) <= rounding_blocks + 1:
            observed_vs["gpu_blocks"] = {"observed": gpu_blocks_obs, "theory": base.gpu_blocks,
                                         "ratio": _ratio(gpu_blocks_obs, base.gpu_blocks)}
        else:
            compare("gpu_blocks", gpu_blocks_obs, base.gpu_blocks, mismatch("GPU blocks"))
        compare("kv_cache_tokens", summary.get("kv_cache_tokens"), base.kv_cache_tokens, mismatch("KV cache tokens"))
        compare("max_concurrency", summary.get("max_concurrency"), base.max_concurrency, mismatch("max concurrency"))
    elif predicted is not None:
        for key in ("gpu_blocks", "kv_cache_tokens", "max_concurrency"):
            compare(key, summary.get(key), getattr(predicted, key),
                    lambda r, o, t, key=key: f"{key.replace('_', ' ')} {_pct(r)} (theory {t:,}): see the KV budget")
    if gpu_spec.has_throughput_specs:
        _throughput(summary, spec, gpu_spec, ServingConfig(**fields), base, observed_vs, explanations)
    out["observed_vs_theory"] = observed_vs
    out["explanations"] = explanations
    return out


def _theory_weights(spec, gpu_spec, fields) -> float:
    cfg = ServingConfig(**fields)
    return build_report(spec, gpu_spec if gpu_spec.total_memory_gib else custom_gpu(80.0), cfg).model_weights_gib_per_gpu


def _predicted(r: CapacityReport) -> dict[str, Any]:
    keys = ("usable_memory_gib_per_gpu", "model_weights_gib_per_gpu", "activation_peak_gib",
            "non_torch_memory_gib", "cuda_graph_gib", "kv_cache_memory_gib_per_gpu", "gpu_blocks",
            "kv_cache_tokens", "max_concurrency", "kv_cache_gib_needed_for_max_model_len", "fits",
            "kv_capacity_range", "vllm_rules")
    return {k: getattr(r, k) for k in keys}


def _budget_explanation(ratio: float | None, observed: float, theory: float, predicted: CapacityReport,
                        logged: dict[str, float | None]) -> str:
    gap = theory - observed
    deltas = []
    for key, label, theory_v in (
            ("model_weights_gib", "weights", predicted.model_weights_gib_per_gpu),
            ("activation_peak_gib", "activation peak", predicted.activation_peak_gib),
            ("non_torch_memory_gib", "non-torch memory", predicted.non_torch_memory_gib),
            ("cuda_graph_gib", "CUDA graphs", predicted.cuda_graph_gib)):
        logged_v = logged.get(key)
        if logged_v is not None:
            deltas.append((logged_v - theory_v, label))
    head = (f"KV capacity {_pct(ratio)} ({observed:.2f} vs {theory:.2f} GiB)" if ratio is not None
            else f"KV budget {observed:.2f} GiB where theory expects {theory:.2f} GiB")
    if gap > 0:
        explained = [(d, label) for d, label in deltas if d > 0.05]
        if explained:
            d, label = max(explained)
            rest = gap - sum(d for d, _ in explained)
            tail = f"; {rest:.2f} GiB more is unaccounted" if rest > 0.1 else ""
            return f"{head}: the logged {label} is {d:.2f} GiB above theory{tail}"
        return (f"{head}: something else holds {gap:.2f} GiB of this GPU's budget (another process on "
                "vLLM <= 0.6.3, a larger profiling peak, or a lower --gpu-memory-utilization than assumed)")
    return (f"{head}: vLLM found {-gap:.2f} GiB more than theory expects (smaller activation/graph memory "
            "than estimated, or a higher --gpu-memory-utilization than assumed)")


def interval_throughput(r_in, generation_tps: float, prompt_tps: float | None, running_end: int,
                        context_tokens: int, upper: int) -> dict[str, Any]:
    """The ceiling for what one stats interval could reach (estimate.interval_running) and the
    estimate for the line's own running count beside it."""
    ratio_pg = (prompt_tps or 0.0) / generation_tps if generation_tps > 0 else 0.0
    n, basis, avg = interval_running(r_in, generation_tps, context_tokens, running_end, ratio_pg, upper)
    ceiling = decode_step(r_in, n, context_tokens).tokens_per_second
    estimate = generation_estimate(r_in, running_end, context_tokens, ratio_pg)
    return {"ceiling": round(ceiling, 1), "ceiling_running": round(n, 1), "ceiling_running_basis": basis,
            "estimate": round(estimate, 1), "estimate_running": running_end,
            "average_running_inferred": round(avg, 1) if avg is not None else None,
            "average_running_basis": "throughput / per-request rate of the estimate" if avg is not None
            else "not inferable (above the estimate at the largest batch)",
            "efficiency_ratio": _ratio(generation_tps, ceiling)}


def _throughput(summary: dict, spec, gpu_spec: GpuSpec, cfg: ServingConfig, base: CapacityReport,
                observed_vs: dict, explanations: list[str]) -> None:
    """The best observed generation rate per request beside the ceiling and the estimate for that interval
    (context from KV usage x KV tokens / running, when the stats line gives it)."""
    r_in = roofline_for(spec, gpu_spec, cfg)
    stats = [s for s in summary.get("stats") or [] if s.get("generation_tps") and s.get("running")]
    if not stats or r_in is None:
        return
    # The best rate per running request (analysis.add_theory passes only that line): the interval
    # most likely to have had more requests than its end count, which the ceiling allows for.
    best = max(stats, key=lambda s: s["generation_tps"] / max(s["running"], 1))
    running = int(best["running"])
    ctx = base.decode_context_tokens
    ctx_source = "assumed"
    if best.get("gpu_kv_usage_pct") is not None and base.kv_cache_tokens:
        est = int(best["gpu_kv_usage_pct"] / 100 * base.kv_cache_tokens / running)
        if est > 0:
            ctx, ctx_source = est, "from KV usage"
    upper = base.max_num_seqs
    if base.gpu_blocks:
        upper = max(1, min(upper, int(cap.max_concurrency(base.gpu_blocks, ctx, base.block_size))))
    it = interval_throughput(r_in, best["generation_tps"], best.get("prompt_tps"), running, ctx, upper)
    r = it["efficiency_ratio"]
    observed_vs["generation_tokens_per_second"] = {
        "observed": best["generation_tps"], "theory": it["ceiling"], "ratio": r, "running": running,
        "context_tokens": ctx, "context_source": ctx_source, "theory_is": "roofline ceiling",
        "estimate": it["estimate"], "observed_vs_estimate": _ratio(best["generation_tps"], it["estimate"]),
        **{k: it[k] for k in ("ceiling_running", "ceiling_running_basis", "estimate_running",
                              "average_running_inferred", "average_running_basis")}}
    if r is not None and r > 1 + TOLERANCE:
        explanations.append(
            f"generation {best['generation_tps']:,.0f} tok/s is above the roofline ceiling even at "
            f"{it['ceiling_running']} running ({it['ceiling']:,.0f}): the GPU or model is not the one assumed")
    elif r is not None and r < 1 - TOLERANCE:
        explanations.append(
            f"generation {best['generation_tps']:,.0f} tok/s at {running} running is {r:.0%} of the roofline "
            f"ceiling ({it['ceiling']:,.0f} tok/s at {ctx:,} tokens of context; {it['ceiling_running_basis']}); "
            f"the estimate for this interval is {it['estimate']:,.0f} tok/s")
