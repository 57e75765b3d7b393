#!/usr/bin/env python3
"""Sidecar under load: CPU share, peak RSS and line-to-metric latency, with an idle baseline.

    python benchmarks/bench_sidecar.py                 # 5,000 lines/s for 60 s (the issue's figure)
    python benchmarks/bench_sidecar.py --rate 2000 --seconds 20

Phases, in one run on one machine (machines here are noisy: compare within the run):
1. idle: the sidecar follows an empty file for --idle-seconds; its CPU share and RSS are the
   baseline;
2. load: a writer appends vLLM-format lines (uvicorn access lines and V1 stats lines, as a busy
   server prints them) at --rate lines/s for --seconds. Every half second one stats line carries
   a unique `Running: N`; a poller scrapes /metrics every --poll-ms and records when N first
   appears. Latency = that time minus the write time.

Targets (issue 4): RSS below 60 MiB, p99 latency below 1 s, CPU below 25% of one core.

    python benchmarks/bench_sidecar.py --backlog-mib 1024    # RSS on a 1 GB backlog, catch-up time
    python benchmarks/bench_sidecar.py --backlog-mib 2048    # catch-up time on a 2 GB file

Backlog (issue 11): the sidecar starts on a file of --backlog-mib MiB of the same lines; peak RSS
is measured against the same sidecar on an empty file, and the catch-up time (start to /readyz
200, when every line is in /metrics) against a plain read of the file counting its newlines.
Target: peak RSS under 100 MiB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ACCESS = '(APIServer pid=1) INFO:     172.17.0.{a}:{port} - "POST /v1/chat/completions HTTP/1.1" 200 OK\n'
STATS = (
    "(APIServer pid=1) INFO 11-21 16:{m:02d}:{s:02d} [loggers.py:271] Engine 000: Avg prompt throughput: {p:.1f} tokens/s, "
    "Avg generation throughput: {g:.1f} tokens/s, Running: {running} reqs, Waiting: 0 reqs, GPU KV cache usage: {kv:.1f}%, "
    "Prefix cache hit rate: 0.0%\n"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def scrape_running(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            for raw in response:
                if raw.startswith(b"vllm_obs_requests_running{"):
                    return int(float(raw.rsplit(b" ", 1)[1]))
    except OSError:
        return None
    return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=5000, help="lines per second written (default 5000)")
    parser.add_argument("--seconds", type=float, default=60, help="load duration (default 60)")
    parser.add_argument("--idle-seconds", type=float, default=10, help="idle baseline duration (default 10)")
    parser.add_argument("--poll-ms", type=float, default=50, help="scrape interval of the latency poller (default 50)")
    parser.add_argument("--backlog-mib", type=int, default=0, help="instead: start on a backlog of this many MiB (RSS, catch-up time)")
    parser.add_argument("--adversarial-line", action="store_true",
                        help="instead: peak RSS after one 1 MiB stats line of repeated parts (issue 11: 96 KB took 324 MB before)")
    args = parser.parse_args()
    if args.backlog_mib:
        return backlog(args.backlog_mib)
    if args.adversarial_line:
        return adversarial_line()

    workdir = Path(tempfile.mkdtemp(prefix="vo-bench-"))
    log = workdir / "vllm.log"
    log.write_text("")
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    sidecar = subprocess.Popen(
        [sys.executable, "-m", "vllm_obs", "run", "--file", str(log), "--host", "127.0.0.1", "--port", str(port), "--stats-ttl", "600"],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # wait until the sidecar serves
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the sidecar did not start serving within 30 s") from None
                time.sleep(0.1)

        # Phase 1: idle baseline.
        c0, t0 = cpu_seconds(sidecar.pid), time.monotonic()
        time.sleep(args.idle_seconds)
        idle_cpu = (cpu_seconds(sidecar.pid) - c0) / (time.monotonic() - t0)
        idle_rss = peak_rss_mib(sidecar.pid)

        # Phase 2: load, with markers.
        written: dict[int, float] = {}
        seen: dict[int, float] = {}
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                value = scrape_running(url)
                if value is not None and value in written and value not in seen:
                    seen[value] = time.monotonic()
                time.sleep(args.poll_ms / 1000)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        c1, t1 = cpu_seconds(sidecar.pid), time.monotonic()
        # Written in ~10 ms slices.
        marker = 1000
        next_marker = t1
        lines_written = 0
        with open(log, "a", buffering=1 << 16) as out:
            while time.monotonic() - t1 < args.seconds:
                slice_start = time.monotonic()
                # Paced by the absolute schedule, so sleep granularity does not lower the rate.
                batch = max(1, int(args.rate * (slice_start - t1)) - lines_written)
                chunk = [ACCESS.format(a=i % 250, port=10000 + (lines_written + i) % 50000) for i in range(batch)]
                if slice_start >= next_marker:
                    marker += 1
                    elapsed = int(slice_start - t1)
                    chunk[-1] = STATS.format(m=elapsed // 60 % 60, s=elapsed % 60, p=1000.0, g=3000.0, running=marker, kv=50.0)
                    next_marker = slice_start + 0.5
                out.write("".join(chunk))
                out.flush()
                if chunk[-1].startswith("(APIServer pid=1) INFO 11"):
                    written[marker] = time.monotonic()
                lines_written += batch
                delay = 0.01 - (time.monotonic() - slice_start)
                if delay > 0:
                    time.sleep(delay)
        # Let the last markers arrive.
        deadline = time.monotonic() + 5
        while len(seen) < len(written) and time.monotonic() < deadline:
            time.sleep(0.05)
        load_wall = time.monotonic() - t1
        load_cpu = (cpu_seconds(sidecar.pid) - c1) / load_wall
        load_rss = peak_rss_mib(sidecar.pid)
        stop.set()
        poller.join(2)
    finally:
        sidecar.terminate()
        sidecar.wait(10)

    latencies = [seen[m] - written[m] for m in written if m in seen]
    missed = len(written) - len(latencies)
    actual_rate = lines_written / args.seconds
    p50 = percentile(latencies, 0.5) if latencies else float("nan")
    p99 = percentile(latencies, 0.99) if latencies else float("nan")
    print(f"load: {lines_written:,} lines in {args.seconds:.0f} s ({actual_rate:,.0f} lines/s), {len(written)} markers, {missed} not seen")
    print(f"{'':18}{'idle':>10}{'load':>10}{'load/idle':>11}{'target':>12}")
    print(f"{'CPU (% of core)':18}{idle_cpu * 100:>10.2f}{load_cpu * 100:>10.2f}{load_cpu / max(idle_cpu, 1e-6):>11.1f}{'< 25':>12}")
    print(f"{'peak RSS (MiB)':18}{idle_rss:>10.1f}{load_rss:>10.1f}{load_rss / idle_rss:>11.2f}{'< 60':>12}")
    print(f"latency write->scrape: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (target p99 < 1000 ms; poll every {args.poll_ms:.0f} ms)")
    ok = load_rss < 60 and p99 < 1.0 and load_cpu < 0.25 and missed == 0
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


def start_sidecar(log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vllm_obs", "run", "--file", str(log), "--host", "127.0.0.1", "--port", str(port), "--stats-ttl", "600"],
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(url: str, timeout: float) -> float:
    """Seconds until /readyz answers 200."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if urllib.request.urlopen(f"{url}/readyz", timeout=2).status == 200:
                return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"not ready within {timeout:.0f} s")


def backlog(mib: int) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="vo-bench-"))
    try:
        empty, log = workdir / "empty.log", workdir / "backlog.log"
        empty.write_text("")
        lines = 0
        with open(log, "w", buffering=1 << 20) as out:  # the load phase's lines, a stats line per 200
            while out.tell() < mib << 20:
                chunk = [ACCESS.format(a=i % 250, port=10000 + (lines + i) % 50000) for i in range(199)]
                chunk.append(STATS.format(m=lines // 60 % 60, s=lines % 60, p=1000.0, g=3000.0, running=lines % 500, kv=50.0))
                out.write("".join(chunk))
                lines += 200
        size = log.stat().st_size

        proc, url = start_sidecar(empty)  # baseline: the same sidecar with nothing to read
        try:
            wait_ready(url, 60)
            time.sleep(1)
            baseline_rss = peak_rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)

        t0 = time.monotonic()  # baseline: a plain read of the file (page cache warm after writing)
        newlines = 0
        with open(log, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                newlines += block.count(b"\n")
        scan_seconds = time.monotonic() - t0

        proc, url = start_sidecar(log)
        try:
            catch_up = wait_ready(url, 3600)
            rss = peak_rss_mib(proc.pid)
            served = scrape_sum(f"{url}/metrics", b"vllm_obs_log_lines_total{")
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"backlog: {size / 2**20:,.0f} MiB, {lines:,} lines; lines counted at the first ready scrape: {served:,.0f}")
    print(f"peak RSS on the backlog: {rss:.1f} MiB (empty file: {baseline_rss:.1f} MiB, ratio {rss / baseline_rss:.2f}; target < 100 MiB)")
    print(f"catch-up time: {catch_up:.1f} s ({size / 2**20 / catch_up:,.0f} MiB/s, {lines / catch_up:,.0f} lines/s); "
          f"plain read: {scan_seconds:.2f} s (catch-up / read {catch_up / scan_seconds:.0f}x)")
    ok = rss < 100 and served == lines
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


def adversarial_line() -> int:
    """Peak RSS of a sidecar that reads one 1 MiB stats line whose part repeats (the shape that was
    quadratic), beside the same sidecar on an empty file, in the same run."""
    workdir = Path(tempfile.mkdtemp(prefix="vo-bench-"))
    try:
        empty, log = workdir / "empty.log", workdir / "adversarial.log"
        empty.write_text("")
        head = "(APIServer pid=1) INFO 12-01 10:00:00 [loggers.py:1] Engine 000: Avg prompt throughput: 1.0 tokens/s, "
        log.write_text(head + "Waiting: 0 reqs " * ((1 << 20) // 16) + "\n" + ACCESS.format(a=1, port=10001))
        rss = {}
        for name, path in (("empty file", empty), ("1 MiB line", log)):
            proc, url = start_sidecar(path)
            try:
                seconds = wait_ready(url, 120)
                time.sleep(0.5)
                rss[name] = (peak_rss_mib(proc.pid), seconds)
                served = scrape_sum(f"{url}/metrics", b"vllm_obs_log_lines_total{")
            finally:
                proc.terminate()
                proc.wait(10)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    (base, _), (peak, seconds) = rss["empty file"], rss["1 MiB line"]
    print(f"peak RSS: empty file {base:.1f} MiB, after one 1 MiB adversarial line {peak:.1f} MiB "
          f"(ratio {peak / base:.2f}; target < 100 MiB); ready after {seconds:.2f} s; lines counted {served:.0f} (2 written)")
    ok = peak < 100 and served == 2
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


def scrape_sum(url: str, prefix: bytes) -> float:
    with urllib.request.urlopen(url, timeout=10) as response:
        return sum(float(raw.rsplit(b" ", 1)[1]) for raw in response if raw.startswith(prefix))


if __name__ == "__main__":
    raise SystemExit(main())
