"""`vllm-obs analyze FILE...`: a summary of what the logs say (table for people, JSON contract)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from vllm_obs.archive.analyze import add_theory, analyze_paths
from vllm_obs.cli.common import NOTHING_FOUND, UsageError
from vllm_obs.cli.common import add_theory_flags, add_time_flags, check_theory_flags, nothing_found
from vllm_obs.ingest.discovery import expand_inputs
from vllm_obs.ingest.reader import InputError
from vllm_obs.ingest.timestamps import TimezoneError, parse_timezone


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="summarise vLLM logs: startup memory and KV facts, load, failures",
        description=(
            "Read vLLM logs (any version 0.3-0.33, V0 or V1; plain, Docker json-file, "
            "`docker logs -t`, Kubernetes CRI, compose, journald, JSON logging; .gz read "
            "transparently) and summarise them: the engine config, model weights, memory profile, "
            "KV cache budget/blocks/tokens, max concurrency, CUDA graph memory, every periodic stats "
            "line, failures (insufficient KV cache, CUDA OOM, engine failures, preemptions) and HTTP "
            "status counts. Several files are read in the order given, as one log."
        ),
        epilog=(
            "JSON output (--format json) is a contract: top-level values are exactly what vLLM "
            "printed (absent when not printed), `stats` lists each stats line in order, `errors` "
            "has `kind` and `message`; `details` and `starts` (one summary per engine start) add "
            "the rest.\n\n"
            "examples:\n"
            "  vllm-obs analyze server.log\n"
            "  docker logs -t my-vllm 2>&1 | vllm-obs analyze -\n"
            "  vllm-obs analyze vllm.log.2.gz vllm.log.1 vllm.log --format json\n\n"
            "exit codes: 0 ok; 1 no vLLM line in the input (one line on stderr, e.g. \"no vLLM log lines in "
            "x.bin (509 lines read): is this a vLLM server log?\", and no table); 2 bad usage (an unknown "
            "--model or --gpu) or an input could not be read (the others are still summarised)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "files", nargs="+", metavar="FILE",
        help="log files, globs or directories (.gz read transparently; rotated sets put in time order); - for stdin",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    add_time_flags(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal anyway)")
    parser.add_argument(
        "--jobs", type=int, default=None, metavar="N",
        help="use up to N processes (default: the CPU count): several files are parsed at once in "
             "worker processes, and one file has its access-line pass run a few batches ahead in a "
             "second one; the output is the same, the files still count in the order given",
    )
    add_theory_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vllm_obs.cli.progress import InputProgress  # rich: loaded when the command runs

    check_theory_flags(args)
    paths, tz = resolve_inputs(args.files, args.timezone)
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1 (got {jobs})")
    # A program reading JSON gets it streamed (flat memory on archives); a person gets it indented.
    stream_json = args.format == "json" and not sys.stdout.isatty()
    with InputProgress(paths, enabled=False if args.no_progress else None) as progress:
        # The table shows figures of the stats lines, not the lines: a digest, in flat memory.
        summary, problems = analyze_paths(
            paths, year=args.year, tz=tz, progress=progress, lazy=stream_json, jobs=jobs, stats_rows=args.format == "json"
        )
    add_theory(summary, model=args.model, model_config=args.model_config, gpu=args.gpu)
    for problem in problems:
        print(f"vllm-obs analyze: {problem}", file=sys.stderr)
    if problems and not any(summary["details"]["lines"].values()):
        return 2  # nothing could be read: no empty summary
    empty = nothing_found(paths, summary["details"]["lines"])
    if empty:
        print(f"vllm-obs analyze: {empty}", file=sys.stderr)
        return 2 if problems else NOTHING_FOUND
    if stream_json:
        from vllm_obs.fold.jsonstream import write_json

        write_json(summary, sys.stdout)
        sys.stdout.write("\n")
    elif args.format == "json":
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    else:
        from vllm_obs.archive.table import render_summary, theory_hints
        from vllm_obs.cli.common import console

        render_summary(summary, console(), hints=theory_hints(summary, args.model, args.model_config, args.gpu))
    return 2 if problems else 0


def resolve_inputs(files: list[str], timezone_name: str):
    """Inputs in reading order and the time zone, or a one-line usage error."""
    try:
        return expand_inputs(files), parse_timezone(timezone_name)
    except (InputError, TimezoneError) as exc:
        raise UsageError(str(exc)) from None
