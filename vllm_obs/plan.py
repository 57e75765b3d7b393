"""`vllm-obs plan`'s work: build the serving config from flags, compute the report, render it.

The command-line definition lives in `vllm_obs/cli/plan_command.py`, which imports this module only
when the command runs (the theory catalogs are not loaded to print --help or run other commands).
"""

from __future__ import annotations

import argparse
import json
import sys

from vllm_obs.theory.catalog import UnknownModelError, resolve_model
from vllm_obs.theory.dtypes import DtypeError, guess_quantization_from_name
from vllm_obs.theory.gpus import UnknownGpuError, custom_gpu, find_gpu
from vllm_obs.theory.models import ModelConfigError
from vllm_obs.theory.report import CapacityReport, LayoutError, ServingConfig, build_report


def _usage(message: str) -> Exception:
    from vllm_obs.cli.common import UsageError  # late import: cli imports this module
    return UsageError(message)


def build_config(args: argparse.Namespace, model_name: str | None) -> ServingConfig:
    for name in ("num_gpus", "tensor_parallel_size", "pipeline_parallel_size", "max_model_len",
                 "block_size", "max_num_seqs", "max_num_batched_tokens", "context_tokens"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise _usage(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 < args.gpu_memory_utilization <= 1:
        raise _usage("--gpu-memory-utilization must be in (0, 1]")
    for name in ("gpu_memory_gib", "kv_cache_memory_gib", "activation_peak_gib", "non_torch_gib",
                 "cuda_graph_gib", "gpu_memory_used_gib"):
        value = getattr(args, name, None)
        if value is not None and value < 0 and name != "kv_cache_memory_gib":
            raise _usage(f"--{name.replace('_', '-')} cannot be negative")
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
    return ServingConfig(
        tensor_parallel_size=tp, pipeline_parallel_size=pp, num_gpus=args.num_gpus,
        max_model_len=args.max_model_len, gpu_memory_utilization=args.gpu_memory_utilization,
        dtype=args.dtype, quantization=quant, kv_cache_dtype=args.kv_cache_dtype,
        block_size=args.block_size, kv_cache_memory_gib=args.kv_cache_memory_gib,
        gpu_memory_used_gib=args.gpu_memory_used_gib or 0.0,
        activation_peak_gib=args.activation_peak_gib, non_torch_memory_gib=args.non_torch_gib,
        cuda_graph_gib=args.cuda_graph_gib, max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=args.max_num_batched_tokens, engine=args.engine,
        vllm_version=args.vllm_version, context_tokens=args.context_tokens, sources=sources,
    )


def run(args: argparse.Namespace) -> int:
    if not args.model and not args.model_config:
        raise _usage("pass --model M (a repo id or a path) or --model-config PATH")
    if not args.gpu and args.gpu_memory_gib is None:
        raise _usage("pass --gpu NAME or --gpu-memory-gib X (total memory per GPU)")
    try:
        spec, _model_source = resolve_model(args.model, args.model_config)
        gpu = find_gpu(args.gpu) if args.gpu else None
    except (UnknownModelError, UnknownGpuError, ModelConfigError) as exc:
        raise _usage(str(exc)) from None
    if args.gpu_memory_gib is not None:
        if args.gpu_memory_gib <= 0:
            raise _usage("--gpu-memory-gib must be positive")
        gpu = custom_gpu(args.gpu_memory_gib, gpu)
    assert gpu is not None
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
    return 0 if report.fits else 1


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

def _rows(r: CapacityReport) -> dict[str, list[tuple[str, str, str]]]:
    """(label, value, note) rows by section, shared by the table and markdown renderers."""
    src = r.inputs
    par = f"TP={r.tensor_parallel_size} PP={r.pipeline_parallel_size}"
    if r.data_parallel_replicas > 1:
        par += f" x {r.data_parallel_replicas} replicas"
    setup = [
        ("model", r.model, f"{r.parameters_total / 1e9:.2f} B params, {r.parameters_active / 1e9:.2f} B active"),
        ("GPU", f"{r.gpu} ({r.gpu_total_memory_gib:.2f} GiB)", par),
        ("dtype / quantization", f"{r.model_dtype} / {r.quantization or 'none'}",
         f"KV cache {r.kv_cache_dtype} ({r.kv_cache_dtype_bytes} B)"),
        ("max_model_len / block size", f"{r.max_model_len:,} / {r.block_size}", f"arithmetic: vLLM {r.arithmetic}"),
    ]
    memory = [
        ("weights, whole model", f"{r.model_weights_gib:.2f} GiB", ""),
        ("weights per GPU", f"{r.model_weights_gib_per_gpu:.2f} GiB", src.get("model_weights_gib", "")),
        ("usable per GPU (total x util)", f"{r.usable_memory_gib_per_gpu:.2f} GiB", ""),
        ("activation peak", f"{r.activation_peak_gib:.2f} GiB", src.get("activation_peak_gib", "")),
        ("non-torch memory", f"{r.non_torch_memory_gib:.2f} GiB", src.get("non_torch_memory_gib", "")),
        ("CUDA graphs (subtracted)", f"{r.cuda_graph_gib:.2f} GiB", src.get("cuda_graph_gib", "")),
        ("KV budget per GPU", f"{r.kv_cache_memory_gib_per_gpu:.2f} GiB", r.kv_cache_memory_gib_per_gpu_source),
    ]
    kv = [
        ("KV per token, whole model", f"{r.kv_cache_bytes_per_token:,} B",
         f"{r.kv_cache_bytes_per_token / 1024:.0f} KiB"),
        ("KV per token per GPU", f"{r.kv_cache_bytes_per_token_per_gpu:,} B",
         f"{r.kv_cache_bytes_per_token_per_gpu / 1024:.0f} KiB"),
        ("GPU blocks", f"{r.gpu_blocks:,}", f"{r.block_size} tokens each"),
        ("KV capacity", f"{r.kv_cache_tokens:,} tokens", "'GPU KV cache size'"),
        (f"max concurrency at {r.max_model_len:,}", f"{r.max_concurrency:.2f}x", "'Maximum concurrency'"),
        (f"KV for one {r.max_model_len:,}-token request", f"{r.kv_cache_gib_needed_for_max_model_len:.2f} GiB",
         "fits" if r.kv_cache_gib_needed_for_max_model_len <= max(r.kv_cache_memory_gib_per_gpu, 0)
         else "DOES NOT FIT"),
    ]
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
    return {"setup": setup, "memory": memory, "kv": kv, "concurrency": conc, "ceilings": dec}


def render_table(r: CapacityReport) -> None:
    from rich.console import Console
    from rich.table import Table

    import shutil

    console = Console(highlight=False, width=max(100, min(shutil.get_terminal_size((100, 24)).columns, 140)))
    rows = _rows(r)
    titles = {
        "setup": "Setup", "memory": "Memory per GPU", "kv": "KV cache (vLLM's arithmetic)",
        "concurrency": "Max concurrency by context length (per replica)",
        "ceilings": (f"Throughput CEILINGS (roofline, {r.decode_context_tokens:,} tokens of context per request"
                     + (f"; efficiency: bandwidth {r.efficiency['bandwidth']:.2f}, matmul {r.efficiency['matmul']:.2f})"
                        if r.efficiency else ")")),
    }
    for key, section in rows.items():
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
    names = {"setup": "Setup", "memory": "Memory per GPU", "kv": "KV cache",
             "concurrency": "Max concurrency by context length", "ceilings": "Throughput ceilings (roofline)"}
    for key, section in _rows(r).items():
        if not section:
            continue
        out.append(f"### {names[key]}\n\n| | value | note |\n|---|---:|---|")
        out.extend(f"| {a} | {b} | {c} |" for a, b, c in section)
        out.append("")
    for p in r.problems:
        out.append(f"**Does not fit:** {p.message}" + (f" Nearest that works: `{p.suggestion}`." if p.suggestion else ""))
    for n in r.notes:
        out.append(f"Note: {n}")
    return "\n".join(out)
