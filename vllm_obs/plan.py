"""`vllm-obs plan`'s work: build the serving config from flags, compute the report, render it.

The command-line definition lives in `vllm_obs/cli/plan_command.py`, which imports this module only
when the command runs (the theory catalogs are not loaded to print --help or run other commands).
"""

from __future__ import annotations

import argparse
import json
import sys

from vllm_obs.theory.model_catalog import UnknownModelError, resolve_model
from vllm_obs.theory.dtypes import DtypeError, guess_quantization_from_name
from vllm_obs.theory.gpus import UnknownGpuError, custom_gpu, find_gpu
from vllm_obs.theory.models import ModelConfigError
from vllm_obs.theory.sizing import CapacityReport, LayoutError, ServingConfig, build_report
from vllm_obs.theory.versions import VersionError, engine_problem, rules_for


def _usage(message: str) -> Exception:
    from vllm_obs.cli.common import UsageError  # late import: cli imports this module
    return UsageError(message)


def _concurrency(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise _usage(f"--concurrency {text!r}: give whole numbers separated by commas, like 1,8,64,256") from None
    if not values or min(values) < 1:
        raise _usage("--concurrency values must be at least 1")
    return values


def build_config(args: argparse.Namespace, model_name: str | None) -> ServingConfig:
    for name in ("num_gpus", "tensor_parallel_size", "pipeline_parallel_size", "max_model_len",
                 "block_size", "max_num_seqs", "max_num_batched_tokens", "context_tokens",
                 "prompt_tokens", "output_tokens"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise _usage(f"--{name.replace('_', '-')} must be at least 1")
    util = args.gpu_memory_utilization
    if util is not None and not 0 < util <= 1:
        raise _usage("--gpu-memory-utilization must be in (0, 1]")
    for name in ("gpu_memory_gib", "kv_cache_memory_gib", "activation_peak_gib", "non_torch_gib",
                 "cuda_graph_gib", "gpu_memory_used_gib"):
        value = getattr(args, name, None)
        if value is not None and value < 0:
            raise _usage(f"--{name.replace('_', '-')} cannot be negative")
    if args.kv_cache_memory_gib == 0:
        raise _usage("--kv-cache-memory-gib must be positive (vLLM refuses a zero KV budget)")
    try:
        applied = rules_for(args.vllm_version)
    except VersionError as exc:
        raise _usage(str(exc)) from None
    problem = engine_problem(args.engine, args.vllm_version)
    if problem:
        raise _usage(problem)
    if args.block_size is not None:
        problem = applied.rules.block_size_problem(args.block_size)
        if problem:
            raise _usage(problem)
    if (args.prompt_tokens is None) != (args.output_tokens is None):
        raise _usage("the throughput estimate needs both --prompt-tokens and --output-tokens")
    if getattr(args, "concurrency", None) and args.prompt_tokens is None:
        raise _usage("--concurrency needs --prompt-tokens and --output-tokens (the requests it keeps in flight)")
    pp = args.pipeline_parallel_size
    tp = args.tensor_parallel_size
    sources = {}
    if tp is None:
        tp = max(1, (args.num_gpus or pp) // pp)
        sources["tensor_parallel_size"] = "--num-gpus" if args.num_gpus else "default"
    if args.num_gpus is not None and args.num_gpus < tp * pp:
        raise _usage(f"--num-gpus {args.num_gpus} is fewer than tensor x pipeline parallel = {tp * pp}")
    quant = args.quantization
    if quant is None and model_name:
        guessed = guess_quantization_from_name(model_name)
        if guessed:
            quant = guessed
            sources["quantization"] = "model name"
    sources["vllm_version"] = "flag" if args.vllm_version else "default (newest known)"
    return ServingConfig(
        tensor_parallel_size=tp, pipeline_parallel_size=pp, num_gpus=args.num_gpus,
        max_model_len=args.max_model_len, gpu_memory_utilization=util,
        dtype=args.dtype, quantization=quant, kv_cache_dtype=args.kv_cache_dtype,
        block_size=args.block_size, kv_cache_memory_gib=args.kv_cache_memory_gib,
        gpu_memory_used_gib=args.gpu_memory_used_gib or 0.0,
        activation_peak_gib=args.activation_peak_gib, non_torch_memory_gib=args.non_torch_gib,
        cuda_graph_gib=args.cuda_graph_gib, max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=args.max_num_batched_tokens, engine=args.engine,
        vllm_version=args.vllm_version, context_tokens=args.context_tokens,
        v2_model_runner={"v1": False, "v2": True}.get(getattr(args, "model_runner", None) or ""),
        prompt_tokens=args.prompt_tokens, output_tokens=args.output_tokens,
        concurrency=_concurrency(getattr(args, "concurrency", None)), sources=sources,
    )


def _check_against_gpu(args: argparse.Namespace, spec, total_gib: float) -> None:
    """Flags that contradict the GPU or the model: one-line errors, not advice built on them."""
    if args.gpu_memory_used_gib and args.gpu_memory_used_gib >= total_gib:
        raise _usage(f"--gpu-memory-used-gib {args.gpu_memory_used_gib:g} is not below the GPU's "
                     f"{total_gib:.2f} GiB total")
    if args.kv_cache_memory_gib is not None and args.kv_cache_memory_gib >= total_gib:
        raise _usage(f"--kv-cache-memory-gib {args.kv_cache_memory_gib:g} is not below the GPU's "
                     f"{total_gib:.2f} GiB total")


def run(args: argparse.Namespace) -> int:
    if not args.model and not args.model_config:
        raise _usage("pass --model M (a repo id or a path) or --model-config PATH")
    try:
        spec, _model_source = resolve_model(args.model, args.model_config)
        gpu = find_gpu(args.gpu) if args.gpu else None
    except (UnknownModelError, UnknownGpuError, ModelConfigError) as exc:
        raise _usage(str(exc)) from None
    if args.gpu_memory_gib is not None:
        if args.gpu_memory_gib <= 0:
            raise _usage("--gpu-memory-gib must be positive")
        gpu = custom_gpu(args.gpu_memory_gib, gpu)
    if gpu is None:
        gpu = custom_gpu(0.0)  # no GPU: weights, KV per token and (with a KV budget) capacity
        if args.gpu_memory_used_gib:
            raise _usage("--gpu-memory-used-gib needs --gpu or --gpu-memory-gib (the total it is part of)")
    else:
        _check_against_gpu(args, spec, gpu.total_memory_gib)
    cfg = build_config(args, args.model)
    try:
        report = build_report(spec, gpu, cfg)
    except LayoutError as exc:
        msg = f"does not fit: {exc.problem.message}"
        if exc.problem.suggestion:
            msg += f"; nearest that works: {exc.problem.suggestion}"
        if args.format == "json":
            print(json.dumps({"model": spec.name, "fits": False, "problems": [exc.problem.model_dump()]}, indent=2))
        else:
            print(f"vllm-obs plan: {msg}", file=sys.stderr)
        return 1
    except DtypeError as exc:
        raise _usage(str(exc)) from None

    if args.format == "json":
        print(json.dumps(report.to_plan_dict(), indent=2))
    elif args.format == "markdown":
        print(render_markdown(report))
    else:
        render_table(report)
    return 1 if report.fits is False else 0


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

def _g(value: float | None, unit: str = " GiB", fmt: str = ".2f") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{unit}"


def _rows(r: CapacityReport) -> dict[str, list[tuple[str, str, str]]]:
    """(label, value, note) rows by section, shared by the table and markdown renderers."""
    src = r.inputs
    par = f"TP={r.tensor_parallel_size} PP={r.pipeline_parallel_size}"
    if r.data_parallel_replicas > 1:
        par += f" x {r.data_parallel_replicas} replicas"
    gpu = f"{r.gpu} ({r.gpu_total_memory_gib:.2f} GiB)" if r.gpu_total_memory_gib else (r.gpu or "none given")
    rules = r.vllm_rules
    setup = [
        ("model", r.model, f"{r.parameters_total / 1e9:.2f} B params, {r.parameters_active / 1e9:.2f} B active"),
        ("GPU", gpu, par),
        ("dtype / quantization", f"{r.model_dtype} / {r.quantization or 'none'}",
         f"KV cache {r.kv_cache_dtype} ({r.kv_cache_dtype_bytes} B)"),
        ("max_model_len / block size", f"{r.max_model_len:,} / {r.block_size}", f"arithmetic: vLLM {r.arithmetic}"),
        ("vLLM rules", f"{rules['version']} -> {rules['rules']}",
         f"{rules['source']}; {rules['model_runner']} model runner; graphs "
         f"{'subtracted' if rules['cuda_graphs_subtracted'] else 'not subtracted'}"),
    ]
    rng = r.kv_capacity_range
    memory = [
        ("weights, whole model", f"{r.model_weights_gib:.2f} GiB", ""),
        ("weights per GPU", f"{r.model_weights_gib_per_gpu:.2f} GiB", src.get("model_weights_gib", "")),
    ]
    if r.usable_memory_gib_per_gpu is not None:
        memory.append(("usable per GPU (total x util)", f"{r.usable_memory_gib_per_gpu:.2f} GiB",
                       f"gpu_memory_utilization {r.gpu_memory_utilization:g} ({src.get('gpu_memory_utilization', '')})"))
        terms = {t["name"]: t for t in (rng or {}).get("terms", [])}
        for key, label, name in (("activation_peak_gib", "activation peak", "activation_peak"),
                                 ("non_torch_memory_gib", "non-torch memory", "non_torch"),
                                 ("cuda_graph_gib", "CUDA graphs (subtracted)", "cuda_graphs")):
            t = terms.get(name)
            note = src.get(key, "")
            if t and t["low_gib"] != t["high_gib"]:
                note = f"range {t['low_gib']:.2f}-{t['high_gib']:.2f} ({note})"
            memory.append((label, _g(getattr(r, key)), note))
    memory.append(("KV budget per GPU", _g(r.kv_cache_memory_gib_per_gpu), r.kv_cache_memory_gib_per_gpu_source))
    kv = [
        ("KV per token, whole model", f"{r.kv_cache_bytes_per_token:,} B", f"{r.kv_cache_bytes_per_token / 1024:.0f} KiB"),
        ("KV per token per GPU", f"{r.kv_cache_bytes_per_token_per_gpu:,} B",
         f"{r.kv_cache_bytes_per_token_per_gpu / 1024:.0f} KiB"),
        (f"KV for one {r.max_model_len:,}-token request", f"{r.kv_cache_gib_needed_for_max_model_len:.2f} GiB",
         "" if r.fits is None else "fits" if r.kv_cache_gib_needed_for_max_model_len <= max(r.kv_cache_memory_gib_per_gpu or 0, 0)
         else "DOES NOT FIT"),
    ]
    if r.gpu_blocks is not None:
        kv[2:2] = [
            ("GPU blocks", f"{r.gpu_blocks:,}", f"{r.block_size} tokens each"),
            ("KV capacity", f"{r.kv_cache_tokens:,} tokens", "'GPU KV cache size'"),
            (f"max concurrency at {r.max_model_len:,}", f"{r.max_concurrency:.2f}x", "'Maximum concurrency'"),
        ]
    if rng:
        kv.append(("KV capacity range (low / high)",
                   f"{rng['low']['kv_cache_tokens']:,} / {rng['high']['kv_cache_tokens']:,}",
                   f"dominant: {rng['dominant_term']}" if rng["dominant_term"] else "all terms known"))
    conc = [(f"{c['context_tokens']:,} tokens", f"{c['max_concurrency']:.2f}x",
             f"{c['running_limit']} can run" if c["max_concurrency"] >= 1 else "one request does not fit")
            for c in r.concurrency_by_context]
    if conc:
        conc[0] = (*conc[0][:2], conc[0][2] + f" (max_num_seqs {r.max_num_seqs})")
    dec = [(f"batch {d['batch']}", f"{d['tokens_per_second']:,.0f} tok/s", f"{d['bound']}-bound, "
            f"{d['step_ms']:.1f} ms/step") for d in r.decode_ceiling_by_batch]
    if r.prefill_tokens_per_second_ceiling is not None:
        dec.append(("prefill", f"{r.prefill_tokens_per_second_ceiling:,.0f} tok/s",
                    f"{r.max_num_batched_tokens:,} tokens per step"))
    if r.crossover_batch:
        dec.append(("compute-bound from", f"batch {r.crossover_batch}", f"at {r.decode_context_tokens:,} context"))
    est = [(f"concurrency {e['concurrency']}", f"{e['generation_tokens_per_second']:,.0f} tok/s",
            f"prompt {e['prompt_tokens_per_second']:,.0f} tok/s, {e['bound']}-bound"
            + (f", {e['running_per_replica']} run ({e['running_limited_by']})" if e["running_limited_by"] else ""))
           for e in r.throughput_estimate or []]
    missing = [(name.replace("_", " "), "not computed", "needs " + ", ".join(s["missing"]))
               for name, s in r.sections.items() if s["missing"] and not s["used"]]
    return {"setup": setup, "memory": memory, "kv": kv, "concurrency": conc, "ceilings": dec,
            "estimate": est, "missing": missing}


def _titles(r: CapacityReport) -> dict[str, str]:
    eff = (f"; efficiency: bandwidth {r.efficiency['bandwidth']:.2f}, matmul {r.efficiency['matmul']:.2f})"
           if r.efficiency else ")")
    return {
        "setup": "Setup", "memory": "Memory per GPU", "kv": "KV cache (vLLM's arithmetic)",
        "concurrency": "Max concurrency by context length (per replica)",
        "ceilings": f"Throughput CEILINGS (roofline, {r.decode_context_tokens:,} tokens of context per request{eff}",
        "estimate": "Throughput ESTIMATE (closed loop, calibrated terms: docs/theory.md)",
        "missing": "Not computed (inputs lacking)",
    }


def render_table(r: CapacityReport) -> None:
    import shutil

    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=max(100, min(shutil.get_terminal_size((100, 24)).columns, 140)))
    titles = _titles(r)
    for key, section in _rows(r).items():
        if not section:
            continue
        t = Table(title=titles[key], title_justify="left", show_header=False, box=None, pad_edge=False)
        t.add_column(min_width=30)
        t.add_column(justify="right", min_width=16)
        t.add_column(style="dim")
        for label, value, note in section:
            t.add_row(label, value, note)
        console.print(t)
        console.print()
    for p in r.problems:
        console.print(f"[bold red]does not fit:[/] {p.message}")
        if p.suggestion:
            console.print(f"  nearest that works: {p.suggestion}")
    for n in r.notes:
        console.print(f"note: {n}")


def render_markdown(r: CapacityReport) -> str:
    out = []
    titles = _titles(r)
    for key, section in _rows(r).items():
        if not section:
            continue
        out.append(f"### {titles[key]}\n\n| | value | note |\n|---|---:|---|")
        out.extend(f"| {a} | {b} | {c} |" for a, b, c in section)
        out.append("")
    for p in r.problems:
        out.append(f"**Does not fit:** {p.message}" + (f" Nearest that works: `{p.suggestion}`." if p.suggestion else ""))
    for n in r.notes:
        out.append(f"Note: {n}")
    return "\n".join(out)
