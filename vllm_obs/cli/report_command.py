"""`vllm-obs report FILE... -o report.html`: one page answering what happened in an archive."""

from __future__ import annotations

import argparse
import sys

from vllm_obs.cli.common import NOTHING_FOUND, UsageError
from vllm_obs.cli.common import add_theory_flags, add_time_flags, check_theory_flags, nothing_found


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="a self-contained HTML (or Markdown) report with plots and findings for archived logs",
        description=(
            "Read archived vLLM logs (files, globs, directories, .gz; rotated sets in time order) "
            "and write one page that answers: what was the KV capacity and how does it compare with "
            "theory, when did the KV cache saturate and for how long, how close to the ceiling did "
            "throughput get, when did preemptions start, what failed and what changed between "
            "restarts. Per engine start: the config and capacity table (observed beside theory), "
            "time series of throughput with the decode ceiling for the running batch, running and "
            "waiting requests, KV usage with the alert thresholds, preemptions and failures, and a "
            "findings list in plain words. The HTML page is self-contained: its interactive plots (hover "
            "for values, drag to zoom, shift-drag to pan, panels of a start move together) are drawn by "
            "the bundled uPlot, so it opens without a network and needs nothing beyond the base install."
        ),
        epilog=(
            "examples:\n"
            "  vllm-obs report /var/log/vllm/ -o report.html\n"
            "  vllm-obs report server.log --model Qwen/Qwen3-8B --gpu H100-SXM -o report.html\n"
            "  vllm-obs report server.log --format markdown --png-dir plots -o report.md   # for an issue\n\n"
            "Markdown with --png-dir draws its PNGs with matplotlib: pip install 'vllm-obs[report]'.\n\n"
            "exit codes: 0 ok; 1 no vLLM line in the input (one line on stderr, no page written); 2 bad "
            "usage (an unknown --model or --gpu) or an input could not be read"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="log files, globs or directories")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write (- for stdout)")
    parser.add_argument("--format", choices=("html", "markdown"), default="html", help="html (default, self-contained) or markdown")
    parser.add_argument("--png-dir", metavar="DIR", help="also write each plot as a PNG here (Markdown links to them)")
    add_time_flags(parser)
    add_theory_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.png_dir:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--png-dir draws PNGs with matplotlib: pip install 'vllm-obs[report]' (or leave out --png-dir)") from None
    check_theory_flags(args)
    from vllm_obs.archive.analyze import add_theory, analyze_paths
    from vllm_obs.archive.page import render_html
    from vllm_obs.archive.report import build_report, render_markdown, write_pngs
    from vllm_obs.cli.analyze_command import resolve_inputs
    from vllm_obs.cli.progress import InputProgress

    paths, tz = resolve_inputs(args.files, args.timezone)
    with InputProgress(paths) as progress:
        summary, problems = analyze_paths(paths, year=args.year, tz=tz, progress=progress)
    if problems and not any(summary["details"]["lines"].values()):  # nothing read: no empty report
        for problem in problems:
            print(f"vllm-obs report: {problem}", file=sys.stderr)
        return 2
    empty = nothing_found(paths, summary["details"]["lines"])
    if empty:  # no page that could be read as "nothing unusual"
        for problem in problems:
            print(f"vllm-obs report: {problem}", file=sys.stderr)
        print(f"vllm-obs report: {empty}", file=sys.stderr)
        return 2 if problems else NOTHING_FOUND
    add_theory(summary, model=args.model, model_config=args.model_config, gpu=args.gpu)
    report = build_report(summary, paths, model=args.model, model_config=args.model_config, gpu=args.gpu)
    if args.png_dir:
        write_pngs(report, args.png_dir)
    text = render_html(report) if args.format == "html" else render_markdown(report, args.png_dir)
    try:
        if args.output == "-":
            sys.stdout.write(text)
        else:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    for problem in problems:
        print(f"vllm-obs report: {problem}", file=sys.stderr)
    if args.output != "-":
        print(f"vllm-obs report: {len(report.starts)} engine start(s), {len(report.findings)} findings -> {args.output}", file=sys.stderr)
    return 2 if problems else 0
