#!/usr/bin/env python3
"""How fast does `vllm-obs analyze` read a *busy* server's log, in every envelope?

The mix: a V1 (0.11.2) server under load, 1,000,000 lines (~88% uvicorn access lines, ~11%
stats lines), written plain, as Kubernetes CRI, as `docker logs -t` and as Docker json-file.
For each, side by side in one run:

  grep     grep -c 'Running: ' FILE                               the floor: one pass in C
  mtail    mtail --one_shot --progs benchmarks/mtail/ --logs FILE the peer (bench_parse.py's way)
  vllm-obs python -m vllm_obs analyze --format json FILE

each run --repeat times (best wall time kept; user CPU seconds of that run shown too, since the
machine may be shared), and the ratios; beside them the same analyze with the bulk path off
(the line path, LineParser.scan alone). Then:

  memory  peak RSS of `export` and of `analyze --format table` (no stats rows kept) at 1/5 and
          the full size: flat means 5x the input costs at most 1.2x the memory;
  jobs    a 4-file archive (four independent servers) with --jobs 1 and --jobs 2;
  backlog a sidecar restarted on the file: the live pipeline's code over the whole backlog.

Targets (issue 12): analyze >= 10x faster than mtail and within 10x of grep -c in every
envelope; flat memory; --jobs 2 >= 1.7x faster than --jobs 1 on 2 cores.

    python benchmarks/bench_busy.py                   # 1,000,000 lines, ~2 x 4 x 3 runs
    python benchmarks/bench_busy.py --lines 200000 --repeat 1 --no-mtail
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks import synth  # noqa: E402

MTAIL_PROGS = HERE / "mtail"
ENVELOPES = ("none", "cri", "docker-timestamps", "docker-json")
PER_TICK = 8.0  # requests finished per 10 s stats interval: ~1 stats line per 9 access lines


@dataclass
class Run:
    wall_seconds: float
    user_seconds: float  # user + system CPU of the child
    peak_rss_bytes: int
    stdout: str = ""


def run(cmd: list[str], stdout_to: str | None = None) -> Run:
    """One run of `cmd`; CPU and peak RSS from the kernel's accounting of that child."""
    sink = open(stdout_to or os.devnull, "w") if stdout_to != "pipe" else None  # noqa: SIM115
    out = sink if sink is not None else subprocess.PIPE
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
    captured = proc.stdout.read() if stdout_to == "pipe" and proc.stdout else ""
    stderr = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if sink is not None:
        sink.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... exit {proc.returncode}: {stderr.strip()[-300:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, captured)


def best(cmd: list[str], repeat: int, stdout_to: str | None = None) -> Run:
    runs = [run(cmd, stdout_to) for _ in range(repeat)]
    return min(runs, key=lambda r: r.wall_seconds)


def write_logs(workdir: Path, lines: int, seed: int) -> dict[str, Path]:
    """The same server's lines in each envelope (generated once, reused when already there)."""
    paths = {env: workdir / f"busy-{lines}-{seed}-{env}.log" for env in ENVELOPES}
    if all(p.exists() for p in paths.values()):
        return paths
    raw = list(synth.generate("v0.11", lines=lines, seed=seed, busy=PER_TICK, network="k8s"))
    for env, path in paths.items():
        with open(path.with_suffix(".tmp"), "w", encoding="utf-8") as f:
            f.writelines(synth.WRAPS[env](raw))
        path.with_suffix(".tmp").rename(path)
    return paths


def obs(*args: str) -> list[str]:
    return [sys.executable, "-m", "vllm_obs", *args]


def line_path(*args: str) -> list[str]:
    """The same command with the bulk path off (parse/driver.USE_BULK): the same-run baseline
    that shows what counting access lines in C buys."""
    code = ("import sys; from vllm_obs.parse import driver; driver.USE_BULK = False; "
            "from vllm_obs.cli import main; sys.exit(main(sys.argv[1:]))")
    return [sys.executable, "-c", code, *args]


def mtail_cmd(log: Path) -> list[str]:
    # --port 0: one-shot mtail still opens its HTTP listener; a free port avoids collisions.
    return ["mtail", "--one_shot", "--logtostderr", "--address", "127.0.0.1", "--port", "0",
            "--progs", str(MTAIL_PROGS), "--logs", str(log)]


def fmt(r: Run | None) -> str:
    return "      n/a      " if r is None else f"{r.wall_seconds:6.2f}s ({r.user_seconds:5.2f}u)"


def envelopes(paths: dict[str, Path], repeat: int, with_mtail: bool, with_line_path: bool) -> bool:
    print("\n== analyze --format json, by envelope (best wall of %d; u = user+sys CPU seconds) ==" % repeat)
    print(f"{'envelope':18} {'MB':>5}  {'grep -c':16} {'mtail':16} {'vllm-obs':16} "
          f"{'mtail/obs':>9} {'obs/grep':>8} {'obs RSS':>8}  {'line path (bulk off)':16}")
    ok = True
    for env, path in paths.items():
        grep = best(["grep", "-c", "Running: ", str(path)], repeat, "pipe")
        mtail = best(mtail_cmd(path), repeat) if with_mtail else None
        analyze = best(obs("analyze", "--format", "json", "--no-progress", str(path)), repeat)
        lines = (best(line_path("analyze", "--format", "json", "--no-progress", str(path)), repeat)
                 if with_line_path else None)
        vs_mtail = mtail.wall_seconds / analyze.wall_seconds if mtail else None
        vs_grep = analyze.wall_seconds / grep.wall_seconds
        ok &= (vs_mtail is None or vs_mtail >= 10) and vs_grep <= 10
        print(f"{env:18} {path.stat().st_size / 1e6:5.0f}  {fmt(grep)} {fmt(mtail)} {fmt(analyze)} "
              f"{(f'{vs_mtail:8.1f}x' if vs_mtail else '      n/a'):>9} {vs_grep:7.1f}x "
              f"{analyze.peak_rss_bytes / 2**20:6.0f}MiB  {fmt(lines)}")
    print("targets: mtail/obs >= 10x, obs/grep <= 10x" + ("  -> met" if ok else "  -> MISSED (see profile notes)"))
    return ok


def memory(workdir: Path, lines: int, seed: int) -> bool:
    small = write_logs(workdir, lines // 5, seed)["none"]
    big = write_logs(workdir, lines, seed)["none"]
    print("\n== peak RSS, 1/5 vs full input (plain) ==")
    ok = True
    for name, args in (("export", ("export", "--openmetrics", "-o", os.devnull, "--year", "2025")),
                       ("analyze (table)", ("analyze", "--format", "table", "--no-progress")),
                       ("analyze (json)", ("analyze", "--format", "json", "--no-progress"))):
        a = run(obs(*args, str(small)))
        b = run(obs(*args, str(big)))
        ratio = b.peak_rss_bytes / a.peak_rss_bytes
        flat = name != "analyze (json)"  # the json's stats list grows with the input, by contract
        if flat:
            ok &= ratio <= 1.2
        print(f"{name:16} {a.peak_rss_bytes / 2**20:6.0f} MiB -> {b.peak_rss_bytes / 2**20:6.0f} MiB  "
              f"x{ratio:.2f}" + ("  (target <= 1.2)" if flat else "  (stats rows kept: grows)"))
    return ok


def jobs(workdir: Path, lines: int, repeat: int) -> bool:
    files = [write_logs(workdir, lines // 4, seed)["cri"] for seed in (11, 12, 13, 14)]
    probe = subprocess.run(obs("analyze", "--help"), capture_output=True, text=True)
    if "--jobs" not in probe.stdout:
        print("\n== jobs: analyze has no --jobs ==")
        return False
    print(f"\n== a 4-file archive ({sum(f.stat().st_size for f in files) / 1e6:.0f} MB, CRI) ==")
    one = best(obs("analyze", "--format", "json", "--no-progress", "--jobs", "1", *map(str, files)), repeat, "pipe")
    two = best(obs("analyze", "--format", "json", "--no-progress", "--jobs", "2", *map(str, files)), repeat, "pipe")
    same = one.stdout == two.stdout
    speedup = one.wall_seconds / two.wall_seconds
    print(f"--jobs 1 {fmt(one)}   --jobs 2 {fmt(two)}   speedup {speedup:.2f}x (target >= 1.7x)   "
          f"same output: {same}")
    return speedup >= 1.7 and same


def backlog(paths: dict[str, Path]) -> bool:
    """A sidecar restarted on a big file: the backlog through the live pipeline's code (1 MiB
    reads cut by LineSplitter, feed_lines into the sidecar's State), bulk path on and off."""
    from vllm_obs.ingest.lines import LineSplitter
    from vllm_obs.live.state import State
    from vllm_obs.parse import driver
    from vllm_obs.parse.parser import LineParser
    from vllm_obs.parse.records import LineContext, Record

    class StateSink:  # what live/pipeline.py hands feed_lines
        def __init__(self, state: State, source: str) -> None:
            self.state, self.source = state, source

        def record(self, context: LineContext, record: Record) -> None:
            self.state.apply(self.source, context, record)

        def access_counts(self, counts: dict) -> None:
            self.state.add_http_counts(self.source, counts)

        def line_counts(self, delta: dict) -> None:
            self.state.add_line_counts(self.source, delta)

    print("\n== sidecar backlog: the whole file through feed_lines into the State (in this process) ==")
    for env, path in paths.items():
        cells = []
        for bulk in (True, False):
            driver.USE_BULK = bulk
            state, parser, splitter = State(), LineParser(str(path)), LineSplitter()
            sink = StateSink(state, str(path))
            wall, cpu, n = time.perf_counter(), time.process_time(), 0
            with open(path, "rb") as f:
                while data := f.read(1 << 20):
                    lines = splitter.feed(data)
                    n += len(lines)
                    driver.feed_lines(parser, lines, sink)
            cells.append(f"{time.perf_counter() - wall:6.2f}s ({time.process_time() - cpu:5.2f}u)")
        driver.USE_BULK = True
        print(f"{env:18} {n:,} lines: bulk {cells[0]}   line path {cells[1]}")
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=2, help="runs per measurement (default 2)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/vllm-obs-bench-busy"),
                   help="where the generated logs are kept between runs")
    p.add_argument("--no-mtail", action="store_true")
    p.add_argument("--no-line-path", action="store_true", help="skip the bulk-off baseline column")
    p.add_argument("--only", choices=("envelopes", "memory", "jobs", "backlog"), action="append")
    p.add_argument("--envelope", choices=ENVELOPES, action="append", help="only these envelopes (default: all four)")
    args = p.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    with_mtail = not args.no_mtail and shutil.which("mtail") is not None
    only = set(args.only or ("envelopes", "memory", "jobs", "backlog"))
    print(f"bench_busy: {args.lines:,} lines, v0.11 busy mix, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.1f}")
    ok = True
    if "envelopes" in only:
        paths = write_logs(args.workdir, args.lines, args.seed)
        if args.envelope:
            paths = {env: path for env, path in paths.items() if env in args.envelope}
        ok &= envelopes(paths, args.repeat, with_mtail,
                        not args.no_line_path)
    if "memory" in only:
        ok &= memory(args.workdir, args.lines, args.seed)
    if "jobs" in only:
        ok &= jobs(args.workdir, args.lines, args.repeat)
    if "backlog" in only:
        paths = write_logs(args.workdir, args.lines, args.seed)
        backlog({env: p for env, p in paths.items() if not args.envelope or env in args.envelope})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
