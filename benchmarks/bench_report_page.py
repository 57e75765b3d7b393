"""The report page on a long series: its size and its drawing time in headless Chromium.

One engine start with N stats lines (10 s apart, a day of load every 86,400 s), drawn as the
four panels of `vllm-obs report` (throughput with its ceiling, requests, KV usage, preemptions).
Prints the page size and the time the page's script took to draw every panel (uPlot, measured
in the page with performance.now()), and the wall time of Chromium loading the page, for
100,000 points against a same-run baseline of 1,000 points.

  .venv/bin/python benchmarks/bench_report_page.py [--points 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import tempfile
import time
from pathlib import Path

from vllm_obs.archive.page import render_html
from vllm_obs.archive.report import build_report

CHROMIUM = "/usr/bin/chromium"


def summary_with(points: int) -> dict:
    stats = []
    for i in range(points):
        t = 1_767_225_600 + 10 * i  # 2026-01-01, every 10 s
        load = 0.5 + 0.5 * math.sin(2 * math.pi * i / 8640)
        running = int(1 + 40 * load)
        stats.append({
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z",
            "prompt_tps": round(2000 * load, 1), "generation_tps": round(30 * running * (1 - 0.3 * load), 1),
            "running": running, "waiting": max(0, int(30 * (load - 0.8))), "gpu_kv_usage_pct": round(98 * load, 1),
            "preemptions": 1 if load > 0.97 and i % 7 == 0 else 0,
        })
    start = {"index": 0, "started_at": stats[0]["time"], "stats": stats, "errors": [], "details": {}}
    return {"starts": [start], "details": {"lines": {"matched": points}}}


def measure(points: int, runs: int, workdir: Path) -> tuple[int, float, float]:
    page = workdir / f"report-{points}.html"
    page.write_text(render_html(build_report(summary_with(points), ["bench"])))
    draw, wall = [], []
    for run in range(runs):
        began = time.perf_counter()
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={workdir}/p{points}-{run}",
             "--window-size=1200,2000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=300,
        ).stdout
        wall.append(time.perf_counter() - began)
        found = re.search(r'data-render-ms="([\d.]+)"', dom)
        assert found, "the page did not finish drawing"
        draw.append(float(found.group(1)))
    return page.stat().st_size, min(draw), min(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="best of this many loads (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base_size, base_draw, base_wall = measure(1_000, args.runs, Path(tmp))
        size, draw, wall = measure(args.points, args.runs, Path(tmp))
    print(f"{'points':>8} {'page size':>12} {'draw (ms)':>10} {'chromium load (s)':>18}")
    print(f"{1_000:>8,} {base_size / 1e6:>9.2f} MB {base_draw:>10.0f} {base_wall:>18.2f}")
    print(f"{args.points:>8,} {size / 1e6:>9.2f} MB {draw:>10.0f} {wall:>18.2f}")
    print(f"ratio {args.points // 1000}x points: page {size / base_size:.1f}x, draw {draw / base_draw:.1f}x, load {wall / base_wall:.1f}x")


if __name__ == "__main__":
    main()
