"""`vllm-obs catalog models|gpus`: what the theory knows, with where each figure comes from."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "catalog",
        help="list the models and GPUs the theory knows, with the sources of their figures",
        description=(
            "List the shipped catalogs that --model and --gpu name (plan, analyze, report, export, "
            "run). A model's shapes come from its Hugging Face config.json (shipped), its parameter "
            "count from the source named; a GPU's total memory is what torch reports on the card "
            "(measured where a log showed it), its bandwidth and dense tensor peaks from the "
            "datasheet named. A model not listed: pass its config.json with --model-config. A GPU "
            "not listed: plan --gpu-memory-gib."
        ),
        epilog="examples:\n  vllm-obs catalog models\n  vllm-obs catalog gpus --format json | jq '.[].name'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=("models", "gpus"), help="which catalog")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    parser.set_defaults(func=run)


def _models() -> list[dict]:
    from vllm_obs.theory.model_catalog import load_catalog

    return [
        {"repo": e.repos[0], "also": list(e.repos[1:]), "published_params": e.published_params,
         "published_params_source": e.published_params_source, "config_source": e.source_url, "notes": e.notes}
        for e in sorted(load_catalog().values(), key=lambda e: e.repos[0].lower())
    ]


def _gpus() -> list[dict]:
    from vllm_obs.theory.gpus import load_gpus

    return [g.model_dump(mode="json") for g in load_gpus().values()]


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from vllm_obs.cli.common import console as make_console

    rows = _models() if args.what == "models" else _gpus()
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return 0
    console = make_console(width=None if sys.stdout.isatty() else 400)  # piped: one row per line, for grep
    if args.what == "models":
        table = Table(title=f"{len(rows)} models (--model accepts the repo id, an alias, or a local path ending in the name)", header_style="bold")
        for column in ("repo", "parameters", "parameter count from", "config.json from", "also"):
            table.add_column(column, justify="right" if column == "parameters" else "left", overflow="fold")
        for m in rows:
            table.add_row(m["repo"], f"{m['published_params'] / 1e9:,.2f} B", m["published_params_source"], m["config_source"], ", ".join(m["also"]))
    else:
        table = Table(title=f"{len(rows)} GPUs (--gpu accepts the name or an alias)", header_style="bold")
        for column in ("name", "memory (GiB, torch total)", "bandwidth (GB/s)", "FP16 dense (TFLOPS)", "FP8 dense (TFLOPS)", "memory from", "speeds from"):
            table.add_column(column, justify="left" if column in ("name", "memory from", "speeds from") else "right", overflow="fold")
        for g in rows:
            table.add_row(g["name"], _number(g["total_memory_gib"], 2), _number(g["memory_bandwidth_gb_s"]),
                          _number(g["fp16_tflops_dense"]), _number(g["fp8_tflops_dense"]), g["total_memory_gib_source"], g["source"])
    if not sys.stdout.isatty():  # piped: plain aligned rows, the title as a first line
        table.box, title, table.title = None, table.title, None
        print(title)
    console.print(table)
    return 0
