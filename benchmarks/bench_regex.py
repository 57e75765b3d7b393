#!/usr/bin/env python3
"""Does the `regex` package earn its place next to the standard `re`? (issue 11)

Times the parser's hot patterns, compiled once with `re` and once with `regex` (same pattern
text), in the same run: on the real-format example lines of the pattern table (the busy path)
and on 1 MB adversarial lines built from each pattern's example repeated (the bounded-work
path). Also times `regex`'s possessive / atomic form of the access pattern, the one place where
backtracking control could matter. Prints per pattern the time with each engine and the ratio
regex / re (above 1: `re` is faster).

Examples:
  python benchmarks/bench_regex.py               # needs `pip install regex` for the comparison
  python benchmarks/bench_regex.py --repeat 5

Exit status: 0; 2 when `regex` is not installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vllm_obs.parse import patterns  # noqa: E402
from vllm_obs.parse.envelope import split_prefix  # noqa: E402

HOT = {
    "access": patterns._ACCESS,
    "stats_head": patterns._STATS_HEAD,
    "kv_size": patterns._KV_SIZE,
    "device_report": patterns._DEVICE_REPORT,
    "config_head": patterns._CONFIG_HEAD,
    "config_max_seq_len": patterns._CFG_INT["max_model_len"],
    "oom": patterns._OOM,
    "profile_one_line": patterns._PROFILE_ONE_LINE,
}
SAMPLE_OF = {
    "access": patterns.HTTP_ACCESS,
    "stats_head": patterns.STATS,
    "kv_size": patterns.KV_CACHE_SIZE,
    "device_report": patterns.DEVICE_MEMORY_REPORT,
    "config_head": patterns.ENGINE_CONFIG,
    "config_max_seq_len": patterns.ENGINE_CONFIG,
    "oom": patterns.CUDA_OOM,
    "profile_one_line": patterns.MEMORY_PROFILE,
}


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--loops", type=int, default=20000, help="searches per example line (busy path)")
    args = ap.parse_args()
    try:
        import regex
    except ImportError:
        print("bench_regex: the regex package is not installed (pip install regex)", file=sys.stderr)
        return 2
    print(f"{'pattern':20} {'busy re':>10} {'busy regex':>11} {'ratio':>6}   {'1MB re':>8} {'1MB regex':>9} {'ratio':>6}")
    for name, compiled in HOT.items():
        other = regex.compile(compiled.pattern, compiled.flags & ~re.UNICODE)
        messages = [split_prefix(line).message for line in SAMPLE_OF[name].examples if not line.startswith("{")]
        loops = args.loops

        def busy(rx):
            return lambda: [rx.search(m) for _ in range(loops // len(messages)) for m in messages]

        unit = messages[0] + ", "
        big = unit * (1_000_000 // len(unit))
        t_re, t_rx = best(busy(compiled), args.repeat), best(busy(other), args.repeat)
        b_re, b_rx = best(lambda: compiled.findall(big), args.repeat), best(lambda: other.findall(big), args.repeat)
        print(f"{name:20} {t_re * 1e3:8.1f}ms {t_rx * 1e3:9.1f}ms {t_rx / t_re:6.2f}   {b_re * 1e3:6.1f}ms {b_rx * 1e3:7.1f}ms {b_rx / b_re:6.2f}")
    # The access pattern with possessive quantifiers (regex only): no backtracking into the client/path.
    possessive = regex.compile(patterns._ACCESS.pattern.replace(r"\S{1,200}", r"\S{1,200}+").replace(r"\S{1,8192}", r"\S{1,8192}+"))
    line = split_prefix(patterns.HTTP_ACCESS.examples[1]).message
    hostile = ("a" * 199 + " - \"GET /") * (1_000_000 // 208)
    # The parser only ever `match`es it at the message start (parse_access); `search` is shown to
    # say what an unanchored use would cost (200 tries per position).
    for label, text in (("access busy", line), ("access 1MB hostile", hostile)):
        loops = args.loops if text is line else 1
        for how in ("match", "search"):
            t_re = best(lambda: [getattr(patterns._ACCESS, how)(text) for _ in range(loops)], args.repeat)
            t_pos = best(lambda: [getattr(possessive, how)(text) for _ in range(loops)], args.repeat)
            print(f"{label:20} {how:6} re {t_re * 1e3:8.2f}ms, regex possessive {t_pos * 1e3:8.2f}ms, ratio {t_pos / max(t_re, 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
