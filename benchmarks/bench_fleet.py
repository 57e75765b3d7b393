#!/usr/bin/env python3
"""`vllm-obs fleet` throughput: the process pool with 1 and 2 workers, and Ray with 2 CPUs.

    python benchmarks/bench_fleet.py                          # 1,000 sources x 20,000 lines
    python benchmarks/bench_fleet.py --sources 200 --lines 5000   # quicker

Builds a Kubernetes pod-log tree in a temporary directory: one CRI-wrapped log per vLLM era
from benchmarks/synth.py (busy servers, one restart each), hard-linked into SOURCES pod
directories (so the tree costs the disk of seven logs). Then, in the same run, `vllm-obs fleet`:
- `--engine local --jobs 1` (the baseline), `--engine local --jobs 2`;
- `--engine ray --jobs 2` (a local Ray started for the run; its start-up is included).
Prints seconds, sources/s, MB/s, the scaling ratio against --jobs 1 (target >= 1.7x on two
cores), the load average (the ratio means little when other work holds the cores; note that
Ray runs its workers at nice 15, so they yield to any other load) and the driver's peak RSS (the command's own process, not its workers); the driver is
run again on a fifth of the sources to show its memory stays flat (ratio ~1.0).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import ERAS, WRAPS, generate  # noqa: E402

# The driver's own peak RSS: this child runs the command in-process and reports RUSAGE_SELF.
_DRIVER = (
    "import resource, sys\n"
    "from vllm_obs.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def build_tree(root: Path, sources: int, lines: int) -> int:
    """Write the pod tree; returns its size in bytes."""
    templates = []
    for era in sorted(ERAS):
        path = root / "templates" / f"{era}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as out:
            for text in WRAPS["cri"](generate(era, lines=lines, seed=1, restarts=1, busy=True)):
                out.write(text + "\n")
        templates.append(path)
    total = 0
    for i in range(sources):
        name = f"vllm-{i:04d}"
        uid = hashlib.sha1(name.encode()).hexdigest()
        d = root / "pods" / f"bench_{name}_{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}" / "vllm"
        d.mkdir(parents=True)
        template = templates[i % len(templates)]
        os.link(template, d / "0.log")
        total += template.stat().st_size
    return total


def run(tree: Path, out: Path, *flags: str) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _DRIVER, "fleet", str(tree), "-o", str(out), "--no-progress", *flags],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench_fleet: {' '.join(flags)} failed:\n{proc.stderr}")
    rss = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("peak_rss_kib"))
    return seconds, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=20_000, help="lines per source")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        size = build_tree(root / "tree", args.sources, args.lines)
        print(f"tree: {args.sources} sources x {args.lines:,} lines, {size / 1e6:,.0f} MB "
              f"(built in {time.perf_counter() - t0:.0f} s)")
        # Other users' processes on a shared machine skew the ratio: the 1-minute load average at
        # the end of each run is printed beside it (2.0 = both cores busy).
        print(f"{'run':<22}{'seconds':>9}{'sources/s':>11}{'MB/s':>8}{'vs jobs 1':>11}{'driver RSS':>12}{'load':>7}")
        results = {}
        configs = [("local --jobs 1", ["--jobs", "1"]), ("local --jobs 2", ["--jobs", "2"])]
        if not args.no_ray:
            configs.append(("ray, 2 CPUs", ["--engine", "ray", "--jobs", "2"]))
        for name, flags in configs:
            seconds, rss = run(root / "tree", root / name.replace(" ", "_"), *flags)
            results[name] = seconds
            ratio = results["local --jobs 1"] / seconds
            print(f"{name:<22}{seconds:>9.1f}{args.sources / seconds:>11.1f}{size / 1e6 / seconds:>8.1f}"
                  f"{ratio:>10.2f}x{rss / 1024:>8.0f} MiB{os.getloadavg()[0]:>7.1f}")
        # Flat driver memory: the same with a fifth of the sources (the pool's driver only
        # writes; its RSS must not grow with the number of sources or stats lines).
        fifth = root / "fifth"
        for d in sorted((root / "tree" / "pods").iterdir())[: max(args.sources // 5, 1)]:
            (fifth / "pods" / d.name / "vllm").mkdir(parents=True)
            os.link(d / "vllm" / "0.log", fifth / "pods" / d.name / "vllm" / "0.log")
        _s, rss_small = run(fifth, root / "fifth_out", "--jobs", "2")
        _s, rss_full = run(root / "tree", root / "full_out", "--jobs", "2")
        print(f"driver peak RSS, --jobs 2: {rss_small / 1024:.0f} MiB on {args.sources // 5} sources, "
              f"{rss_full / 1024:.0f} MiB on {args.sources}: ratio {rss_full / rss_small:.2f} (target ~1.0)")
        scaling = results["local --jobs 1"] / results["local --jobs 2"]
        print(f"scaling 1 -> 2 workers: {scaling:.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
