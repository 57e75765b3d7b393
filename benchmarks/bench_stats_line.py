#!/usr/bin/env python3
"""What one stats line costs, step by step, against the plain library way in the same run.

On a busy server one line in ten is the periodic stats line, and each becomes a record, a row in
its start and two JSON entries (bench_busy.py: most of analyze's time). This prints, per stats
line of a CRI-wrapped V1 log (synth.py), microseconds for:

  parse    LineParser.scan (the fast form, parse/faststats.py)   vs the general path (fast form off)
  record   Stats(...) as it is (a slotted dataclass)              vs the same class frozen
  stamp    parse_outer_time of the CRI stamp                      vs datetime.strptime + fraction
  iso      the row's ISO time (Timeline.iso, off the stamp's text)  vs parse_outer_time + isoformat
  fold     Fold.add of the parsed record
  json     summarize + write_json, per stats line (two entries)

each the best of --repeat runs, with the ratio baseline/ours (machines here are noisy: compare
within one run).

    python benchmarks/bench_stats_line.py            # 50,000 stats lines
    python benchmarks/bench_stats_line.py --lines 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks import synth  # noqa: E402
from vllm_obs.fold.fold import Fold  # noqa: E402
from vllm_obs.fold.jsonstream import write_json  # noqa: E402
from vllm_obs.fold.summary import summarize  # noqa: E402
from vllm_obs.ingest.timestamps import Timeline, parse_outer_time  # noqa: E402
from vllm_obs.parse import parser as parser_module  # noqa: E402
from vllm_obs.parse.parser import LineParser  # noqa: E402
from vllm_obs.parse.records import LineContext, Record, Stats  # noqa: E402

FrozenStats = dataclasses.make_dataclass(
    "FrozenStats", [(f.name, f.type, dataclasses.field(default=f.default)) for f in dataclasses.fields(Stats)],
    frozen=True, slots=True,
)


def stats_lines(n: int) -> list[str]:
    """n CRI-wrapped stats lines of a busy V1 server."""
    out: list[str] = []
    seed = 1
    while len(out) < n:
        raw = list(synth.generate("v0.11", lines=max(20 * n, 10_000), seed=seed, busy=8.0, network="k8s"))
        out += [line.rstrip("\n") for line in synth.WRAPS["cri"](raw) if "throughput: " in line]
        seed += 1
    return out[:n]


def best_us(fn: Callable[[], object], n: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=50_000, help="stats lines (default 50,000)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each step; the best is kept (default 5)")
    args = ap.parse_args()
    lines = stats_lines(args.lines)
    n = len(lines)
    print(f"{n:,} CRI-wrapped V1 stats lines; microseconds per line, best of {args.repeat}\n")
    print(f"{'step':8} {'vllm-obs':>9} {'baseline':>9} {'ratio':>6}  baseline")

    def row(step: str, ours: float, base: float | None = None, what: str = "") -> None:
        if base is None:
            print(f"{step:8} {ours:9.2f}")
        else:
            print(f"{step:8} {ours:9.2f} {base:9.2f} {base / ours:5.1f}x  {what}")

    parsed: list[tuple[LineContext, Record]] = []

    def scan() -> None:
        parsed.clear()
        LineParser("bench").scan(lines, lambda c, r: parsed.append((c, r)), lambda counts: None)

    def scan_general() -> None:
        parser_module.USE_FAST_STATS = False
        try:
            LineParser("bench").scan(lines, lambda c, r: None, lambda counts: None)
        finally:
            parser_module.USE_FAST_STATS = True

    row("parse", best_us(scan, n, args.repeat), best_us(scan_general, n, args.repeat), "the general path")
    records = [r for _, r in parsed]
    assert len(records) == n and all(isinstance(r, Stats) for r in records), "every line must parse"
    values = [dataclasses.astuple(r) for r in records]
    row("record", best_us(lambda: [Stats(*v) for v in values], n, args.repeat),
        best_us(lambda: [FrozenStats(*v) for v in values], n, args.repeat), "frozen=True")

    stamps = [c.outer_time or "" for c, _ in parsed]

    def strptime_way() -> None:
        for s in stamps:
            head, frac = s[:19], s[19:-1]
            datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() + float("0" + frac)

    row("stamp", best_us(lambda: [parse_outer_time(s) for s in stamps], n, args.repeat),
        best_us(strptime_way, n, args.repeat), "strptime")
    timeline = Timeline(None)
    contexts = [c for c, _ in parsed]

    def isoformat_way() -> None:
        for s in stamps:
            datetime.fromtimestamp(parse_outer_time(s) or 0.0, timezone.utc).isoformat(timespec="milliseconds")

    row("iso", best_us(lambda: [timeline.iso(c) for c in contexts], n, args.repeat),
        best_us(isoformat_way, n, args.repeat), "parse + isoformat")

    folds: list[Fold] = []

    def fold() -> None:
        f = Fold()
        f.timeline = Timeline(None)
        for context, record in parsed:
            f.add(context, record)
        folds[:] = [f]

    row("fold", best_us(fold, n, args.repeat))

    def json_out() -> None:
        write_json(summarize(folds[0], lazy=True), io.StringIO())

    row("json", best_us(json_out, n, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
