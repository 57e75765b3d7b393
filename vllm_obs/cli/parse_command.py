"""`vllm-obs parse FILE...`: one JSON record per recognised line (JSONL).

The same code path as the golden tests: reader -> LineParser -> record_to_dict.
"""

from __future__ import annotations

import argparse
import json
import sys

from vllm_obs.cli.common import NOTHING_FOUND, nothing_found
from vllm_obs.parse.parser import LineParser
from vllm_obs.ingest.reader import InputError, iter_lines
from vllm_obs.parse.records import record_to_dict


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="print one JSON record per recognised log line",
        description=(
            "Read vLLM logs and print one JSON object per recognised line (JSON Lines): its `kind` "
            "(engine_config, model_weights, memory_profile, kv_cache_size, stats, http_access, "
            "error, ...), its values with units in their names, and under `at` where it came from "
            "(line number, outer timestamp, vLLM timestamp, level, process tag, rank). Lines that "
            "are not vLLM's are skipped and counted; the counts go to stderr with --counts."
        ),
        epilog=(
            "examples:\n"
            "  vllm-obs parse server.log\n"
            "  vllm-obs parse server.log.1 server.log.2.gz | jq 'select(.kind==\"stats\")'\n"
            "  kubectl logs pod/vllm-0 | vllm-obs parse -\n\n"
            "exit codes: 0 ok; 1 no vLLM line in the inputs (one line on stderr says so); 2 an input "
            "could not be read\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="log files (.gz read transparently); - for stdin")
    parser.add_argument("--counts", action="store_true", help="print lines by result (matched/unmatched/error) to stderr")
    parser.add_argument("--no-context", action="store_true", help="leave out the `at` object (line, times, process)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    failed = False
    totals: dict[str, int] = {}
    for path in args.files:
        parser = LineParser(source=path)
        try:
            for line in iter_lines(path):
                for context, record in parser.feed(line):
                    out.write(json.dumps(record_to_dict(record, None if args.no_context else context)) + "\n")
        except InputError as exc:
            print(f"vllm-obs parse: {exc}", file=sys.stderr)
            failed = True
        for context, record in parser.flush():
            out.write(json.dumps(record_to_dict(record, None if args.no_context else context)) + "\n")
        for key, count in parser.counts.items():
            totals[key] = totals.get(key, 0) + count
        if args.counts:
            print(f"{path}: " + ", ".join(f"{k} {v}" for k, v in parser.counts.items()), file=sys.stderr)
    out.flush()
    empty = nothing_found(args.files, totals)
    if empty and not (failed and not any(totals.values())):
        print(f"vllm-obs parse: {empty}", file=sys.stderr)
    return 2 if failed else NOTHING_FOUND if empty else 0
