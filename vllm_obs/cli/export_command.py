"""`vllm-obs export --openmetrics FILE... -o out.om`: archived logs as backfillable metrics."""

from __future__ import annotations

import argparse
import os
import sys

from vllm_obs.cli.common import NOTHING_FOUND, UsageError
from vllm_obs.cli.common import add_theory_flags, add_time_flags, check_theory_flags, nothing_found


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write archived logs as the sidecar's metrics with the log's timestamps (for backfill)",
        description=(
            "Replay archived vLLM logs through the sidecar's state and write every metric of its "
            "catalog as Prometheus would have scraped it, every --interval seconds of log time, "
            "with the log's own timestamps (OpenMetrics). Then backfill:\n\n"
            "  promtool tsdb create-blocks-from openmetrics out.om DATA_DIR\n\n"
            "and start Prometheus on DATA_DIR (or copy the blocks into its data directory): the "
            "project's Grafana dashboards then show the archived period. See docs/backfill.md."
        ),
        epilog=(
            "examples:\n"
            "  vllm-obs export --openmetrics /var/log/vllm/ -o vllm.om\n"
            "  vllm-obs export --openmetrics vllm.log.3.gz vllm.log.2.gz vllm.log.1 vllm.log -o vllm.om --year 2026\n"
            "  vllm-obs export --openmetrics server.log -o server.om --model Qwen/Qwen3-8B --gpu H100-SXM\n\n"
            "exit codes: 0 ok; 1 no vLLM line (or no dated one) in the input, nothing to backfill; 2 bad "
            "usage (an unknown --model or --gpu, a bad --year) or an input could not be read"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="log files, globs or directories (.gz read transparently; rotated sets in time order)")
    parser.add_argument("--openmetrics", action="store_true", required=True, help="write OpenMetrics text (the format promtool backfills from)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write (- for stdout)")
    parser.add_argument(
        "--interval", type=float, default=15.0, metavar="SECONDS",
        help="scrape interval of the replay (default 15); each stats line is also kept at its own time",
    )
    parser.add_argument("--stats-ttl", type=float, default=60.0, metavar="SECONDS", help="stats gauges end this long after vLLM's last stats line (default 60, as the sidecar)")
    add_time_flags(parser)
    add_theory_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vllm_obs.cli.analyze_command import resolve_inputs
    from vllm_obs.archive.export import export_openmetrics
    from vllm_obs.cli.progress import InputProgress
    from vllm_obs.live.theory_provider import make_provider

    if args.interval <= 0 or args.stats_ttl <= 0:
        raise UsageError("--interval and --stats-ttl must be positive")
    check_theory_flags(args)
    paths, tz = resolve_inputs(args.files, args.timezone)
    provider = make_provider(model=args.model, model_config=args.model_config, gpu=args.gpu)
    try:
        out = sys.stdout if args.output == "-" else open(args.output, "w")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    try:
        with InputProgress(paths) as progress:
            result, problems = export_openmetrics(
                paths, out, args.interval, args.stats_ttl, args.year, tz, theory_provider=provider, progress=progress
            )
    finally:
        if out is not sys.stdout:
            out.close()
    for problem in problems:
        print(f"vllm-obs export: {problem}", file=sys.stderr)
    empty = nothing_found(paths, result["lines"])
    if empty or result["first"] is None:
        if args.output != "-":
            os.remove(args.output)  # an empty backfill file would only mislead
        if not (problems and not any(result["lines"].values())):
            why = empty or "no dated vLLM line in the input: its lines carry no time stamp to backfill at"
            print(f"vllm-obs export: {why}", file=sys.stderr)
        return 2 if problems else NOTHING_FOUND
    from vllm_obs.ingest.timestamps import iso

    print(
        f"vllm-obs export: {result['samples']:,} samples in {result['scrapes']:,} scrapes, "
        f"{iso(result['first'])} .. {iso(result['last'])} -> {args.output}",
        file=sys.stderr,
    )
    return 2 if problems else 0
