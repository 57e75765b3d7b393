#!/usr/bin/env python3
"""The sidecar's HTTP server under many scrapers and slow clients, against a same-run baseline.

    python benchmarks/bench_scrapes.py                  # 200 concurrent scrapes x 5 rounds, 1,000 slow clients
    python benchmarks/bench_scrapes.py --concurrent 500 --rounds 3 --slow 2000

One real `vllm-obs run` process follows a copy of the real H100 log (case 060), so /metrics
has its real size. Phases:
1. baseline: --baseline single scrapes one after another; their latency is the reference;
2. concurrent: --rounds rounds of --concurrent scrapes sent at once, each on its own
   connection, from two clients: one asyncio thread, and `curl --parallel` (C: the client's own
   cost hides less of the server's; the p99 target is judged on it when curl is installed); p50 / p99 / max latency over all of them, and their ratio to the
   baseline's p50;
3. slow clients: --slow connections each send half a request head and then nothing; while they
   stay open the sidecar's thread count (/proc/PID/status) is read and a normal scrape is timed.

Targets (issue 11): concurrent p99 < 100 ms; threads bounded (not growing with slow clients).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

LOG = Path(__file__).resolve().parent.parent / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return -1


def scrape(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def concurrent_round(port: int, n: int) -> list[float]:
    """n scrapes sent at once from one thread (asyncio, raw HTTP/1.1 with Connection: close), so
    that the client's own cost does not compete with the sidecar for the interpreter; each
    latency runs from the common start to the last byte of its answer."""
    request = f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()

    async def one(started: float) -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        answer = await reader.read()
        writer.close()
        if not answer.startswith(b"HTTP/1.1 200") or b"vllm_obs_" not in answer:
            raise OSError(f"unexpected answer: {answer[:60]!r}")
        return time.perf_counter() - started

    async def all_of_them() -> list[float]:
        started = time.perf_counter()
        return list(await asyncio.gather(*(one(started) for _ in range(n))))

    return asyncio.run(all_of_them())


def curl_round(url: str, n: int) -> list[float] | None:
    """n scrapes at once from curl --parallel (a C client: its own cost does not hide the
    server's); None without curl."""
    if shutil.which("curl") is None:
        return None
    args = ["curl", "-s", "--fail", "--parallel", "--parallel-immediate", "--parallel-max", str(n), "-w", "%{http_code} %{time_total}\\n"]
    out = subprocess.run([*args, *(["-o", "/dev/null", url] * n)], capture_output=True, text=True, timeout=120).stdout.split("\n")
    results = [line.split() for line in out if line.strip()]
    if len(results) != n or any(code != "200" for code, _ in results):
        raise SystemExit(f"curl: {sum(code == '200' for code, _ in results)} of {n} scrapes answered 200")
    return [float(seconds) for _, seconds in results]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrent", type=int, default=200, help="scrapes started together (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of concurrent scrapes (default 5)")
    parser.add_argument("--baseline", type=int, default=50, help="single scrapes for the baseline (default 50)")
    parser.add_argument("--slow", type=int, default=1000, help="slow-header connections held open (default 1000)")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.slow + args.concurrent + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))  # the child inherits it
    workdir = Path(tempfile.mkdtemp(prefix="vo-bench-scrapes-"))
    log = workdir / "vllm.log"
    shutil.copy(LOG, log)
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    sidecar = subprocess.Popen(
        [sys.executable, "-m", "vllm_obs", "run", "--file", str(log), "--host", "127.0.0.1", "--port", str(port), "--stats-ttl", "3600"],
        stderr=subprocess.DEVNULL,
    )
    slow: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        while True:  # until the sidecar serves the log's metrics
            try:
                body = urllib.request.urlopen(url, timeout=5).read()
                if any(line.startswith(b"vllm_obs_log_lines_total{") and b'result="matched"' in line and line.endswith(b" 2481.0") for line in body.split(b"\n")):
                    break  # every line of the log read
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the sidecar did not serve the log's metrics within 30 s")
            time.sleep(0.1)
        size = len(urllib.request.urlopen(url, timeout=5).read())
        idle_threads = threads_of(sidecar.pid)

        baseline = [scrape(url) for _ in range(args.baseline)]
        together: list[float] = []
        with_curl: list[float] = []
        for _ in range(args.rounds):
            together += concurrent_round(port, args.concurrent)
            with_curl += curl_round(url, args.concurrent) or []

        for _ in range(args.slow):
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            client.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
            slow.append(client)
        time.sleep(0.5)  # let the server take them all in before counting (not a wait for a result)
        slow_threads = threads_of(sidecar.pid)
        during_slow = [scrape(url) for _ in range(10)]
    finally:
        for client in slow:
            client.close()
        sidecar.terminate()
        sidecar.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    base_p50 = percentile(baseline, 0.5)
    p50, p99, worst = percentile(together, 0.5), percentile(together, 0.99), max(together)
    slow_p50 = percentile(during_slow, 0.5)
    load = os.getloadavg()[0]
    print(f"/metrics of the real H100 log: {size:,} bytes; load average {load:.1f} on {os.cpu_count()} cores (latencies grow with it)")
    print(f"{'latency (ms)':34}{'p50':>9}{'p99':>9}{'max':>9}{'p50/base':>10}")
    print(f"{f'baseline: {args.baseline} single scrapes':34}{base_p50 * 1e3:>9.1f}{percentile(baseline, 0.99) * 1e3:>9.1f}{max(baseline) * 1e3:>9.1f}{1.0:>10.1f}")
    print(f"{f'{args.concurrent} at once x {args.rounds}, asyncio':34}{p50 * 1e3:>9.1f}{p99 * 1e3:>9.1f}{worst * 1e3:>9.1f}{p50 / base_p50:>10.1f}")
    if with_curl:
        c50, p99 = percentile(with_curl, 0.5), percentile(with_curl, 0.99)  # the target is judged on the C client
        print(f"{f'{args.concurrent} at once x {args.rounds}, curl':34}{c50 * 1e3:>9.1f}{p99 * 1e3:>9.1f}{max(with_curl) * 1e3:>9.1f}{c50 / base_p50:>10.1f}")
    print(f"{f'with {args.slow} slow clients open':34}{slow_p50 * 1e3:>9.1f}{percentile(during_slow, 0.99) * 1e3:>9.1f}{max(during_slow) * 1e3:>9.1f}{slow_p50 / base_p50:>10.1f}")
    print(f"sidecar threads: {idle_threads} serving, {slow_threads} with {args.slow} slow-header connections open")
    ok = p99 < 0.100 and slow_threads <= idle_threads
    print(f"targets (p99 < 100 ms, threads bounded): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
