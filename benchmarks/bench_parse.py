#!/usr/bin/env python3
"""How fast does `vllm-obs analyze` read a busy vLLM log, next to grep and mtail?

Generates a busy-server log with benchmarks/synth.py (default 1,000,000 lines: ~100 uvicorn
access lines per stats line, as a loaded server writes), then times, in the same run and on
the same file, best of --repeat runs each:

  grep     grep -c 'Avg prompt throughput' FILE          the floor: one fixed string, no parsing
  mtail    mtail --one_shot ... --progs benchmarks/mtail/ --logs FILE
           the usual log-to-metrics tool, with an equivalent program (benchmarks/mtail/vllm.mtail)
  vllm-obs <this python> -m vllm_obs analyze FILE --format json > /dev/null

and prints lines/s, the ratios, and whether the targets hold:
  vllm-obs >= 10x faster than mtail, and vllm-obs within 10x of grep -c.

Examples:
  python benchmarks/bench_parse.py                         # 1M lines, era v0.33
  python benchmarks/bench_parse.py --era v0.11 --lines 200000 --repeat 1
  python benchmarks/bench_parse.py --keep                  # keep the generated log, print its path

Exit status: 0 when both targets hold, 1 when one does not, 2 when a tool failed to run.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import synth  # noqa: E402  (sibling module; benchmarks/ is not a package)

MTAIL_PROGS = HERE / "mtail"
STATS_NEEDLE = "Avg prompt throughput"


@dataclass
class Timing:
    name: str
    seconds: float | None  # best of the runs; None when the tool is missing or failed
    note: str = ""


def generate_log(path: Path, era: str, lines: int, seed: int) -> int:
    """Write the busy benchmark log; returns the number of lines written."""
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        buf = []
        for chunk in synth.wrap_none(synth.generate(era, lines=lines, seed=seed, busy=True)):
            buf.append(chunk)
            if len(buf) >= 8192:
                out.write("".join(buf))
                n += len(buf)
                buf.clear()
        out.write("".join(buf))
        n += len(buf)
    return n


def best_of(cmd: list[str], repeat: int, capture: bool = False) -> tuple[float, str]:
    """Smallest wall time over `repeat` runs (the least disturbed by other work on the box).
    Raises CalledProcessError if the command fails. Returns (seconds, stdout of the last run)."""
    best, out = float("inf"), ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, check=False)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)
        best = min(best, elapsed)
        out = proc.stdout or ""
    return best, out


def time_grep(log: Path, repeat: int) -> tuple[Timing, int | None]:
    secs, out = best_of(["grep", "-c", STATS_NEEDLE, str(log)], repeat, capture=True)
    return Timing("grep -c", secs), int(out.strip())


def time_mtail(log: Path, repeat: int) -> Timing:
    if shutil.which("mtail") is None:
        return Timing("mtail", None, "not on PATH")
    # --address/--port 0: one-shot mtail still opens its HTTP listener; a free loopback port
    # keeps parallel runs (and other developers' mtail) from colliding on :3903.
    cmd = ["mtail", "--one_shot", "--logtostderr", "--address", "127.0.0.1", "--port", "0",
           "--progs", str(MTAIL_PROGS), "--logs", str(log)]
    try:
        secs, _ = best_of(cmd, repeat)
    except subprocess.CalledProcessError as e:
        return Timing("mtail", None, f"failed (exit {e.returncode}): {last_line(e.stderr)}")
    return Timing("mtail", secs)


def time_vllm_obs(log: Path, repeat: int) -> tuple[Timing, int | None]:
    cmd = [sys.executable, "-m", "vllm_obs", "analyze", str(log), "--format", "json"]
    try:
        secs, out = best_of(cmd, repeat, capture=True)
    except subprocess.CalledProcessError as e:
        return Timing("vllm-obs", None, f"failed (exit {e.returncode}): {last_line(e.stderr)}"), None
    try:
        stats = len(json.loads(out).get("stats", []))
    except (ValueError, AttributeError):
        stats = None
    return Timing("vllm-obs", secs), stats


def last_line(text: str | None) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""


def report(lines: int, timings: list[Timing]) -> None:
    print(f"\n{'tool':<10} {'lines':>10} {'seconds':>9} {'lines/s':>12}  note")
    for t in timings:
        if t.seconds is None:
            print(f"{t.name:<10} {lines:>10,} {'-':>9} {'-':>12}  {t.note}")
        else:
            print(f"{t.name:<10} {lines:>10,} {t.seconds:>9.3f} {lines / t.seconds:>12,.0f}  {t.note}")


def verdict(grep: Timing, mtail: Timing, obs: Timing) -> int:
    """Print the ratios and targets; return the exit status."""
    print()
    if obs.seconds is None:
        print(f"vllm-obs analyze could not be timed: {obs.note}")
        return 2
    status = 0
    slower_than_grep = obs.seconds / grep.seconds
    ok = slower_than_grep <= 10
    status |= 0 if ok else 1
    print(f"vllm-obs vs grep -c : vllm-obs takes {slower_than_grep:6.1f}x grep's time   "
          f"target <= 10x   {'PASS' if ok else 'FAIL'}")
    if mtail.seconds is None:
        print(f"vllm-obs vs mtail   : not measured ({mtail.note})")
    else:
        faster_than_mtail = mtail.seconds / obs.seconds
        ok = faster_than_mtail >= 10
        status |= 0 if ok else 1
        print(f"vllm-obs vs mtail   : mtail takes    {faster_than_mtail:6.1f}x vllm-obs's time "
              f"target >= 10x   {'PASS' if ok else 'FAIL'}")
    return status


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench_parse.py", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--era", choices=["v0.11", "v0.33"], default="v0.33",
                   help="log format: v0.11 (cyan '(APIServer pid=N)' prefix on every line) or v0.33 (default)")
    p.add_argument("--lines", type=int, default=1_000_000, help="size of the generated log (default 1000000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per tool; the best is reported (default 3)")
    p.add_argument("--seed", type=int, default=0, help="synth.py seed (default 0)")
    p.add_argument("--keep", action="store_true", help="keep the generated log and print where it is")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="vllm-obs-bench-"))
    log = workdir / f"busy-{args.era}-{args.lines}.log"
    try:
        t0 = time.perf_counter()
        n = generate_log(log, args.era, args.lines, args.seed)
        print(f"generated {n:,} lines ({log.stat().st_size / 1e6:.0f} MB, era {args.era}, busy mix) "
              f"in {time.perf_counter() - t0:.1f} s: {log}")
        grep, stats_lines = time_grep(log, args.repeat)
        mtail = time_mtail(log, args.repeat)
        obs, obs_stats = time_vllm_obs(log, args.repeat)
        if obs_stats is not None and obs_stats != stats_lines:
            obs.note = f"saw {obs_stats:,} stats lines, grep counts {stats_lines:,}"
        elif obs_stats is not None:
            obs.note = f"all {obs_stats:,} stats lines"
        grep.note = f"{stats_lines:,} stats lines"
        report(n, [grep, mtail, obs])
        return verdict(grep, mtail, obs)
    finally:
        if args.keep:
            print(f"\nkept {log}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
