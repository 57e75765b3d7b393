#!/usr/bin/env python3
"""Archive analysis: `vllm-obs analyze` and `export` on a rotated set against `zcat | grep -c`.

    python benchmarks/bench_archive.py                   # 10 files, 5,000,000 lines, half .gz
    python benchmarks/bench_archive.py --lines 1000000   # quicker

Builds a rotated set in a temporary directory from benchmarks/synth.py (a busy v0.33 server):
vllm.log.9.gz ... vllm.log.5.gz (compressed, oldest), vllm.log.4 ... vllm.log.1, vllm.log.
Then, in the same run, best of --repeat:
- baseline: `zcat -f FILES | grep -c 'Avg prompt throughput'` (reads every byte once, in C);
- `vllm-obs analyze DIR --format json` and `vllm-obs export --openmetrics DIR -o out.om`:
  seconds, lines/s, the ratio to the baseline, and peak RSS.
Peak memory must not grow with the archive: the script also runs both on a fifth of the
archive and prints the RSS ratio (target ~1.0). Target for speed: within 10x of the baseline.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import generate  # noqa: E402


def build_archive(directory: Path, lines: int, files: int, seed: int) -> list[Path]:
    """Write the rotated set; returns the files oldest first."""
    names = [f"vllm.log.{i}" for i in range(files - 1, 0, -1)] + ["vllm.log"]
    compressed = set(names[: files // 2])
    per_file = lines // files
    paths, handle, written, index = [], None, 0, -1
    for _t, _stream, text in generate("v0.33", lines=lines, seed=seed, busy=True):
        if handle is None or (written >= per_file * (index + 1) and index < files - 1):
            if handle is not None:
                handle.close()
            index += 1
            name = names[index]
            path = directory / (name + ".gz" if name in compressed else name)
            handle = gzip.open(path, "wt", compresslevel=6) if name in compressed else open(path, "w")
            paths.append(path)
        handle.write(text + "\n")
        written += 1
    handle.close()
    return paths


def timed(cmd: str | list[str], repeat: int) -> tuple[float, float]:
    """(best seconds, peak RSS MiB of the child) over `repeat` runs."""
    best, peak = float("inf"), 0.0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        subprocess.run(cmd, shell=isinstance(cmd, str), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
        # ru_maxrss of children is the max over all children so far: only growth is attributable.
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, before / 1024)
    return best, peak


def rss_of(cmd: list[str]) -> float:
    """Peak RSS (MiB) of one run, measured by GNU time when present, else by rusage."""
    if shutil.which("time") or os.path.exists("/usr/bin/time"):
        out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, check=True)
        return int(out.stderr.strip().splitlines()[-1]) / 1024
    return timed(cmd, 1)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=5_000_000, help="lines in the archive (default 5,000,000)")
    parser.add_argument("--files", type=int, default=10, help="files in the rotated set (default 10)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per command; the best is kept (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the archive directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vo-archive-"))
    small = Path(tempfile.mkdtemp(prefix="vo-archive-small-"))
    try:
        t = time.perf_counter()
        files = build_archive(work, args.lines, args.files, args.seed)
        build_archive(small, args.lines // 5, args.files, args.seed)
        ordered = " ".join(str(p) for p in files)
        total = int(subprocess.run(f"zcat -f {ordered} | wc -l", shell=True, capture_output=True, text=True, check=True).stdout)
        size = sum(p.stat().st_size for p in files)
        print(f"archive: {len(files)} files, {total:,} lines, {size / 2**20:.0f} MiB on disk (built in {time.perf_counter() - t:.0f} s)")

        vo = [sys.executable, "-m", "vllm_obs"]
        out = work / "out.om"
        runs = {
            "zcat | grep -c (baseline)": f"zcat -f {ordered} | grep -c 'Avg prompt throughput'",
            "vllm-obs analyze": [*vo, "analyze", str(work), "--format", "json", "--no-progress"],
            "vllm-obs export": [*vo, "export", "--openmetrics", str(work), "-o", str(out)],
        }
        results = {name: timed(cmd, args.repeat)[0] for name, cmd in runs.items()}
        baseline = results["zcat | grep -c (baseline)"]
        print(f"\n{'':28}{'seconds':>9}{'lines/s':>13}{'x baseline':>12}")
        for name, seconds in results.items():
            print(f"{name:28}{seconds:>9.2f}{total / seconds:>13,.0f}{seconds / baseline:>12.1f}")

        print("\npeak RSS (MiB), whole archive vs a fifth of it (flat memory: ratio ~1.0):")
        for name in ("analyze", "export"):
            extra = ["--format", "json", "--no-progress"] if name == "analyze" else ["--openmetrics", "-o", str(small / "out.om")]
            full = rss_of([*vo, name, str(work), *extra] if name == "analyze" else [*vo, name, "--openmetrics", str(work), "-o", str(out)])
            fifth = rss_of([*vo, name, str(small), *extra])
            print(f"  {name:8} {full:8.1f} vs {fifth:8.1f}  ratio {full / fifth:.2f}")
        print(f"\ntarget: within 10x of the baseline -> analyze {results['vllm-obs analyze'] / baseline:.1f}x, export {results['vllm-obs export'] / baseline:.1f}x")
    finally:
        if args.keep:
            print(f"archive kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(small, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
