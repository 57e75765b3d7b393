"""`vllm-obs parse FILE...`: one JSON record per recognised line (JSONL).

The same code path as the golden tests: the input driver (parse/driver.py) -> record_to_dict.
"""

from __future__ import annotations

import argparse
import json
import sys

from typing import IO

from vllm_obs.cli.common import NOTHING_FOUND, nothing_found
from vllm_obs.parse.driver import read_paths
from vllm_obs.parse.records import LineContext, Record, record_to_dict


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


class _JsonLines:
    """Records of one input as JSON lines (the input driver's sink)."""

    def __init__(self, path: str, out: IO[str], with_context: bool) -> None:
        self.path, self.out, self.with_context = path, out, with_context
        self.counts = {"matched": 0, "unmatched": 0, "error": 0}

    def record(self, context: LineContext, record: Record) -> None:
        self.out.write(json.dumps(record_to_dict(record, context if self.with_context else None)) + "\n")

    def access_counts(self, counts: dict[tuple[str, str, int], int]) -> None:
        pass  # every access line reaches `record` (every_record=True)

    def line_counts(self, delta: dict[str, int]) -> None:
        for key, n in delta.items():
            self.counts[key] = self.counts.get(key, 0) + n


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    failed = False
    totals: dict[str, int] = {}
    for path in args.files:
        sink = _JsonLines(path, out, not args.no_context)
        for problem in read_paths([path], lambda _path: sink, every_record=True):
            print(f"vllm-obs parse: {problem}", file=sys.stderr)
            failed = True
        for key, count in sink.counts.items():
            totals[key] = totals.get(key, 0) + count
        if args.counts:
            print(f"{path}: " + ", ".join(f"{k} {v}" for k, v in sink.counts.items()), file=sys.stderr)
    out.flush()
    empty = nothing_found(args.files, totals)
    if empty and not (failed and not any(totals.values())):
        print(f"vllm-obs parse: {empty}", file=sys.stderr)
    return 2 if failed else NOTHING_FOUND if empty else 0
