#!/usr/bin/env python3
"""Generate realistic vLLM server logs in vLLM's exact formats, era by era.

The output is *constructed*: every line uses the exact format string, file name and line number
of the named vLLM release (checked against docs: /work/shared/vllm-log-formats.md and the
release wheels), but the values (pids, timings, throughputs, client ports) are synthetic. They
are internally consistent: blocks x block_size = tokens, concurrency = tokens / max_model_len,
generation throughput = running x per-request decode rate (from the GPU's bandwidth and peak, under
the roofline ceiling vllm-obs's theory gives), one access line per finished request.

Eras (``--era``), each one vLLM release's formats:

  v0.4.2  0.4.2 V0: ``file:line]`` prefix, stats line without trailing period, no preemption line
  v0.4    0.4.3 V0: stats line with trailing period, preemption WARNINGs
  v0.6    0.6.3 V0: Maximum concurrency line, prefix-cache line after each stats line
  v0.8    0.8.5 V0 (VLLM_USE_V1=0): ``[file:line]``, 3-line memory profile, ``# cuda blocks``
  v0.8-v1 0.8.5 V1, tensor parallel 2: ``Engine 000:`` stats, cyan ``(VllmWorker rank=N pid=..)``
  v0.11   0.11.2 V1: cyan ``(APIServer pid=N)`` / ``(EngineCore_DP0 pid=N)`` on every line
  v0.33   0.33.0 V1: in-format ``(EngineCore pid=N)`` prefix, logo banner, merged KV line

A log is: the full startup in order, then periodic stats at vLLM's interval (5 s V0, 10 s V1)
under a load that ramps up, saturates the KV cache (usage > 90 %, waiting grows, preemptions),
drains and goes idle, with uvicorn access lines in between. ``--restarts K`` makes the engine
die of a CUDA OOM K times and start again in the same log.

Use as a module::

    from benchmarks.synth import generate
    for t, stream, text in generate("v0.33", lines=10_000, seed=1): ...

or as a script (streaming, flat memory even for 5,000,000 lines)::

    python benchmarks/synth.py --era v0.11 --lines 5000000 --busy -o big.log.gz
    python benchmarks/synth.py --era v0.6 --wrap cri --lines 3000 | head

Where the reference doc does not pin a detail down, these are our choices (also commented
at the spot): nested config reprs and the ``args: Namespace(...)`` defaults come from the
release's source but are not a recorded run; traceback frames follow the release's call path
with line numbers looked up in its wheel (torch frames are approximate); the CUDA OOM text is
torch >= 2.1's; route lists are representative; the container clock is UTC; envelope stamps are
vLLM's instant plus microseconds; health probes (kubelet every 10 s, docker HEALTHCHECK every
30 s) and a Prometheus scrape every 15 s are assumed; request logging is off
(``--disable-log-requests``) unless ``--log-requests``.

Standard library only.
"""
from __future__ import annotations

import argparse
import gzip
import io
import math
import random
import sys
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

Line = tuple  # (t: float epoch seconds, stream: "stdout" | "stderr", text: str without "\n")

GIB = 1 << 30
CYAN, RESET = "\x1b[1;36m", "\x1b[0;0m"  # the stdout-wrapper prefix colour, vllm/utils (0.4.2-0.15.1)

# ---------------------------------------------------------------------------------------------
# Time and number formatting
# ---------------------------------------------------------------------------------------------

_ts_cache: dict[int, str] = {}


def vllm_time(t: float) -> str:
    """vLLM's asctime: ``%m-%d %H:%M:%S``, no year, no milliseconds, container local time.

    We assume the container runs in UTC (the default for the vllm/vllm-openai images)."""
    sec = int(t)
    s = _ts_cache.get(sec)
    if s is None:
        if len(_ts_cache) > 4096:
            _ts_cache.clear()
        s = time.strftime("%m-%d %H:%M:%S", time.gmtime(sec))
        _ts_cache[sec] = s
    return s


def rfc3339nano(t: float, fixed: bool) -> str:
    """Go's time.RFC3339Nano in UTC. ``fixed`` keeps all 9 digits (``docker logs --timestamps``,
    RFC3339NanoFixed); otherwise trailing zeros are trimmed as Go does (json-file, containerd)."""
    sec = int(t)
    nanos = int(round((t - sec) * 1e9))
    if nanos >= 1_000_000_000:
        sec, nanos = sec + 1, nanos - 1_000_000_000
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    frac = f"{nanos:09d}"
    if not fixed:
        frac = frac.rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def gib(n_bytes: float) -> float:
    return n_bytes / GIB


def format_gib(n_bytes: float) -> str:
    """vLLM >= 0.14 ``format_gib``: ``str(round(x, 2))`` (so ``15.0``, never zero-padded)."""
    return str(round(n_bytes / GIB, 2))


# ---------------------------------------------------------------------------------------------
# What is being served: model, GPU, and vLLM's own KV-cache arithmetic
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Deployment:
    """One model on one GPU type. Per-rank numbers; vLLM logs per rank."""

    model: str
    served_name: str
    arch: str
    dtype: str  # torch dtype name without "torch."
    max_model_len: int
    tp: int
    gpu: str
    total_gib: float  # what torch reports as total memory
    util: float  # --gpu-memory-utilization
    layers: int
    kv_heads: int
    head_dim: int
    weights_gib: float  # per rank
    non_torch_gib: float
    activation_gib: float
    graph_gib: float
    graph_secs: int
    load_secs: float
    shards: int
    block_size: int = 16
    swap_gib: float = 4.0
    max_num_seqs: int = 256
    prefix_caching: bool = False
    bandwidth_gb_s: float = 3350.0  # the card's memory bandwidth (datasheet), for the decode speed
    tflops: float = 989.0  # its dense FP16/BF16 tensor peak

    @property
    def kv_bytes_per_token(self) -> int:
        # K and V, every layer, this rank's share of the KV heads, 2 bytes (bf16/fp16)
        return 2 * self.layers * max(1, self.kv_heads // self.tp) * self.head_dim * 2

    @property
    def block_bytes(self) -> int:
        return self.kv_bytes_per_token * self.block_size

    @property
    def requested_gib(self) -> float:
        return self.total_gib * self.util

    @property
    def kv_gib(self) -> float:
        """What the memory profile leaves for the KV cache on each rank."""
        return self.requested_gib - self.weights_gib - self.non_torch_gib - self.activation_gib

    @property
    def gpu_blocks(self) -> int:
        return max(0, int(self.kv_gib * GIB // self.block_bytes))

    @property
    def cpu_blocks(self) -> int:
        return int(self.swap_gib * GIB // self.block_bytes)

    @property
    def kv_tokens(self) -> int:
        return self.gpu_blocks * self.block_size

    @property
    def max_concurrency(self) -> float:
        return self.kv_tokens / self.max_model_len


LLAMA3_8B_A100 = Deployment(
    model="meta-llama/Meta-Llama-3-8B-Instruct", served_name="llama-3-8b-instruct",
    arch="LlamaForCausalLM", dtype="bfloat16", max_model_len=8192, tp=1, gpu="NVIDIA A100-SXM4-80GB",
    total_gib=79.15, util=0.90, layers=32, kv_heads=8, head_dim=128, weights_gib=14.9595,
    non_torch_gib=0.31, activation_gib=1.46, graph_gib=0.0, graph_secs=7, load_secs=0,
    shards=4, bandwidth_gb_s=2039.0, tflops=312.0)

LLAMA31_8B_H100 = Deployment(
    model="meta-llama/Llama-3.1-8B-Instruct", served_name="llama-3.1-8b-instruct",
    arch="LlamaForCausalLM", dtype="bfloat16", max_model_len=16384, tp=1, gpu="NVIDIA H100 80GB HBM3",
    total_gib=79.19, util=0.90, layers=32, kv_heads=8, head_dim=128, weights_gib=14.9888,
    non_torch_gib=0.34, activation_gib=1.19, graph_gib=0.54, graph_secs=11, load_secs=4.52,
    shards=4, prefix_caching=True)

QWEN25_14B_L40S = Deployment(
    model="Qwen/Qwen2.5-14B-Instruct", served_name="qwen2.5-14b-instruct", arch="Qwen2ForCausalLM",
    dtype="bfloat16", max_model_len=8192, tp=1, gpu="NVIDIA L40S", total_gib=44.39, util=0.92,
    layers=48, kv_heads=8, head_dim=128, weights_gib=27.5185, non_torch_gib=0.22,
    activation_gib=1.92, graph_gib=0.61, graph_secs=14, load_secs=9.71, shards=8,
    bandwidth_gb_s=864.0, tflops=362.0)

QWEN25_32B_2xA100 = Deployment(
    model="Qwen/Qwen2.5-32B-Instruct", served_name="qwen2.5-32b-instruct", arch="Qwen2ForCausalLM",
    dtype="bfloat16", max_model_len=32768, tp=2, gpu="NVIDIA A100-SXM4-80GB", total_gib=79.15,
    util=0.90, layers=64, kv_heads=8, head_dim=128, weights_gib=30.5235, non_torch_gib=0.58,
    activation_gib=2.37, graph_gib=0.89, graph_secs=21, load_secs=12.34, shards=17,
    prefix_caching=True, bandwidth_gb_s=2039.0, tflops=312.0)

QWEN3_8B_H100 = Deployment(
    model="Qwen/Qwen3-8B", served_name="qwen3-8b", arch="Qwen3ForCausalLM", dtype="bfloat16",
    max_model_len=16384, tp=1, gpu="NVIDIA H100 80GB HBM3", total_gib=79.18, util=0.90,
    layers=36, kv_heads=8, head_dim=128, weights_gib=15.2683, non_torch_gib=0.45,
    activation_gib=1.19, graph_gib=0.61, graph_secs=6, load_secs=5.12, shards=5,
    prefix_caching=True)

LLAMA31_8B_H100_V33 = replace(LLAMA31_8B_H100, max_model_len=8192, weights_gib=14.99,
                              non_torch_gib=0.52, activation_gib=1.38, graph_secs=9)


# ---------------------------------------------------------------------------------------------
# Rendering: prefixes, multi-line records, raw (non-logger) output
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proc:
    """A process writing to the container's stdout/stderr. ``name=None``: vLLM gives it no
    ``(name pid=N)`` prefix (e.g. the V0 main process, or a non-DP EngineCore before 0.10.1)."""

    name: str | None
    pid: int


@dataclass(frozen=True)
class Style:
    bracketed: bool  # "[file:line]" (0.8.0+) rather than "file:line]" (<= 0.7.3)
    in_format: bool  # 0.31+: "(name pid=N)" is part of vLLM's format; raw output is unprefixed
    cyan: bool  # 0.4.2-0.11.2: the stdout/stderr wrapper colours the prefix even in files


class Emitter:
    """Turns (process, level, time, source, message) into the physical lines vLLM writes."""

    def __init__(self, style: Style):
        self.style = style

    def _wrap_prefix(self, proc: Proc) -> str:
        """Prefix added by the stdout/stderr wrapper (mechanism A, 0.4.2-0.30.0)."""
        if proc.name is None or self.style.in_format:
            return ""
        tag = f"({proc.name} pid={proc.pid})"
        return f"{CYAN}{tag}{RESET} " if self.style.cyan else f"{tag} "

    def log(self, proc: Proc, level: str, t: float, src: str, msg: str,
            stream: str = "stdout") -> list[Line]:
        """A vLLM logger record. NewLineFormatter turns each inner "\\n" into "\\r\\n" plus the
        full header again, so an N-line message is N physical lines, all but the last ending in \\r."""
        where = f"[{src}]" if self.style.bracketed else f"{src}]"
        header = f"{level} {vllm_time(t)} {where} "
        if self.style.in_format:
            header = f"({proc.name or 'MainProcess'} pid={proc.pid}) {header}"
        header = self._wrap_prefix(proc) + header
        if "\n" not in msg:
            return [(t, stream, header + msg)]
        parts = msg.split("\n")
        last = len(parts) - 1
        return [(t, stream, header + p + ("\r" if i < last else "")) for i, p in enumerate(parts)]

    def raw(self, proc: Proc, t: float, text: str, stream: str = "stderr") -> Line:
        """Output that does not go through vLLM's logger (uvicorn, tqdm, interpreter tracebacks)."""
        return (t, stream, self._wrap_prefix(proc) + text)

    def uvicorn(self, proc: Proc, t: float, msg: str, stream: str = "stderr") -> Line:
        """uvicorn's default format: level + ':' padded to 9 characters, then the message."""
        return self.raw(proc, t, f"INFO:     {msg}", stream)


def traceback_text(frames: list[tuple[str, int, str, str]], final: str, carets: bool) -> str:
    """A Python traceback. frames: (path, line, function, code). ``carets`` (Python >= 3.11)
    underlines the right-hand side of assignments/returns, as CPython does for calls."""
    out = ["Traceback (most recent call last):"]
    for path, lineno, func, code in frames:
        out.append(f'  File "{path}", line {lineno}, in {func}')
        out.append(f"    {code}")
        if carets and code.count("(") == code.count(")") and not code.endswith(","):
            # CPython >= 3.11 underlines the failing expression unless it is the whole line
            # (and, before 3.13, unless it spans several lines).
            start = 7 if code.startswith("return ") else (code.index(" = ") + 3 if " = " in code else 0)
            if start:
                out.append("    " + " " * start + "^" * (len(code) - start))
    out.append(final)
    return "\n".join(out)


def cuda_oom(total_gib: float, rng: random.Random, qualname: str) -> str:
    """PyTorch's CUDA OOM text (the wording of torch >= 2.1; see vllm-log-formats.md item 9)."""
    ask = rng.choice([1.16, 1.96, 2.32, 3.91])
    free = rng.uniform(0.4, 1.2)
    used = total_gib - free - 0.43
    alloc = used - rng.uniform(0.9, 2.5)
    return (f"{qualname}: CUDA out of memory. Tried to allocate {ask:.2f} GiB. GPU 0 has a total "
            f"capacity of {total_gib:.2f} GiB of which {free:.2f} GiB is free. Including non-PyTorch "
            f"memory, this process has {used:.2f} GiB memory in use. Of the allocated memory "
            f"{alloc:.2f} GiB is allocated by PyTorch, and {used - alloc - 0.3:.2f} GiB is reserved "
            "by PyTorch but unallocated. If reserved but unallocated memory is large try setting "
            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See "
            "documentation for Memory Management  "
            "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)")


# ---------------------------------------------------------------------------------------------
# Load: demand ramps up, saturates the KV cache, drains. One "tick" = one stats interval.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    prompt_avg: float  # tokens
    gen_avg: float  # tokens
    hit_base: float  # prefix-cache hit ratio reached once warm


@dataclass
class Tick:
    prompt_tps: float = 0.0
    gen_tps: float = 0.0
    running: int = 0
    waiting: int = 0
    deferred: int = 0
    kv_usage: float = 0.0  # 0..1
    hit_rate: float = 0.0  # 0..1
    preemptions: int = 0
    completions: int = 0


# Decode speed from the hardware, so that the logs respect physics: a decode step reads this
# rank's weights and every running request's KV cache (memory-bound) or does 2 FLOPs per
# parameter per token (compute-bound), at efficiencies below the ones vllm-obs's theory assumes
# (bandwidth 0.8, matmul the card's measured fraction, 0.8-0.87 here), plus a scheduling pause:
# every stats line stays under the roofline ceiling `vllm-obs plan` gives for its model and GPU
# (tests/test_constructed_physics.py checks it).
BANDWIDTH_EFFICIENCY = 0.6
MATMUL_EFFICIENCY = 0.45
STEP_OVERHEAD_SECONDS = 0.002


def decode_rate(dep: "Deployment", running: float, context_tokens: float) -> float:
    """Tokens/s of each of `running` requests holding `context_tokens` of KV each."""
    weights_bytes = dep.weights_gib * GIB
    read_bytes = weights_bytes + running * context_tokens * dep.kv_bytes_per_token
    memory_seconds = read_bytes / (dep.bandwidth_gb_s * 1e9 * BANDWIDTH_EFFICIENCY)
    compute_seconds = 2 * (weights_bytes / 2) * running / (dep.tflops * 1e12 * MATMUL_EFFICIENCY)  # bf16: 2 bytes a parameter
    return 1.0 / (max(memory_seconds, compute_seconds) + STEP_OVERHEAD_SECONDS)


def demand_shape(f: float) -> float:
    """Offered concurrency as a fraction of the peak, by progress f (0..1) through the run:
    ramp up, plateau (KV cache saturated, queue growing), drain."""
    if f < 0.30:
        return (f / 0.30) ** 1.3
    if f < 0.62:
        return 1.0
    return max(0.0, 1.0 - (f - 0.62) / 0.36)


class LoadModel:
    """Fluid model of vLLM's scheduler: closed-loop clients, KV-limited admission."""

    def __init__(self, dep: Deployment, work: Workload, rng: random.Random):
        self.dep, self.work, self.rng = dep, work, rng
        self.ctx = work.prompt_avg + work.gen_avg / 2  # mean KV tokens held by a running request
        self.cap = min(dep.max_num_seqs, int(dep.kv_tokens * 0.985 / self.ctx))
        self.peak = self.cap * 1.55  # enough clients to overflow the KV cache at the plateau
        self._carry = 0.0
        self._served = 0
        self._last_hit = 0.0

    def step(self, shape: float, dt: float) -> Tick:
        rng = self.rng
        demand = self.peak * shape * (1 + 0.04 * math.sin(self._served / 7.0)) * rng.uniform(0.97, 1.03)
        if shape <= 0:
            demand = 0
        running = int(min(demand, self.cap * rng.uniform(0.97, 1.0)))
        waiting = max(0, int(demand - running)) if running >= self.cap * 0.96 else 0
        if running == 0:
            self._carry = 0.0
            return Tick(hit_rate=self._last_hit)  # the hit rate is over recent requests: it stays
        kv = min(0.998, running * self.ctx / self.dep.kv_tokens * rng.uniform(0.97, 1.02))
        if running >= self.cap * 0.96:
            kv = max(kv, rng.uniform(0.925, 0.992))  # the scheduler packs the cache full
        # The speed of the batch as it is: the context each request holds is what the KV usage says.
        rate = decode_rate(self.dep, running, kv * self.dep.kv_tokens / running)
        gen_tps = running * rate * rng.uniform(0.94, 1.0)
        done_f = gen_tps * dt / self.work.gen_avg + self._carry
        done = int(done_f)
        self._carry = done_f - done
        self._served += done
        preempt = 0
        if kv > 0.92 and waiting > 0:
            preempt = int(rng.expovariate(1.0) * running * (kv - 0.9) * 0.6)
        warm = min(1.0, self._served / 200.0)
        hit = max(0.0, min(0.99, self.work.hit_base * warm + rng.uniform(-0.04, 0.04))) if self._served else 0.0
        self._last_hit = hit
        # Preempted (recomputed) requests prefill again, so prompt throughput rises with them.
        prompt_tps = (done + preempt * 0.5) * self.work.prompt_avg / dt * rng.uniform(0.9, 1.1)
        deferred = rng.choice((0, 0, 0, 0, 1, 2, 3)) if waiting else 0
        return Tick(prompt_tps, gen_tps, running, waiting, deferred, kv, hit, preempt, done)


# ---------------------------------------------------------------------------------------------
# HTTP traffic: uvicorn access lines
# ---------------------------------------------------------------------------------------------

_PHRASES = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error"}


class Traffic:
    """Clients with keep-alive connections; each finished request is one access line."""

    def __init__(self, rng: random.Random, network: str):
        self.rng = rng
        self.network = network
        self._conns: list[str] = []
        self._next_port = rng.randint(33000, 52000)

    def _new_conn(self) -> str:
        self._next_port += self.rng.choice((2, 2, 4, 6, 14))
        if self._next_port > 60999:
            self._next_port = 32768 + self._next_port % 1000
        if self.network == "docker":
            ip = "172.17.0.1"  # every published-port client arrives via the bridge gateway
        elif self.network == "k8s":
            ip = f"10.244.{self.rng.choice((1, 2, 3))}.{self.rng.randint(2, 60)}"
        else:
            ip = "127.0.0.1"
        return f"{ip}:{self._next_port}"

    def probe_client(self) -> str:
        """Health probes open a fresh connection from the prober's address."""
        self._next_port += self.rng.choice((1, 2, 3))
        if self._next_port > 60999:
            self._next_port = 32768 + self._next_port % 1000
        ip = {"docker": "127.0.0.1", "k8s": "10.244.0.1"}.get(self.network, "127.0.0.1")
        return f"{ip}:{self._next_port}"

    def client(self) -> str:
        conns = self._conns
        if len(conns) < 48 or self.rng.random() < 0.04:
            c = self._new_conn()
            if len(conns) < 48:
                conns.append(c)
            else:
                conns[self.rng.randrange(len(conns))] = c
            return c
        return conns[self.rng.randrange(len(conns))]

    def request(self) -> tuple[str, str, int]:
        """(method, path, status) of one finished API request: mostly 200, a few errors."""
        r = self.rng.random()
        if r < 0.0065:
            return "POST", "/v1/chat/completions", 400  # e.g. prompt longer than max_model_len
        if r < 0.0080:
            return "POST", "/v1/completions", 400
        if r < 0.0092:
            return "GET", self.rng.choice(("/favicon.ico", "/v1/chat/completion", "/docs/", "/v1/engines")), 404
        if r < 0.0097:
            return "POST", "/v1/chat/completions", 500
        if r < 0.0120:
            return "GET", "/v1/models", 200
        if r < 0.17:
            return "POST", "/v1/completions", 200
        return "POST", "/v1/chat/completions", 200

    @staticmethod
    def line(client: str, method: str, path: str, status: int) -> str:
        return f'{client} - "{method} {path} HTTP/1.1" {status} {_PHRASES[status]}'


# ---------------------------------------------------------------------------------------------
# Eras
# ---------------------------------------------------------------------------------------------

ROUTES_V0 = [("/openapi.json", "HEAD, GET"), ("/docs", "HEAD, GET"), ("/docs/oauth2-redirect", "HEAD, GET"),
             ("/redoc", "HEAD, GET"), ("/health", "GET"), ("/tokenize", "POST"), ("/detokenize", "POST"),
             ("/v1/models", "GET"), ("/version", "GET"), ("/v1/chat/completions", "POST"),
             ("/v1/completions", "POST"), ("/v1/embeddings", "POST")]
ROUTES_V1 = ROUTES_V0[:5] + [("/load", "GET"), ("/ping", "POST"), ("/ping", "GET"), ("/tokenize", "POST"),
                              ("/detokenize", "POST"), ("/v1/models", "GET"), ("/version", "GET"),
                              ("/v1/responses", "POST"), ("/v1/chat/completions", "POST"),
                              ("/v1/completions", "POST"), ("/v1/embeddings", "POST"), ("/pooling", "POST"),
                              ("/classify", "POST"), ("/score", "POST"), ("/v1/score", "POST"),
                              ("/rerank", "POST"), ("/v1/rerank", "POST"), ("/v2/rerank", "POST"),
                              ("/invocations", "POST"), ("/metrics", "GET")]

TQDM_SHARDS = "Loading safetensors checkpoint shards: {pct:3.0f}% Completed | {n}/{total} [{el}<{rem}, {rate}]"


def _mmss(s: float) -> str:
    s = int(s)
    return f"{s // 60:02d}:{s % 60:02d}"


def tqdm_shard_lines(em: Emitter, proc: Proc, t: float, shards: int, secs: float) -> list[Line]:
    """The safetensors loading bar. Its bar_format ends in "\\n" and tqdm writes "\\r" first, so
    every update is its own physical line starting with "\\r" (stderr, no vLLM header)."""
    out = [em.raw(proc, t, "\r" + TQDM_SHARDS.format(pct=0, n=0, total=shards, el="00:00", rem="?", rate="?it/s"))]
    per = secs / shards
    for i in range(1, shards + 1):
        el = per * i
        rate = f"{1 / per:5.2f}it/s" if per < 1 else f"{per:5.2f}s/it"
        out.append(em.raw(proc, t + el, "\r" + TQDM_SHARDS.format(
            pct=100 * i / shards, n=i, total=shards, el=_mmss(el), rem=_mmss(per * (shards - i)), rate=rate)))
    out.append(em.raw(proc, t + secs, "\r" + TQDM_SHARDS.format(
        pct=100, n=shards, total=shards, el=_mmss(secs), rem="00:00", rate=f"{shards / secs:5.2f}it/s")))
    out.append(em.raw(proc, t + secs, ""))
    return out


class Era:
    """Formats of one vLLM release. Subclasses give the startup, stats and crash lines."""

    key = ""
    version = ""
    summary = ""
    engine = "v0"
    style = Style(bracketed=False, in_format=False, cyan=False)
    deployment: Deployment = LLAMA3_8B_A100
    workload = Workload(prompt_avg=1900, gen_avg=900, hit_base=0.0)
    stats_interval = 5.0  # seconds between stats lines while busy
    idle_stats_interval: float | None = 10.0  # V0 <= 0.6.4: the API server forces a line every 10 s
    python = "3.10"
    site = "/usr/local/lib/python3.10/dist-packages"
    torch_oom = "torch.OutOfMemoryError"
    supports_log_requests = False
    # Process layout and the "(name pid=N)" prefix names vLLM gives them (None: no prefix).
    engine_process = False  # the engine runs in its own process (MQLLMEngine 0.6+, V1 EngineCore)
    api_name: str | None = None
    engine_name: str | None = None
    worker_name: str | None = None  # TP worker prefix, formatted with rank=

    def __init__(self) -> None:
        self.em = Emitter(self.style)

    # -- helpers for subclasses -------------------------------------------------------------
    def vpath(self, rel: str) -> str:
        return f"{self.site}/vllm/{rel}"

    def frame_path(self, rel: str) -> str:
        """Absolute path for a traceback frame given relative to vllm/ or site-packages."""
        if rel.startswith("/"):
            return rel
        if rel.startswith("torch/"):
            return f"{self.site}/{rel}"
        return self.vpath(rel)

    def uvicorn_start(self, proc: Proc, t: float, binds: bool) -> list[Line]:
        em = self.em
        out = [em.uvicorn(proc, t, f"Started server process [{proc.pid}]"),
               em.uvicorn(proc, t, "Waiting for application startup."),
               em.uvicorn(proc, t, "Application startup complete.")]
        if binds:  # only when uvicorn binds the socket itself (<= 0.7.2)
            out.append(em.uvicorn(proc, t, "Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"))
        return out

    def uvicorn_stop(self, proc: Proc, t: float) -> list[Line]:
        em = self.em
        return [em.uvicorn(proc, t, "Shutting down"), em.uvicorn(proc, t, "Waiting for application shutdown."),
                em.uvicorn(proc, t, "Application shutdown complete."),
                em.uvicorn(proc, t, f"Finished server process [{proc.pid}]")]

    def routes(self, proc: Proc, t: float, src_head: str, src_route: str, routes) -> list[Line]:
        out = self.em.log(proc, "INFO", t, src_head, "Available routes are:")
        for path, methods in routes:
            out += self.em.log(proc, "INFO", t, src_route, f"Route: {path}, Methods: {methods}")
        return out

    # -- interface used by the scenario driver ------------------------------------------------
    def start(self, srv: "Server") -> Iterator[Line]:
        raise NotImplementedError

    def stats(self, srv: "Server", t: float, k: Tick) -> list[Line]:
        raise NotImplementedError

    def preemption_lines(self, srv: "Server", t0: float, t1: float, k: Tick) -> list[Line]:
        return []

    def crash(self, srv: "Server", t: float) -> list[Line]:
        raise NotImplementedError

    def request_log_lines(self, srv: "Server", t: float, request_id: str) -> list[Line]:
        return []

    def request_id(self, srv: "Server") -> str:
        return f"chat-{srv.rng.getrandbits(128):032x}"


def _ns(pairs: str, **values) -> str:
    """argparse.Namespace repr from 'key=default, ...' in add_argument order, with overrides."""
    out = []
    for item in pairs.split(", "):
        k, v = item.split("=", 1)
        out.append(f"{k}={values.pop(k)!r}" if k in values else item)
    assert not values, f"unknown Namespace keys {values}"
    return "Namespace(" + ", ".join(out) + ")"


# Defaults of `python -m vllm.entrypoints.openai.api_server` in add_argument order, extracted from
# each release's cli_args.py + arg_utils.py (argparse prints them in insertion order on Python >= 3.9).
NS_043 = ("host=None, port=8000, uvicorn_log_level='info', allow_credentials=False, allowed_origins=['*'], "
          "allowed_methods=['*'], allowed_headers=['*'], api_key=None, lora_modules=None, chat_template=None, "
          "response_role='assistant', ssl_keyfile=None, ssl_certfile=None, ssl_ca_certs=None, ssl_cert_reqs=0, "
          "root_path=None, middleware=[], model='facebook/opt-125m', tokenizer=None, skip_tokenizer_init=False, "
          "revision=None, code_revision=None, tokenizer_revision=None, tokenizer_mode='auto', "
          "trust_remote_code=False, download_dir=None, load_format='auto', dtype='auto', kv_cache_dtype='auto', "
          "quantization_param_path=None, max_model_len=None, guided_decoding_backend='outlines', "
          "distributed_executor_backend=None, worker_use_ray=False, pipeline_parallel_size=1, "
          "tensor_parallel_size=1, max_parallel_loading_workers=None, ray_workers_use_nsight=False, "
          "block_size=16, enable_prefix_caching=False, disable_sliding_window=False, use_v2_block_manager=False, "
          "num_lookahead_slots=0, seed=0, swap_space=4, gpu_memory_utilization=0.9, num_gpu_blocks_override=None, "
          "max_num_batched_tokens=None, max_num_seqs=256, max_logprobs=5, disable_log_stats=False, "
          "quantization=None, rope_scaling=None, enforce_eager=False, max_context_len_to_capture=None, "
          "max_seq_len_to_capture=8192, disable_custom_all_reduce=False, tokenizer_pool_size=0, "
          "tokenizer_pool_type='ray', tokenizer_pool_extra_config=None, enable_lora=False, max_loras=1, "
          "max_lora_rank=16, lora_extra_vocab_size=256, lora_dtype='auto', long_lora_scaling_factors=None, "
          "max_cpu_loras=None, fully_sharded_loras=False, device='auto', image_input_type=None, "
          "image_token_id=None, image_input_shape=None, image_feature_size=None, scheduler_delay_factor=0.0, "
          "enable_chunked_prefill=False, speculative_model=None, num_speculative_tokens=None, "
          "speculative_max_model_len=None, speculative_disable_by_batch_size=None, ngram_prompt_lookup_max=None, "
          "ngram_prompt_lookup_min=None, model_loader_extra_config=None, served_model_name=None, "
          "engine_use_ray=False, disable_log_requests=False, max_log_len=None")
NS_042 = (NS_043.replace("distributed_executor_backend=None, ", "")
          .replace("disable_sliding_window=False, ", "").replace("rope_scaling=None, ", "")
          .replace("long_lora_scaling_factors=None, ", "")
          .replace("speculative_disable_by_batch_size=None, ", ""))
NS_063 = ("host=None, port=8000, uvicorn_log_level='info', allow_credentials=False, allowed_origins=['*'], "
          "allowed_methods=['*'], allowed_headers=['*'], api_key=None, lora_modules=None, prompt_adapters=None, "
          "chat_template=None, response_role='assistant', ssl_keyfile=None, ssl_certfile=None, ssl_ca_certs=None, "
          "ssl_cert_reqs=0, root_path=None, middleware=[], return_tokens_as_token_ids=False, "
          "disable_frontend_multiprocessing=False, enable_auto_tool_choice=False, tool_call_parser=None, "
          "tool_parser_plugin='', max_log_len=None, disable_fastapi_docs=False, model='facebook/opt-125m', "
          "tokenizer=None, skip_tokenizer_init=False, revision=None, code_revision=None, tokenizer_revision=None, "
          "tokenizer_mode='auto', trust_remote_code=False, download_dir=None, load_format='auto', "
          "config_format='auto', dtype='auto', kv_cache_dtype='auto', quantization_param_path=None, "
          "max_model_len=None, guided_decoding_backend='outlines', distributed_executor_backend=None, "
          "worker_use_ray=False, pipeline_parallel_size=1, tensor_parallel_size=1, "
          "max_parallel_loading_workers=None, ray_workers_use_nsight=False, block_size=16, "
          "enable_prefix_caching=False, disable_sliding_window=False, use_v2_block_manager=True, "
          "num_lookahead_slots=0, seed=0, swap_space=4, cpu_offload_gb=0, gpu_memory_utilization=0.9, "
          "num_gpu_blocks_override=None, max_num_batched_tokens=None, max_num_seqs=256, max_logprobs=20, "
          "disable_log_stats=False, quantization=None, rope_scaling=None, rope_theta=None, enforce_eager=False, "
          "max_context_len_to_capture=None, max_seq_len_to_capture=8192, disable_custom_all_reduce=False, "
          "tokenizer_pool_size=0, tokenizer_pool_type='ray', tokenizer_pool_extra_config=None, "
          "limit_mm_per_prompt=None, mm_processor_kwargs=None, enable_lora=False, max_loras=1, max_lora_rank=16, "
          "lora_extra_vocab_size=256, lora_dtype='auto', long_lora_scaling_factors=None, max_cpu_loras=None, "
          "fully_sharded_loras=False, enable_prompt_adapter=False, max_prompt_adapters=1, "
          "max_prompt_adapter_token=0, device='auto', num_scheduler_steps=1, multi_step_stream_outputs=True, "
          "scheduler_delay_factor=0.0, enable_chunked_prefill=None, speculative_model=None, "
          "speculative_model_quantization=None, num_speculative_tokens=None, speculative_disable_mqa_scorer=False, "
          "speculative_draft_tensor_parallel_size=None, speculative_max_model_len=None, "
          "speculative_disable_by_batch_size=None, ngram_prompt_lookup_max=None, ngram_prompt_lookup_min=None, "
          "spec_decoding_acceptance_method='rejection_sampler', typical_acceptance_sampler_posterior_threshold=None, "
          "typical_acceptance_sampler_posterior_alpha=None, disable_logprobs_during_spec_decoding=None, "
          "model_loader_extra_config=None, ignore_patterns=[], preemption_mode=None, served_model_name=None, "
          "qlora_adapter_name_or_path=None, otlp_traces_endpoint=None, collect_detailed_traces=None, "
          "disable_async_output_proc=False, override_neuron_config=None, scheduling_policy='fcfs', "
          "disable_log_requests=False")
NS_085 = ("host=None, port=8000, uvicorn_log_level='info', disable_uvicorn_access_log=False, allow_credentials=False, "
          "allowed_origins=['*'], allowed_methods=['*'], allowed_headers=['*'], api_key=None, lora_modules=None, "
          "prompt_adapters=None, chat_template=None, chat_template_content_format='auto', response_role='assistant', "
          "ssl_keyfile=None, ssl_certfile=None, ssl_ca_certs=None, enable_ssl_refresh=False, ssl_cert_reqs=0, "
          "root_path=None, middleware=[], return_tokens_as_token_ids=False, disable_frontend_multiprocessing=False, "
          "enable_request_id_headers=False, enable_auto_tool_choice=False, tool_call_parser=None, "
          "tool_parser_plugin='', max_log_len=None, disable_fastapi_docs=False, enable_prompt_tokens_details=False, "
          "enable_server_load_tracking=False, model='facebook/opt-125m', task='auto', tokenizer=None, "
          "hf_config_path=None, skip_tokenizer_init=False, revision=None, code_revision=None, "
          "tokenizer_revision=None, tokenizer_mode='auto', trust_remote_code=False, allowed_local_media_path='', "
          "load_format='auto', download_dir=None, model_loader_extra_config={}, use_tqdm_on_load=True, "
          "config_format=<ConfigFormat.AUTO: 'auto'>, dtype='auto', max_model_len=None, "
          "guided_decoding_backend='{gdb}', reasoning_parser=None, logits_processor_pattern=None, "
          "model_impl='auto', distributed_executor_backend=None, pipeline_parallel_size=1, tensor_parallel_size=1, "
          "data_parallel_size=1, enable_expert_parallel=False, max_parallel_loading_workers=None, "
          "ray_workers_use_nsight=False, disable_custom_all_reduce=False, block_size=None, "
          "gpu_memory_utilization=0.9, swap_space=4, kv_cache_dtype='auto', num_gpu_blocks_override=None, "
          "enable_prefix_caching=None, prefix_caching_hash_algo='builtin', cpu_offload_gb=0, "
          "calculate_kv_scales=False, disable_sliding_window=False, use_v2_block_manager=True, seed=None, "
          "max_logprobs=20, disable_log_stats=False, quantization=None, rope_scaling=None, rope_theta=None, "
          "hf_token=None, hf_overrides=None, enforce_eager=False, max_seq_len_to_capture=8192, "
          "tokenizer_pool_size=0, tokenizer_pool_type='ray', tokenizer_pool_extra_config={}, "
          "limit_mm_per_prompt={}, mm_processor_kwargs=None, disable_mm_preprocessor_cache=False, "
          "enable_lora=False, enable_lora_bias=False, max_loras=1, max_lora_rank=16, lora_extra_vocab_size=256, "
          "lora_dtype='auto', long_lora_scaling_factors=None, max_cpu_loras=None, fully_sharded_loras=False, "
          "enable_prompt_adapter=False, max_prompt_adapters=1, max_prompt_adapter_token=0, device='auto', "
          "speculative_config=None, ignore_patterns=[], served_model_name=None, qlora_adapter_name_or_path=None, "
          "show_hidden_metrics_for_version=None, otlp_traces_endpoint=None, collect_detailed_traces=None, "
          "disable_async_output_proc=False, max_num_batched_tokens=None, max_num_seqs=None, "
          "max_num_partial_prefills=1, max_long_partial_prefills=1, long_prefill_token_threshold=0, "
          "num_lookahead_slots=0, scheduler_delay_factor=0.0, preemption_mode=None, num_scheduler_steps=1, "
          "multi_step_stream_outputs=True, scheduling_policy='fcfs', enable_chunked_prefill=None, "
          "disable_chunked_mm_input=False, scheduler_cls='vllm.core.scheduler.Scheduler', "
          "override_neuron_config=None, override_pooler_config=None, compilation_config=None, "
          "kv_transfer_config=None, worker_cls='auto', worker_extension_cls='', generation_config='auto', "
          "override_generation_config=None, enable_sleep_mode=False, additional_config=None, "
          "enable_reasoning=False, disable_cascade_attn=False, disable_log_requests=False")


class V0Era(Era):
    """Shared by the V0 engine releases: stats from the engine process, preemption WARNINGs."""

    stats_period = True  # trailing "." on the stats line (0.4.3+)
    prefix_line = False  # "Prefix cache hit rate: GPU: …" line after the stats line (0.5.5+)
    preempt_warning = True  # scheduler WARNING on the 1st, 51st, 101st … preemption (0.4.3+)
    src_metrics = ""
    src_prefix = ""
    src_preempt = ""

    def stats(self, srv, t, k):
        msg = ("Avg prompt throughput: %.1f tokens/s, Avg generation throughput: %.1f tokens/s, "
               "Running: %d reqs, Swapped: %d reqs, Pending: %d reqs, GPU KV cache usage: %.1f%%, "
               "CPU KV cache usage: %.1f%%" % (k.prompt_tps, k.gen_tps, k.running, 0, k.waiting,
                                               k.kv_usage * 100, 0.0))
        if self.stats_period:
            msg += "."
        out = self.em.log(srv.engine_proc, "INFO", t, self.src_metrics, msg)
        if self.prefix_line:
            out += self.em.log(srv.engine_proc, "INFO", t, self.src_prefix,
                               "Prefix cache hit rate: GPU: %.2f%%, CPU: %.2f%%" % (k.hit_rate * 100, 0.0))
        return out

    def preemption_lines(self, srv, t0, t1, k):
        if not self.preempt_warning or not k.preemptions:
            return []
        out = []
        before = srv.cum_preemptions
        srv.cum_preemptions += k.preemptions
        # vLLM warns when the running count (before increment) is a multiple of 50.
        n = (before + 49) // 50 * 50
        while n < srv.cum_preemptions:
            t = t0 + (t1 - t0) * (n - before + 0.5) / k.preemptions
            out += self.em.log(srv.engine_proc, "WARNING", t, self.src_preempt,
                               "Sequence group %s is preempted by PreemptionMode.RECOMPUTE mode because "
                               "there is not enough KV cache space. This can affect the end-to-end "
                               "performance. Increase gpu_memory_utilization or tensor_parallel_size to "
                               "provide more KV cache memory. total_num_cumulative_preemption=%d"
                               % (self.request_id(srv), n + 1))
            n += 50
        return out


class Era042(V0Era):
    summary = "file:line] prefix, stats line without trailing period, 8B on A100"
    key, version = "v0.4.2", "0.4.2"
    stats_period = False
    preempt_warning = False  # the WARNING with total_num_cumulative_preemption arrived in 0.4.3
    src_metrics = "metrics.py:334"
    selector_line = True  # 0.4.2 announces FlashAttention-2; 0.4.3 selects it silently
    ns = NS_042
    src = dict(version="api_server.py:160", args="api_server.py:161", config="llm_engine.py:100",
               selector="selector.py:27", weights_fmt="weight_utils.py:199", weights="model_runner.py:175",
               blocks="gpu_executor.py:114", capture1="model_runner.py:937", capture2="model_runner.py:941",
               captured="model_runner.py:1017", bg_failed="async_llm_engine.py:43")
    config_keys = ("model={model!r}, speculative_config=None, tokenizer={model!r}, skip_tokenizer_init=False, "
                   "tokenizer_mode=auto, revision=None, tokenizer_revision=None, trust_remote_code=False, "
                   "dtype=torch.{dtype}, max_seq_len={mml}, download_dir=None, load_format=LoadFormat.AUTO, "
                   "tensor_parallel_size={tp}, disable_custom_all_reduce=False, quantization=None, "
                   "enforce_eager=False, kv_cache_dtype=auto, quantization_param_path=None, device_config=cuda, "
                   "decoding_config=DecodingConfig(guided_decoding_backend='outlines'), seed=0, "
                   "served_model_name={served})")
    oom_frames = [  # 0.4.3 source; 0.4.2 differs by a few lines
        ("engine/async_llm_engine.py", 40, "_raise_exception_on_finish", "task.result()"),
        ("engine/async_llm_engine.py", 521, "run_engine_loop", "has_requests_in_progress = await asyncio.wait_for("),
        ("/usr/lib/python3.10/asyncio/tasks.py", 445, "wait_for", "return fut.result()"),
        ("engine/async_llm_engine.py", 495, "engine_step", "request_outputs = await self.engine.step_async()"),
        ("engine/async_llm_engine.py", 226, "step_async", "output = await self.model_executor.execute_model_async("),
        ("executor/gpu_executor.py", 117, "execute_model_async", "output = await make_async(self.driver_worker.execute_model"),
        ("/usr/lib/python3.10/concurrent/futures/thread.py", 58, "run", "result = self.fn(*self.args, **self.kwargs)"),
        ("torch/utils/_contextlib.py", 115, "decorate_context", "return func(*args, **kwargs)"),
        ("worker/worker.py", 272, "execute_model", "output = self.model_runner.execute_model(seq_group_metadata_list,"),
        ("torch/utils/_contextlib.py", 115, "decorate_context", "return func(*args, **kwargs)"),
        ("worker/model_runner.py", 738, "execute_model", "output = self.model.sample("),
        ("model_executor/models/llama.py", 378, "sample", "next_tokens = self.sampler(logits, sampling_metadata)"),
        ("torch/nn/modules/module.py", 1532, "_wrapped_call_impl", "return self._call_impl(*args, **kwargs)"),
        ("torch/nn/modules/module.py", 1541, "_call_impl", "return forward_call(*args, **kwargs)"),
        ("model_executor/layers/sampler.py", 91, "forward", "probs = torch.softmax(logits, dim=-1, dtype=torch.float)"),
    ]
    torch_oom = "torch.cuda.OutOfMemoryError"  # torch 2.3 (pinned by 0.4.x) has no torch.OutOfMemoryError

    def request_id(self, srv):
        return f"cmpl-{srv.rng.getrandbits(128):032x}"  # 0.4.x chat requests are "cmpl-" too

    def start(self, srv):
        em, d, api = self.em, srv.dep, srv.api_proc
        t = srv.t
        s = self.src
        yield from em.log(api, "INFO", t, s["version"], f"vLLM API server version {self.version}")
        yield from em.log(api, "INFO", t, s["args"], "args: " + _ns(
            self.ns, model=d.model, max_model_len=d.max_model_len, served_model_name=[d.served_name],
            disable_log_requests=not srv.log_requests))
        t += srv.rng.uniform(1.5, 3.0)
        yield from em.log(api, "INFO", t, s["config"], f"Initializing an LLM engine (v{self.version}) with config: "
                          + self.config_keys.format(model=d.model, dtype=d.dtype, mml=d.max_model_len, tp=d.tp,
                                                    served=d.served_name))
        t += srv.rng.uniform(0.8, 1.6)
        if self.selector_line:
            yield from em.log(api, "INFO", t, s["selector"], "Using FlashAttention-2 backend.")
        t += srv.rng.uniform(0.5, 1.5)
        yield from em.log(api, "INFO", t, s["weights_fmt"], "Using model weights format ['*.safetensors']")
        t += srv.rng.uniform(6, 14)
        yield from em.log(api, "INFO", t, s["weights"], "Loading model weights took %.4f GB" % d.weights_gib)
        t += srv.rng.uniform(2, 4)
        yield from em.log(api, "INFO", t, s["blocks"], "# GPU blocks: %d, # CPU blocks: %d" % (d.gpu_blocks, d.cpu_blocks))
        t += srv.rng.uniform(1.5, 3)
        yield from em.log(api, "INFO", t, s["capture1"], "Capturing the model for CUDA graphs. This may lead to "
                          "unexpected consequences if the model is not static. To run the model in eager mode, set "
                          "'enforce_eager=True' or use '--enforce-eager' in the CLI.")
        yield from em.log(api, "INFO", t, s["capture2"], "CUDA graphs can take additional 1~3 GiB memory per GPU. "
                          "If you are running out of memory, consider decreasing `gpu_memory_utilization` or "
                          "enforcing eager mode. You can also reduce the `max_num_seqs` as needed to decrease "
                          "memory usage.")
        t += d.graph_secs + srv.rng.uniform(0, 0.9)
        yield from em.log(api, "INFO", t, s["captured"], "Graph capturing finished in %.0f secs." % d.graph_secs)
        t += srv.rng.uniform(0.3, 1.0)
        yield from self.uvicorn_start(api, t, binds=True)
        srv.t = t

    def crash(self, srv, t):
        """AsyncLLMEngine runs in the API process: the background loop dies with the OOM, then
        every request and the liveness probe get 500 until the orchestrator restarts the pod."""
        em = self.em
        tb = traceback_text([(self.frame_path(p), n, f, c) for p, n, f, c in self.oom_frames],
                            cuda_oom(srv.dep.total_gib, srv.rng, self.torch_oom), carets=False)
        out = em.log(srv.api_proc, "ERROR", t, self.src["bg_failed"], "Engine background task failed\n" + tb)
        for i in range(srv.rng.randint(4, 9)):
            t += srv.rng.uniform(0.2, 3.0)
            out.append(em.uvicorn(srv.api_proc, t, Traffic.line(srv.traffic.client(), "POST",
                                                                 "/v1/chat/completions", 500), "stdout"))
        for i in range(3):  # failed liveness probes, then the pod is killed
            t += 10
            out.append(em.uvicorn(srv.api_proc, t, Traffic.line(srv.traffic.probe_client(), "GET", "/health", 500), "stdout"))
        srv.t = t
        return out


class Era043(Era042):
    summary = "stats line with trailing period, preemption WARNINGs"
    key, version = "v0.4", "0.4.3"
    stats_period = True
    preempt_warning = True
    src_metrics = "metrics.py:341"
    src_preempt = "scheduler.py:1077"
    selector_line = False
    ns = NS_043
    src = dict(Era042.src, version="api_server.py:177", args="api_server.py:178", config="llm_engine.py:161",
               weights_fmt="weight_utils.py:207", weights="model_runner.py:146", blocks="gpu_executor.py:83",
               capture1="model_runner.py:854", capture2="model_runner.py:858", captured="model_runner.py:924",
               bg_failed="async_llm_engine.py:45")
    # 0.4.3 adds rope_scaling after revision (llm_engine.py:161)
    config_keys = Era042.config_keys.replace("revision=None, tokenizer_revision", "revision=None, rope_scaling=None, tokenizer_revision")


class Era063(V0Era):
    summary = "MQLLMEngine process, Maximum concurrency, prefix-cache line, 8B on H100"
    key, version = "v0.6", "0.6.3"
    deployment = LLAMA31_8B_H100
    workload = Workload(prompt_avg=2600, gen_avg=700, hit_base=0.42)
    python = "3.12"
    site = "/usr/local/lib/python3.12/dist-packages"
    prefix_line = True
    engine_process = True  # MQLLMEngine: its own process, still unprefixed
    supports_log_requests = True
    src_metrics, src_prefix, src_preempt = "metrics.py:345", "metrics.py:361", "scheduler.py:1484"
    src = dict(version="api_server.py:528", args="api_server.py:529", mq="api_server.py:166",
               engine_pid="api_server.py:179", config="llm_engine.py:237", start_load="model_runner.py:1060",
               weights_fmt="weight_utils.py:243", weights="model_runner.py:1071", blocks="gpu_executor.py:122",
               concurrency="gpu_executor.py:126", capture1="model_runner.py:1402", capture2="model_runner.py:1406",
               captured="model_runner.py:1530", routes="launcher.py:19", route="launcher.py:27",
               chat_tpl="chat_utils.py:352", embed="serving_embedding.py:199", received="logger.py:37",
               added="engine.py:292", engine_exc="engine.py:160", dead="launcher.py:99", failed="launcher.py:72")
    oom_frames = [
        ("engine/multiprocessing/engine.py", 158, "start", "self.run_engine_loop()"),
        ("engine/multiprocessing/engine.py", 221, "run_engine_loop", "request_outputs = self.engine_step()"),
        ("engine/multiprocessing/engine.py", 239, "engine_step", "raise e"),
        ("engine/multiprocessing/engine.py", 230, "engine_step", "return self.engine.step()"),
        ("engine/llm_engine.py", 1386, "step", "outputs = self.model_executor.execute_model("),
        ("executor/gpu_executor.py", 134, "execute_model", "output = self.driver_worker.execute_model(execute_model_req)"),
        ("worker/worker_base.py", 327, "execute_model", "output = self.model_runner.execute_model("),
        ("torch/utils/_contextlib.py", 116, "decorate_context", "return func(*args, **kwargs)"),
        ("worker/model_runner.py", 1708, "execute_model", "output: SamplerOutput = self.model.sample("),
        ("model_executor/models/llama.py", 571, "sample", "next_tokens = self.sampler(logits, sampling_metadata)"),
        ("torch/nn/modules/module.py", 1553, "_wrapped_call_impl", "return self._call_impl(*args, **kwargs)"),
        ("torch/nn/modules/module.py", 1562, "_call_impl", "return forward_call(*args, **kwargs)"),
        ("model_executor/layers/sampler.py", 269, "forward", "probs = torch.softmax(logits, dim=-1, dtype=torch.float)"),
    ]
    config_keys = ("model={model!r}, speculative_config=None, tokenizer={model!r}, skip_tokenizer_init=False, "
                   "tokenizer_mode=auto, revision=None, override_neuron_config=None, rope_scaling=None, "
                   "rope_theta=None, tokenizer_revision=None, trust_remote_code=False, dtype=torch.{dtype}, "
                   "max_seq_len={mml}, download_dir=None, load_format=LoadFormat.AUTO, tensor_parallel_size={tp}, "
                   "pipeline_parallel_size=1, disable_custom_all_reduce=False, quantization=None, "
                   "enforce_eager=False, kv_cache_dtype=auto, quantization_param_path=None, device_config=cuda, "
                   "decoding_config=DecodingConfig(guided_decoding_backend='outlines'), "
                   "observability_config=ObservabilityConfig(otlp_traces_endpoint=None, "
                   "collect_model_forward_time=False, collect_model_execute_time=False), seed=0, "
                   # 0.6.3 bug: no comma after chunked_prefill_enabled (llm_engine.py:251)
                   "served_model_name={served}, use_v2_block_manager=True, num_scheduler_steps=1, "
                   "chunked_prefill_enabled=False multi_step_stream_outputs=True, enable_prefix_caching={pc}, "
                   "use_async_output_proc=True, use_cached_outputs=True, mm_processor_kwargs=None)")

    def start(self, srv):
        em, d, api, eng = self.em, srv.dep, srv.api_proc, srv.engine_proc
        s, rng = self.src, srv.rng
        t = srv.t
        yield from em.log(api, "INFO", t, s["version"], f"vLLM API server version {self.version}")
        yield from em.log(api, "INFO", t, s["args"], "args: " + _ns(
            NS_063, model=d.model, max_model_len=d.max_model_len, served_model_name=[d.served_name],
            enable_prefix_caching=d.prefix_caching, disable_log_requests=not srv.log_requests))
        yield from em.log(api, "INFO", t, s["mq"], "Multiprocessing frontend to use "
                          f"ipc:///tmp/{srv.uuid()} for IPC Path.")
        yield from em.log(api, "INFO", t, s["engine_pid"], f"Started engine process with PID {eng.pid}")
        t += rng.uniform(3, 6)
        yield from em.log(eng, "INFO", t, s["config"], f"Initializing an LLM engine (v{self.version}) with config: "
                          + self.config_keys.format(model=d.model, dtype=d.dtype, mml=d.max_model_len, tp=d.tp,
                                                    served=d.served_name, pc=d.prefix_caching))
        t += rng.uniform(1, 2)
        yield from em.log(eng, "INFO", t, s["start_load"], f"Starting to load model {d.model}...")
        t += rng.uniform(0.3, 0.8)
        yield from em.log(eng, "INFO", t, s["weights_fmt"], "Using model weights format ['*.safetensors']")
        secs = rng.uniform(3.5, 6.0)
        yield from tqdm_shard_lines(em, eng, t, d.shards, secs)
        t += secs + 0.2
        yield from em.log(eng, "INFO", t, s["weights"], "Loading model weights took %.4f GB" % d.weights_gib)
        t += rng.uniform(1.5, 3)
        yield from em.log(eng, "INFO", t, s["blocks"], "# GPU blocks: %d, # CPU blocks: %d" % (d.gpu_blocks, d.cpu_blocks))
        yield from em.log(eng, "INFO", t, s["concurrency"], "Maximum concurrency for %s tokens per request: %.2fx"
                          % (d.max_model_len, d.max_concurrency))
        t += rng.uniform(1.5, 3)
        yield from em.log(eng, "INFO", t, s["capture1"], "Capturing the model for CUDA graphs. This may lead to "
                          "unexpected consequences if the model is not static. To run the model in eager mode, set "
                          "'enforce_eager=True' or use '--enforce-eager' in the CLI.")
        yield from em.log(eng, "INFO", t, s["capture2"], "CUDA graphs can take additional 1~3 GiB memory per GPU. "
                          "If you are running out of memory, consider decreasing `gpu_memory_utilization` or "
                          "enforcing eager mode. You can also reduce the `max_num_seqs` as needed to decrease "
                          "memory usage.")
        t += d.graph_secs + rng.uniform(0, 0.9)
        yield from em.log(eng, "INFO", t, s["captured"], "Graph capturing finished in %.0f secs." % d.graph_secs)
        t += rng.uniform(0.5, 1.5)
        yield from em.log(api, "WARNING", t, s["embed"], "embedding_mode is False. Embedding API will not work.")
        yield from self.routes(api, t, s["routes"], s["route"], ROUTES_V0)
        yield from self.uvicorn_start(api, t, binds=True)
        srv.t = t

    def request_log_lines(self, srv, t, request_id):
        """--disable-log-requests not given: the API process logs the whole prompt and its token
        ids, the engine process logs "Added request". These are the long lines of V0 logs."""
        prompt, ids = srv.prompt()
        params = ("SamplingParams(n=1, presence_penalty=0.0, frequency_penalty=0.0, repetition_penalty=1.0, "
                  "temperature=0.7, top_p=1.0, top_k=-1, min_p=0.0, seed=None, stop=[], stop_token_ids=[], "
                  "include_stop_str_in_output=False, ignore_eos=False, max_tokens=%d, min_tokens=0, logprobs=None, "
                  "prompt_logprobs=None, skip_special_tokens=True, spaces_between_special_tokens=True, "
                  "truncate_prompt_tokens=None), guided_decoding=None" % srv.rng.choice((512, 1024, 2048)))
        out = self.em.log(srv.api_proc, "INFO", t, self.src["received"],
                          "Received request %s: prompt: %r, params: %s, prompt_token_ids: %s, lora_request: None, "
                          "prompt_adapter_request: None." % (request_id, prompt, params, ids))
        out += self.em.log(srv.engine_proc, "INFO", t, self.src["added"], f"Added request {request_id}.")
        return out

    def crash(self, srv, t):
        """MQLLMEngine (its own process, unprefixed) logs the OOM; the API process answers 500,
        logs CRITICAL and uvicorn shuts down."""
        em, rng = self.em, srv.rng
        oom = cuda_oom(srv.dep.total_gib, rng, self.torch_oom)
        tb = traceback_text([(self.frame_path(p), n, f, c) for p, n, f, c in self.oom_frames], oom, carets=True)
        short = oom.split(": ", 1)[1]
        out = em.log(srv.engine_proc, "ERROR", t, self.src["engine_exc"], f"OutOfMemoryError({short!r})\n" + tb)
        t += rng.uniform(0.01, 0.2)
        out += em.log(srv.api_proc, "CRITICAL", t, self.src["failed"], "AsyncLLMEngine has failed, terminating server process")
        out.append(em.uvicorn(srv.api_proc, t, Traffic.line(srv.traffic.client(), "POST", "/v1/chat/completions", 500), "stdout"))
        out += em.log(srv.api_proc, "CRITICAL", t, self.src["dead"], "MQLLMEngine is already dead, terminating server process")
        out.append(em.uvicorn(srv.api_proc, t, Traffic.line(srv.traffic.client(), "POST", "/v1/chat/completions", 500), "stdout"))
        t += rng.uniform(0.1, 0.5)
        out += self.uvicorn_stop(srv.api_proc, t)
        srv.t = t
        return out


def config_085(d: Deployment, v1: bool) -> str:
    """VllmConfig.__str__ of 0.8.5 (config.py:4052); V0 appends ", use_cached_outputs=%s, ".
    Note the two spaces before device_config (0.7.0-0.10.0)."""
    sizes = list(range(512 if v1 else 256, 8, -8)) + [8, 4, 2, 1]
    if v1:
        comp = ('{"level":3,"custom_ops":["none"],"splitting_ops":["vllm.unified_attention",'
                '"vllm.unified_attention_with_output"],"use_inductor":true,"compile_sizes":[],"use_cudagraph":true,'
                '"cudagraph_num_of_warmups":1,"cudagraph_capture_sizes":[%s],"max_capture_size":512}')
    else:
        comp = '{"splitting_ops":[],"compile_sizes":[],"cudagraph_capture_sizes":[%s],"max_capture_size":256}'
    return (f"model={d.model!r}, speculative_config=None, tokenizer={d.model!r}, skip_tokenizer_init=False, "
            "tokenizer_mode=auto, revision=None, override_neuron_config=None, tokenizer_revision=None, "
            f"trust_remote_code=False, dtype=torch.{d.dtype}, max_seq_len={d.max_model_len}, download_dir=None, "
            f"load_format=LoadFormat.AUTO, tensor_parallel_size={d.tp}, pipeline_parallel_size=1, "
            "disable_custom_all_reduce=False, quantization=None, enforce_eager=False, kv_cache_dtype=auto,  "
            "device_config=cuda, decoding_config=DecodingConfig(guided_decoding_backend="
            f"'{'auto' if v1 else 'xgrammar'}', reasoning_backend=None), "
            "observability_config=ObservabilityConfig(show_hidden_metrics=False, otlp_traces_endpoint=None, "
            "collect_model_forward_time=False, collect_model_execute_time=False), seed=None, "
            f"served_model_name={d.served_name}, num_scheduler_steps=1, multi_step_stream_outputs=True, "
            f"enable_prefix_caching={v1 or None}, chunked_prefill_enabled={v1}, use_async_output_proc=True, "
            "disable_mm_preprocessor_cache=False, mm_processor_kwargs=None, pooler_config=None, "
            "compilation_config=" + comp % ",".join(map(str, sizes)))


class Era085V0(Era063):
    """0.8.5 with VLLM_USE_V1=0: V0 engine, bracketed prefix, 3-line memory profile."""

    summary = "VLLM_USE_V1=0: [file:line], 3-line memory profile, # cuda blocks, 14B on L40S"

    key, version = "v0.8", "0.8.5"
    style = Style(bracketed=True, in_format=False, cyan=True)
    deployment = QWEN25_14B_L40S
    workload = Workload(prompt_avg=1400, gen_avg=520, hit_base=0.0)
    idle_stats_interval = None  # 0.6.5+: the line drops to DEBUG when idle
    prefix_line = False  # prefix caching is off by default in V0
    supports_log_requests = False
    src_metrics, src_preempt = "metrics.py:486", "scheduler.py:1768"
    src = dict(version="api_server.py:1043", args="api_server.py:1044", platform="__init__.py:239",
               tasks="config.py:717", v0warn="arg_utils.py:1654", engine_pid="api_server.py:246",
               config="llm_engine.py:240", backend="cuda.py:292", start_load="model_runner.py:1108",
               weights_fmt="weight_utils.py:265", loaded="loader.py:458", weights="model_runner.py:1140",
               profile="worker.py:287", blocks="executor_base.py:112", concurrency="executor_base.py:117",
               capture="model_runner.py:1450", captured="model_runner.py:1592", init="llm_engine.py:437",
               serving="api_server.py:1090", routes="launcher.py:28", route="launcher.py:36",
               engine_exc="engine.py:160")
    oom_frames = [
        ("engine/multiprocessing/engine.py", 158, "start", "self.run_engine_loop()"),
        ("engine/multiprocessing/engine.py", 221, "run_engine_loop", "request_outputs = self.engine_step()"),
        ("engine/multiprocessing/engine.py", 247, "engine_step", "raise e"),
        ("engine/multiprocessing/engine.py", 230, "engine_step", "return self.engine.step()"),
        ("engine/llm_engine.py", 1412, "step", "outputs = self.model_executor.execute_model("),
        ("executor/executor_base.py", 140, "execute_model", 'output = self.collective_rpc("execute_model",'),
        ("executor/uniproc_executor.py", 56, "collective_rpc", "answer = run_method(self.driver_worker, method, args, kwargs)"),
        ("utils.py", 2456, "run_method", "return func(*args, **kwargs)"),
        ("worker/worker_base.py", 420, "execute_model", "output = self.model_runner.execute_model("),
        ("torch/utils/_contextlib.py", 116, "decorate_context", "return func(*args, **kwargs)"),
        ("model_executor/layers/sampler.py", 282, "forward", "probs = torch.softmax(logits, dim=-1, dtype=torch.float)"),
    ]
    def start(self, srv):
        em, d, api, eng = self.em, srv.dep, srv.api_proc, srv.engine_proc
        s, rng = self.src, srv.rng
        t = srv.t
        yield from em.log(api, "INFO", t, s["platform"], "Automatically detected platform cuda.")
        t += rng.uniform(2, 4)
        yield from em.log(api, "INFO", t, s["version"], f"vLLM API server version {self.version}")
        yield from em.log(api, "INFO", t, s["args"], "args: " + _ns(
            NS_085.replace("{gdb}", "xgrammar"), model=d.model, max_model_len=d.max_model_len,
            served_model_name=[d.served_name], gpu_memory_utilization=d.util, disable_log_requests=True))
        t += rng.uniform(4, 8)
        yield from em.log(api, "INFO", t, s["tasks"], "This model supports multiple tasks: {'generate', 'reward', "
                          "'classify', 'embed', 'score'}. Defaulting to 'generate'.")
        yield from em.log(api, "INFO", t, s["engine_pid"], f"Started engine process with PID {eng.pid}")
        t += rng.uniform(3, 6)
        yield from em.log(eng, "INFO", t, s["platform"], "Automatically detected platform cuda.")
        t += rng.uniform(2, 3)
        yield from em.log(eng, "INFO", t, s["config"], f"Initializing a V0 LLM engine (v{self.version}) with config: "
                          + config_085(d, v1=False) + ", use_cached_outputs=True, ")
        t += rng.uniform(1, 2)
        yield from em.log(eng, "INFO", t, s["backend"], "Using Flash Attention backend.")
        yield from em.log(eng, "INFO", t, s["start_load"], f"Starting to load model {d.model}...")
        yield from em.log(eng, "INFO", t, s["weights_fmt"], "Using model weights format ['*.safetensors']")
        yield from tqdm_shard_lines(em, eng, t, d.shards, d.load_secs - 0.4)
        t += d.load_secs
        yield from em.log(eng, "INFO", t, s["loaded"], "Loading weights took %.2f seconds" % (d.load_secs - 0.31))
        yield from em.log(eng, "INFO", t, s["weights"], "Model loading took %.4f GiB and %.6f seconds"
                          % (d.weights_gib, d.load_secs + rng.uniform(0.2, 0.6)))
        prof = rng.uniform(2.2, 4.5)
        t += prof
        yield from em.log(eng, "INFO", t, s["profile"],
                          f"Memory profiling takes {prof:.2f} seconds\n"
                          f"the current vLLM instance can use total_gpu_memory ({d.total_gib:.2f}GiB) x "
                          f"gpu_memory_utilization ({d.util:.2f}) = {d.requested_gib:.2f}GiB\n"
                          f"model weights take {d.weights_gib:.2f}GiB; non_torch_memory takes {d.non_torch_gib:.2f}GiB; "
                          f"PyTorch activation peak memory takes {d.activation_gib:.2f}GiB; the rest of the memory "
                          f"reserved for KV Cache is {d.kv_gib:.2f}GiB.")
        yield from em.log(eng, "INFO", t, s["blocks"], "# cuda blocks: %d, # CPU blocks: %d" % (d.gpu_blocks, d.cpu_blocks))
        yield from em.log(eng, "INFO", t, s["concurrency"], "Maximum concurrency for %s tokens per request: %.2fx"
                          % (d.max_model_len, d.max_concurrency))
        t += rng.uniform(2, 3.5)
        yield from em.log(eng, "INFO", t, s["capture"], "Capturing cudagraphs for decoding. This may lead to "
                          "unexpected consequences if the model is not static. To run the model in eager mode, set "
                          "'enforce_eager=True' or use '--enforce-eager' in the CLI. If out-of-memory error occurs "
                          "during cudagraph capture, consider decreasing `gpu_memory_utilization` or switching to "
                          "eager mode. You can also reduce the `max_num_seqs` as needed to decrease memory usage.")
        yield from self.capture_bar(eng, t, 35, d.graph_secs)
        t += d.graph_secs + 0.3
        yield from em.log(eng, "INFO", t, s["captured"], "Graph capturing finished in %.0f secs, took %.2f GiB"
                          % (d.graph_secs, d.graph_gib))
        yield from em.log(eng, "INFO", t, s["init"], "init engine (profile, create kv cache, warmup model) took "
                          "%.2f seconds" % (prof + d.graph_secs + rng.uniform(1.5, 3.0)))
        t += rng.uniform(0.5, 1.5)
        yield from em.log(api, "INFO", t, s["serving"], "Starting vLLM API server on http://0.0.0.0:8000")
        yield from self.routes(api, t, s["routes"], s["route"], ROUTES_V1)
        yield from self.uvicorn_start(api, t, binds=False)
        srv.t = t

    def capture_bar(self, proc: Proc, t: float, n: int, secs: float) -> list[Line]:
        """tqdm redraws in place with "\\r": the whole bar is one physical line on stderr."""
        parts = []
        for i in (0, n // 4, n // 2, 3 * n // 4, n):
            pct = int(100 * i / n)
            bar = "█" * (pct // 10) + " " * (10 - pct // 10)
            el = secs * i / n
            rate = "?it/s" if i == 0 else f"{i / max(el, 0.01):5.2f}it/s"
            rem = "?" if i == 0 else _mmss(secs - el)
            parts.append(f"\rCapturing CUDA graph shapes: {pct:3d}%|{bar}| {i}/{n} [{_mmss(el)}<{rem}, {rate}]")
        return [self.em.raw(proc, t + secs, "".join(parts)), self.em.raw(proc, t + secs, "")]

    def crash(self, srv, t):
        """0.8.5 dropped the CRITICAL "has failed" lines: the watchdog just stops uvicorn."""
        em, rng = self.em, srv.rng
        oom = cuda_oom(srv.dep.total_gib, rng, self.torch_oom)
        tb = traceback_text([(self.frame_path(p), n, f, c) for p, n, f, c in self.oom_frames], oom, carets=True)
        out = em.log(srv.engine_proc, "ERROR", t, self.src["engine_exc"], f"OutOfMemoryError({oom.split(': ', 1)[1]!r})\n" + tb)
        for _ in range(rng.randint(3, 7)):
            t += rng.uniform(0.01, 0.8)
            out.append(em.uvicorn(srv.api_proc, t, Traffic.line(srv.traffic.client(), "POST", "/v1/chat/completions", 500), "stdout"))
        t += rng.uniform(1, 5)
        out += self.uvicorn_stop(srv.api_proc, t)
        srv.t = t
        return out


class V1Era(Era):
    """V1 engine: the API server prints the stats line every 10 s, per engine."""

    engine = "v1"
    stats_interval = 10.0
    idle_stats_interval = None
    python = "3.12"
    site = "/usr/local/lib/python3.12/dist-packages"
    src_stats = ""
    preemption_part = False  # "Preemptions: N" when N > 0 in the interval (0.11.1+)
    deferred_part = False  # "Deferred: N reqs" (0.20.0+)
    kv_device_part = False  # "%s KV cache usage" (0.30.0+) – renders "GPU" on CUDA either way

    def stats(self, srv, t, k):
        parts = ["Avg prompt throughput: %.1f tokens/s" % k.prompt_tps,
                 "Avg generation throughput: %.1f tokens/s" % k.gen_tps,
                 "Running: %d reqs" % k.running,
                 "Waiting: %d reqs" % (k.waiting + (k.deferred if self.deferred_part else 0))]
        if self.deferred_part and k.deferred:
            parts.append("Deferred: %d reqs" % k.deferred)
        if self.preemption_part and k.preemptions:
            parts.append("Preemptions: %d" % k.preemptions)
        parts.append("GPU KV cache usage: %.1f%%" % (k.kv_usage * 100))
        parts.append("Prefix cache hit rate: %.1f%%" % (k.hit_rate * 100))
        return self.em.log(srv.api_proc, "INFO", t, self.src_stats, "Engine 000: " + ", ".join(parts))

    def engine_dead_tb(self, src_handler: int, src_raise: int) -> str:
        return traceback_text([
            (self.vpath("v1/engine/async_llm.py"), src_handler, "output_handler",
             "outputs = await engine_core.get_output_async()"),
            (self.vpath("v1/engine/core_client.py"), src_raise, "get_output_async",
             "raise self._format_exception(outputs) from None"),
        ], "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) "
           "for the root cause.", carets=True)


class Era085V1(V1Era):
    """0.8.5 V1 with tensor parallel 2: workers carry the cyan (VllmWorker rank=N pid=..) prefix;
    the API server and the (non-DP) EngineCore have no prefix yet."""

    summary = "Engine 000: stats, TP=2 cyan (VllmWorker rank=N pid=..) prefixes, 32B on 2xA100"

    key, version = "v0.8-v1", "0.8.5"
    style = Style(bracketed=True, in_format=False, cyan=True)
    deployment = QWEN25_32B_2xA100
    workload = Workload(prompt_avg=3800, gen_avg=650, hit_base=0.31)
    src_stats = "loggers.py:111"
    engine_process = True
    worker_name = "VllmWorker rank={rank}"
    src = dict(platform="__init__.py:239", version="api_server.py:1043", args="api_server.py:1044",
               tasks="config.py:717", chunked="config.py:2003", config="core.py:58", mq="shm_broadcast.py:266",
               reduce="multiproc_worker_utils.py:306", nccl="pynccl.py:69", backend="cuda.py:221",
               start_load="gpu_model_runner.py:1329", weights_fmt="weight_utils.py:265", loaded="loader.py:458",
               weights="gpu_model_runner.py:1347", cache_dir="backends.py:420", dynamo="backends.py:430",
               compiled="backends.py:148", compile_total="monitor.py:33", kv_size="kv_cache_utils.py:634",
               concurrency="kv_cache_utils.py:637", captured="gpu_model_runner.py:1686", init="core.py:159",
               serving="api_server.py:1090", routes="launcher.py:28", route="launcher.py:36",
               worker_exc="multiproc_executor.py:470", core_exc="core.py:398", handler="async_llm.py:399")

    def start(self, srv):
        em, d, api, core = self.em, srv.dep, srv.api_proc, srv.engine_proc
        s, rng = self.src, srv.rng
        workers = srv.workers
        t = srv.t
        yield from em.log(api, "INFO", t, s["platform"], "Automatically detected platform cuda.")
        t += rng.uniform(2, 4)
        yield from em.log(api, "INFO", t, s["version"], f"vLLM API server version {self.version}")
        yield from em.log(api, "INFO", t, s["args"], "args: " + _ns(
            NS_085.replace("{gdb}", "auto"), model=d.model, max_model_len=d.max_model_len,
            tensor_parallel_size=d.tp, served_model_name=[d.served_name], disable_log_requests=True))
        t += rng.uniform(4, 8)
        yield from em.log(api, "INFO", t, s["tasks"], "This model supports multiple tasks: {'generate', 'reward', "
                          "'classify', 'embed', 'score'}. Defaulting to 'generate'.")
        yield from em.log(api, "INFO", t, s["chunked"], "Chunked prefill is enabled with max_num_batched_tokens=2048.")
        t += rng.uniform(4, 7)
        yield from em.log(core, "INFO", t, s["platform"], "Automatically detected platform cuda.")
        t += rng.uniform(1.5, 3)
        yield from em.log(core, "INFO", t, s["config"], f"Initializing a V1 LLM engine (v{self.version}) with config: "
                          + config_085(d, v1=True))
        yield from em.log(core, "WARNING", t, s["reduce"], "Reducing Torch parallelism from 32 threads to 1 to avoid "
                          "unnecessary CPU contention. Set OMP_NUM_THREADS in the external environment to tune this "
                          "value as needed.")
        yield from em.log(core, "INFO", t, s["mq"], "vLLM message queue communication handle: Handle(local_reader_ranks"
                          f"=[0, 1], buffer_handle=(2, 10485760, 10, 'psm_{srv.uuid()[:8]}'), local_subscribe_addr="
                          f"'ipc:///tmp/{srv.uuid()[:8]}-{srv.uuid()[:4]}', remote_subscribe_addr=None, remote_addr_ipv6=False)")
        t += rng.uniform(4, 8)
        for w in workers:
            yield from em.log(w, "INFO", t, s["nccl"], "vLLM is using nccl==2.21.5")
        for w in workers:
            yield from em.log(w, "INFO", t, s["backend"], "Using Flash Attention backend on V1 engine.")
        for w in workers:
            yield from em.log(w, "INFO", t, s["start_load"], f"Starting to load model {d.model}...")
        for w in workers:
            yield from em.log(w, "INFO", t, s["weights_fmt"], "Using model weights format ['*.safetensors']")
        yield from tqdm_shard_lines(em, workers[0], t, d.shards, d.load_secs - 0.6)
        t += d.load_secs
        for w in workers:
            yield from em.log(w, "INFO", t, s["loaded"], "Loading weights took %.2f seconds" % (d.load_secs - 0.4))
        for w in workers:
            yield from em.log(w, "INFO", t, s["weights"], "Model loading took %.4f GiB and %.6f seconds"
                              % (d.weights_gib, d.load_secs + rng.uniform(0.3, 0.9)))
        t += rng.uniform(5, 9)
        cache_hash = srv.uuid()[:10]  # one hash of the config, shared by the ranks
        for rank, w in enumerate(workers):
            yield from em.log(w, "INFO", t, s["cache_dir"], "Using cache directory: /root/.cache/vllm/torch_compile_cache/"
                              f"{cache_hash}/rank_{rank}_0 for vLLM's torch.compile")
        dyn = rng.uniform(7, 12)
        for w in workers:
            yield from em.log(w, "INFO", t, s["dynamo"], "Dynamo bytecode transform time: %.2f s" % dyn)
        comp = rng.uniform(25, 45)
        t += comp
        for w in workers:
            yield from em.log(w, "INFO", t, s["compiled"], "Compiling a graph for general shape takes %.2f s" % comp)
        for w in workers:
            yield from em.log(w, "INFO", t, s["compile_total"], "torch.compile takes %.2f s in total" % (dyn + comp))
        t += rng.uniform(2, 4)
        # kv_cache_utils runs once per worker inside EngineCore (core.py:133), so these repeat per rank
        for _ in workers:
            yield from em.log(core, "INFO", t, s["kv_size"], "GPU KV cache size: %s tokens" % f"{d.kv_tokens:,}")
            yield from em.log(core, "INFO", t, s["concurrency"], "Maximum concurrency for %s tokens per request: %.2fx"
                              % (f"{d.max_model_len:,}", d.max_concurrency))
        t += d.graph_secs
        for w in workers:
            yield from em.log(w, "INFO", t, s["captured"], "Graph capturing finished in %.0f secs, took %.2f GiB"
                              % (d.graph_secs, d.graph_gib))
        yield from em.log(core, "INFO", t, s["init"], "init engine (profile, create kv cache, warmup model) took "
                          "%.2f seconds" % (dyn + comp + d.graph_secs + rng.uniform(5, 9)))
        t += rng.uniform(0.5, 1.5)
        yield from em.log(api, "INFO", t, s["serving"], "Starting vLLM API server on http://0.0.0.0:8000")
        yield from self.routes(api, t, s["routes"], s["route"], ROUTES_V1)
        yield from self.uvicorn_start(api, t, binds=False)
        srv.t = t

    def crash(self, srv, t):
        em, rng, w0 = self.em, srv.rng, srv.workers[0]
        oom = cuda_oom(srv.dep.total_gib, rng, self.torch_oom)
        wtb = traceback_text([
            (self.vpath("v1/executor/multiproc_executor.py"), 465, "worker_busy_loop", "output = func(*args, **kwargs)"),
            (f"{self.site}/torch/utils/_contextlib.py", 116, "decorate_context", "return func(*args, **kwargs)"),
            (self.vpath("v1/worker/gpu_worker.py"), 268, "execute_model", "output = self.model_runner.execute_model(scheduler_output)"),
            (f"{self.site}/torch/utils/_contextlib.py", 116, "decorate_context", "return func(*args, **kwargs)"),
            (self.vpath("v1/worker/gpu_model_runner.py"), 1110, "execute_model",
             "logits = self.model.compute_logits(sample_hidden_states, None)"),
        ], oom, carets=True)
        out = em.log(w0, "ERROR", t, self.src["worker_exc"], "WorkerProc hit an exception.\n" + wtb)
        t += rng.uniform(0.01, 0.1)
        ctb = traceback_text([
            (self.vpath("v1/engine/core.py"), 389, "run_engine_core", "engine_core.run_busy_loop()"),
            (self.vpath("v1/engine/core.py"), 413, "run_busy_loop", "self._process_engine_step()"),
            (self.vpath("v1/engine/core.py"), 438, "_process_engine_step", "outputs = self.step_fn()"),
            (self.vpath("v1/engine/core.py"), 203, "step", "output = self.model_executor.execute_model(scheduler_output)"),
            (self.vpath("v1/executor/multiproc_executor.py"), 146, "execute_model",
             '(output, ) = self.collective_rpc("execute_model",'),
            (self.vpath("v1/executor/multiproc_executor.py"), 185, "collective_rpc", "raise RuntimeError("),
        ], f"RuntimeError: Worker failed with error '{oom.split(': ', 1)[1]}', please check the stack trace "
           "above for the root cause", carets=True)
        out += em.log(srv.engine_proc, "ERROR", t, self.src["core_exc"], "EngineCore encountered a fatal error.\n" + ctb)
        t += rng.uniform(0.01, 0.1)
        out += em.log(srv.api_proc, "ERROR", t, self.src["handler"], "AsyncLLM output_handler failed.\n"
                      + self.engine_dead_tb(357, 716))
        for _ in range(rng.randint(3, 7)):
            out.append(em.uvicorn(srv.api_proc, t, Traffic.line(srv.traffic.client(), "POST", "/v1/chat/completions", 500), "stdout"))
        t += rng.uniform(0.5, 2)
        out += self.uvicorn_stop(srv.api_proc, t)
        srv.t = t
        return out


class Era0112(V1Era):
    """0.11.2: every line of every process is wrapped in a cyan (Name pid=N) prefix."""

    summary = "cyan (APIServer pid=N)/(EngineCore_DP0 pid=N) on every line, Preemptions: N"

    key, version = "v0.11", "0.11.2"
    style = Style(bracketed=True, in_format=False, cyan=True)
    deployment = QWEN3_8B_H100
    workload = Workload(prompt_avg=3100, gen_avg=820, hit_base=0.55)
    src_stats = "loggers.py:236"
    preemption_part = True
    engine_process = True
    api_name, engine_name = "APIServer", "EngineCore_DP0"
    src = dict(version="api_server.py:1977", args="utils.py:253", arch="model.py:631", maxlen="model.py:1745",
               chunked="scheduler.py:216", config="core.py:93", rank="parallel_state.py:1394",
               start_load="gpu_model_runner.py:3259", backend="cuda.py:427", loaded="default_loader.py:314",
               weights="gpu_model_runner.py:3338", cache_dir="backends.py:631", dynamo="backends.py:647",
               compiled="backends.py:282", compile_total="monitor.py:34", avail="gpu_worker.py:359",
               kv_size="kv_cache_utils.py:1229", concurrency="kv_cache_utils.py:1234",
               captured="gpu_model_runner.py:4244", init="core.py:250", tasks="api_server.py:1725",
               serving="api_server.py:2052", routes="launcher.py:38", route="launcher.py:46",
               core_exc="core.py:844", handler="async_llm.py:525", died="core_client.py:598")

    def config_line(self, d: Deployment) -> str:
        return (f"model={d.model!r}, speculative_config=None, tokenizer={d.model!r}, skip_tokenizer_init=False, "
                f"tokenizer_mode=auto, revision=None, tokenizer_revision=None, trust_remote_code=False, "
                f"dtype=torch.{d.dtype}, max_seq_len={d.max_model_len}, download_dir=None, load_format=auto, "
                f"tensor_parallel_size={d.tp}, pipeline_parallel_size=1, data_parallel_size=1, "
                "disable_custom_all_reduce=False, quantization=None, enforce_eager=False, kv_cache_dtype=auto, "
                "device_config=cuda, structured_outputs_config=StructuredOutputsConfig(backend='auto', "
                "disable_fallback=False, disable_any_whitespace=False, disable_additional_properties=False, "
                "reasoning_parser='', reasoning_parser_plugin='', enable_in_reasoning=False), "
                "observability_config=ObservabilityConfig(show_hidden_metrics_for_version=None, "
                "otlp_traces_endpoint=None, collect_detailed_traces=None), seed=0, "
                f"served_model_name={d.served_name}, enable_prefix_caching=True, enable_chunked_prefill=True, "
                "pooler_config=None, compilation_config={'level': None, "
                "'mode': <CompilationMode.VLLM_COMPILE: 3>, 'debug_dump_path': None, "
                "'cache_dir': '', 'backend': 'inductor', 'custom_ops': ['none'], 'splitting_ops': "
                "['vllm::unified_attention', 'vllm::unified_attention_with_output', 'vllm::unified_mla_attention', "
                "'vllm::unified_mla_attention_with_output', 'vllm::mamba_mixer2', 'vllm::mamba_mixer', "
                "'vllm::short_conv', 'vllm::linear_attention', 'vllm::plamo2_mamba_mixer', 'vllm::gdn_attention', "
                "'vllm::kda_attention', 'vllm::sparse_attn_indexer'], 'use_inductor': None, 'compile_sizes': [], "
                "'inductor_compile_config': {'enable_auto_functionalized_v2': False, 'combo_kernels': True, "
                "'benchmark_combo_kernel': True}, 'inductor_passes': {}, 'cudagraph_mode': "
                "<CUDAGraphMode.FULL_AND_PIECEWISE: (2, 1)>, 'use_cudagraph': True, 'cudagraph_num_of_warmups': 1, "
                "'cudagraph_capture_sizes': [512, 496, 480, 464, 448, 432, 416, 400, 384, 368, 352, 336, 320, 304, "
                "288, 272, 256, 248, 240, 232, 224, 216, 208, 200, 192, 184, 176, 168, 160, 152, 144, 136, 128, 120, "
                "112, 104, 96, 88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 4, 2, 1], 'cudagraph_copy_inputs': False, "
                "'full_cuda_graph': True, 'cudagraph_specialize_lora': True, 'use_inductor_graph_partition': False, "
                "'pass_config': {}, 'max_capture_size': 512, 'local_cache_dir': None}")

    def start(self, srv):
        em, d, api, core = self.em, srv.dep, srv.api_proc, srv.engine_proc
        s, rng = self.src, srv.rng
        t = srv.t
        yield from em.log(api, "INFO", t, s["version"], f"vLLM API server version {self.version}")
        yield from em.log(api, "INFO", t, s["args"], "non-default args: {'model_tag': %r, 'host': '0.0.0.0', "
                          "'model': %r, 'max_model_len': %d, 'served_model_name': [%r], 'gpu_memory_utilization': %s}"
                          % (d.model, d.model, d.max_model_len, d.served_name, d.util))
        t += rng.uniform(3, 6)
        yield from em.log(api, "INFO", t, s["arch"], f"Resolved architecture: {d.arch}")
        yield from em.log(api, "INFO", t, s["maxlen"], f"Using max model len {d.max_model_len}")
        yield from em.log(api, "INFO", t, s["chunked"], "Chunked prefill is enabled with max_num_batched_tokens=2048.")
        t += rng.uniform(5, 9)
        yield from em.log(core, "INFO", t, s["config"], f"Initializing a V1 LLM engine (v{self.version}) with config: "
                          + self.config_line(d))
        t += rng.uniform(1, 2)
        yield from em.log(core, "INFO", t, s["rank"], "rank 0 in world size 1 is assigned as DP rank 0, PP rank 0, "
                          "TP rank 0, EP rank 0")
        yield from em.log(core, "INFO", t, s["start_load"], f"Starting to load model {d.model}...")
        yield from em.log(core, "INFO", t, s["backend"], "Using FLASH_ATTN backend.")
        yield from tqdm_shard_lines(em, core, t, d.shards, d.load_secs - 0.5)
        t += d.load_secs
        yield from em.log(core, "INFO", t, s["loaded"], "Loading weights took %.2f seconds" % (d.load_secs - 0.43))
        yield from em.log(core, "INFO", t, s["weights"], "Model loading took %.4f GiB memory and %.6f seconds"
                          % (d.weights_gib, d.load_secs + rng.uniform(0.3, 0.8)))
        t += rng.uniform(3, 6)
        yield from em.log(core, "INFO", t, s["cache_dir"], "Using cache directory: /root/.cache/vllm/torch_compile_cache/"
                          f"{srv.uuid()[:10]}/rank_0_0/backbone for vLLM's torch.compile")
        dyn = rng.uniform(5, 8)
        yield from em.log(core, "INFO", t, s["dynamo"], "Dynamo bytecode transform time: %.2f s" % dyn)
        comp = rng.uniform(12, 22)
        t += dyn + comp
        yield from em.log(core, "INFO", t, s["compiled"], "Compiling a graph for dynamic shape takes %.2f s" % comp)
        yield from em.log(core, "INFO", t, s["compile_total"], "torch.compile takes %.2f s in total" % (dyn + comp))
        t += rng.uniform(1, 2)
        kv_bytes = d.kv_gib * GIB
        yield from em.log(core, "INFO", t, s["avail"], "Available KV cache memory: %.2f GiB" % gib(kv_bytes))
        yield from em.log(core, "INFO", t, s["kv_size"], "GPU KV cache size: %s tokens" % f"{d.kv_tokens:,}")
        yield from em.log(core, "INFO", t, s["concurrency"], "Maximum concurrency for %s tokens per request: %.2fx"
                          % (f"{d.max_model_len:,}", d.max_concurrency))
        yield from self.capture_bars(core, t, d.graph_secs)
        t += d.graph_secs
        yield from em.log(core, "INFO", t, s["captured"], "Graph capturing finished in %.0f secs, took %.2f GiB"
                          % (d.graph_secs, d.graph_gib))
        yield from em.log(core, "INFO", t, s["init"], "init engine (profile, create kv cache, warmup model) took "
                          "%.2f seconds" % (dyn + comp + d.graph_secs + rng.uniform(3, 5)))
        t += rng.uniform(0.5, 1.5)
        yield from em.log(api, "INFO", t, s["tasks"], "Supported tasks: ['generate']")
        yield from em.log(api, "INFO", t, s["serving"], "Starting vLLM API server 0 on http://0.0.0.0:8000")
        yield from self.routes(api, t, s["routes"], s["route"], ROUTES_V1)
        yield from self.uvicorn_start(api, t, binds=False)
        srv.t = t

    def capture_bars(self, proc: Proc, t: float, secs: float) -> list[Line]:
        """0.10.1+ tqdm bars, one physical line each after in-place "\\r" redraws (stderr)."""
        out = []
        for desc, n in (("Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)", 67), ("Capturing CUDA graphs (decode, FULL)", 35)):
            secs_i = secs * n / 102
            frames = []
            for i in (0, n // 3, 2 * n // 3, n):
                pct = int(100 * i / n)
                el = secs_i * i / n
                bar = "█" * (pct // 10) + " " * (10 - pct // 10)
                rate = "?it/s" if i == 0 else f"{i / max(el, 0.01):5.2f}it/s"
                frames.append(f"\r{desc}: {pct:3d}%|{bar}| {i}/{n} [{_mmss(el)}<{'?' if i == 0 else _mmss(secs_i - el)}, {rate}]")
            t += secs_i
            out.append(self.em.raw(proc, t, "".join(frames)))
        return out

    def oom_core_frames(self) -> list[tuple[str, int, str, str]]:
        return [
            (self.vpath("v1/engine/core.py"), 835, "run_engine_core", "engine_core.run_busy_loop()"),
            (self.vpath("v1/engine/core.py"), 862, "run_busy_loop", "self._process_engine_step()"),
            (self.vpath("v1/engine/core.py"), 891, "_process_engine_step", "outputs, model_executed = self.step_fn()"),
            (self.vpath("v1/engine/core.py"), 342, "step", "model_output = future.result()"),
            ("/usr/lib/python3.12/concurrent/futures/_base.py", 449, "result", "return self.__get_result()"),
            ("/usr/lib/python3.12/concurrent/futures/_base.py", 401, "__get_result", "raise self._exception"),
            (self.vpath("v1/executor/uniproc_executor.py"), 75, "collective_rpc",
             "result = run_method(self.driver_worker, method, args, kwargs)"),
            (self.vpath("v1/serial_utils.py"), 479, "run_method", "return func(*args, **kwargs)"),
            (self.vpath("v1/worker/gpu_worker.py"), 563, "execute_model", "output = self.model_runner.execute_model("),
            (f"{self.site}/torch/utils/_contextlib.py", 120, "decorate_context", "return func(*args, **kwargs)"),
            (self.vpath("v1/worker/gpu_model_runner.py"), 2834, "execute_model",
             "logits = self.model.compute_logits(sample_hidden_states)"),
        ]

    def crash(self, srv, t):
        em, rng = self.em, srv.rng
        oom = cuda_oom(srv.dep.total_gib, rng, self.torch_oom)
        tb = traceback_text(self.oom_core_frames(), oom, carets=True)
        out = em.log(srv.engine_proc, "ERROR", t, self.src["core_exc"], "EngineCore encountered a fatal error.\n" + tb)
        t += rng.uniform(0.01, 0.1)
        out += em.log(srv.api_proc, "ERROR", t, self.src["handler"], "AsyncLLM output_handler failed.\n"
                      + self.engine_dead_tb(*self.dead_tb_lines))
        for _ in range(rng.randint(3, 7)):
            out.append(em.uvicorn(srv.api_proc, t, Traffic.line(srv.traffic.client(), "POST", "/v1/chat/completions", 500), "stdout"))
        if "died" in self.src:
            t += rng.uniform(0.3, 1.0)
            out += em.log(srv.api_proc, "ERROR", t, self.src["died"], f"Engine core proc {srv.engine_proc.name} died "
                          "unexpectedly, shutting down client.")
        t += rng.uniform(0.5, 2)
        out += self.uvicorn_stop(srv.api_proc, t)
        srv.t = t
        return out

    dead_tb_lines = (477, 883)


LOGO = ("\n       █     █     █▄   ▄█\n"
        " ▄▄ ▄█ █     █     █ ▀▄▀ █  version %s\n"
        "  █▄█▀ █     █     █     █  model   %s\n"
        "   ▀▀  ▀▀▀▀▀ ▀▀▀▀▀ ▀     ▀\n")


class Era033(Era0112):
    """0.33.0: "(Name pid=N)" is part of the log format (never coloured without a TTY); uvicorn,
    tqdm and raw tracebacks are unprefixed; merged KV-size line; logo banner; Model Runner V2."""

    summary = "in-format (EngineCore pid=N), logo, merged KV line, Deferred: N reqs"

    key, version = "v0.33", "0.33.0"
    style = Style(bracketed=True, in_format=True, cyan=False)
    deployment = LLAMA31_8B_H100_V33
    workload = Workload(prompt_avg=2900, gen_avg=760, hit_base=0.48)
    src_stats = "loggers.py:335"
    deferred_part = True
    engine_name = "EngineCore"
    src = dict(logo="startup.py:38", args="startup.py:96", arch="model.py:744", maxlen="model.py:2170",
               chunked="scheduler.py:310", config="core.py:139", rank="parallel_state.py:2385",
               v2runner="gpu_worker.py:513", scratch="model_runner.py:399", backend="cuda.py:508",
               loaded="default_loader.py:506", weights="model_runner.py:428", avail="gpu_worker.py:772", kv_size="kv_cache_utils.py:1147", captured="model_runner.py:1163",
               init="core.py:405", tasks="entry.py:135", serving="entry.py:139", routes="launcher.py:188",
               route="launcher.py:197", core_exc="core.py:1586", handler="async_llm.py:943")
    dead_tb_lines = (880, 1278)

    def config_line(self, d: Deployment) -> str:
        """VllmConfig.__str__ of 0.31+ (key order from vllm-log-formats.md 8.1; nested reprs shortened
        to their default fields, as real lines print them)."""
        sizes = [1, 2, 4] + list(range(8, 257, 8)) + list(range(272, 513, 16))
        return (f"model={d.model!r}, speculative_config=None, tokenizer={d.model!r}, skip_tokenizer_init=False, "
                "tokenizer_mode=auto, revision=None, tokenizer_revision=None, trust_remote_code=False, "
                f"dtype=torch.{d.dtype}, max_seq_len={d.max_model_len}, download_dir=None, load_format=auto, "
                f"tensor_parallel_size={d.tp}, pipeline_parallel_size=1, data_parallel_size=1, "
                "decode_context_parallel_size=1, dcp_comm_backend=ag_rs, disable_custom_all_reduce=False, "
                "quantization=None, quantization_config=None, enforce_eager=False, "
                "aux_output_config=AuxOutputConfig(enable_return_routed_experts=False), kv_cache_dtype=auto, "
                "device_config=cuda, structured_outputs_config=StructuredOutputsConfig(backend='auto', "
                "disable_any_whitespace=False, disable_additional_properties=False, reasoning_parser='', "
                "reasoning_parser_plugin='', enable_in_reasoning=False), observability_config=ObservabilityConfig("
                "show_hidden_metrics_for_version=None, otlp_traces_endpoint=None, collect_detailed_traces=None, "
                "kv_cache_metrics=False, kv_cache_metrics_sample=0.01, cudagraph_metrics=False, "
                "enable_layerwise_nvtx_tracing=False, enable_mfu_metrics=False, enable_mm_processor_stats=False, "
                "enable_logging_iteration_details=False, jit_monitor_mode='warn', jit_monitor_verbose=False), "
                f"seed=0, served_model_name={d.served_name}, enable_prefix_caching=True, enable_chunked_prefill=True, "
                "pooler_config=None, compilation_config={'mode': <CompilationMode.VLLM_COMPILE: 3>, "
                "'debug_dump_path': None, 'cache_dir': '', 'compile_cache_save_format': 'binary', 'backend': "
                "'inductor', 'custom_ops': ['none'], 'splitting_ops': ['vllm::unified_attention_with_output', "
                "'vllm::unified_mla_attention_with_output', 'vllm::mamba_mixer2', 'vllm::mamba_mixer', "
                "'vllm::short_conv', 'vllm::linear_attention'], 'compile_sizes': [], 'compile_ranges_endpoints': "
                f"[{d.max_model_len}], 'cudagraph_mode': <CUDAGraphMode.FULL_AND_PIECEWISE: (2, 1)>, "
                f"'cudagraph_num_of_warmups': 1, 'cudagraph_capture_sizes': {sizes}, 'max_cudagraph_capture_size': "
                "512, 'local_cache_dir': None}, kernel_config=KernelConfig(ir_op_priority=IrOpPriorityConfig("
                "rms_norm=['native'], fused_add_rms_norm=['native']), enable_flashinfer_autotune=True, "
                "moe_backend='auto', linear_backend='auto')")

    def start(self, srv):
        em, d, api, core = self.em, srv.dep, srv.api_proc, srv.engine_proc
        s, rng = self.src, srv.rng
        t = srv.t
        yield from em.log(api, "INFO", t, s["logo"], LOGO % (self.version, d.model))
        yield from em.log(api, "INFO", t, s["args"], "non-default args: {'model_tag': %r, 'host': '0.0.0.0', "
                          "'model': %r, 'max_model_len': %d, 'served_model_name': [%r], 'gpu_memory_utilization': %s}"
                          % (d.model, d.model, d.max_model_len, d.served_name, d.util))
        t += rng.uniform(3, 6)
        yield from em.log(api, "INFO", t, s["arch"], f"Resolved architecture: {d.arch}")
        yield from em.log(api, "INFO", t, s["maxlen"], f"Using max model len {d.max_model_len}")
        yield from em.log(api, "INFO", t, s["chunked"], "Chunked prefill is enabled with max_num_batched_tokens=8192.")
        t += rng.uniform(6, 10)
        yield from em.log(core, "INFO", t, s["config"], f"Initializing a V1 LLM engine (v{self.version}) with config: "
                          + self.config_line(d))
        t += rng.uniform(1, 2)
        yield from em.log(core, "INFO", t, s["rank"], "rank 0 in world size 1 is assigned as DP rank 0, PP rank 0, "
                          "PCP rank 0, TP rank 0, ETP rank N/A, EP rank N/A, EPLB rank N/A")
        yield from em.log(core, "INFO", t, s["v2runner"], "Using V2 Model Runner")
        yield from em.log(core, "INFO", t, s["scratch"], "Loading model from scratch...")
        yield from em.log(core, "INFO", t, s["backend"], "Using FLASH_ATTN attention backend out of potential "
                          "backends: ['FLASH_ATTN', 'FLASHINFER', 'TRITON_ATTN', 'FLEX_ATTENTION'].")
        yield from tqdm_shard_lines(em, core, t, d.shards, d.load_secs - 0.5)
        t += d.load_secs
        yield from em.log(core, "INFO", t, s["loaded"], "Loading weights took %.2f seconds" % (d.load_secs - 0.41))
        yield from em.log(core, "INFO", t, s["weights"], "Model loading took %s GiB memory and %.6f seconds"
                          % (format_gib(d.weights_gib * GIB), d.load_secs + rng.uniform(0.3, 0.8)))
        # The torch.compile lines of 0.33 carry a "%s" tag prefix whose value we could not pin
        # down from the source alone, so they are left out; only their total is kept below.
        dyn, comp = rng.uniform(3, 6), rng.uniform(10, 18)
        t += dyn + comp
        t += rng.uniform(1, 2)
        yield from em.log(core, "INFO", t, s["avail"], "Available KV cache memory: %s GiB" % format_gib(d.kv_gib * GIB))
        yield from em.log(core, "INFO", t, s["kv_size"], "GPU KV cache size: %s tokens, Maximum concurrency for %s "
                          "tokens per request: %.2fx" % (f"{d.kv_tokens:,}", f"{d.max_model_len:,}", d.max_concurrency))
        yield from self.capture_bars(core, t, d.graph_secs)
        t += d.graph_secs
        yield from em.log(core, "INFO", t, s["captured"], "Graph capturing finished in %.0f secs, took %.2f GiB"
                          % (d.graph_secs, d.graph_gib))
        yield from em.log(core, "INFO", t, s["init"], "init engine (profile, create kv cache, warmup model) took "
                          "%.2f s (compilation: %.2f s)" % (dyn + comp + d.graph_secs + rng.uniform(3, 5), dyn + comp))
        t += rng.uniform(0.5, 1.5)
        yield from em.log(api, "INFO", t, s["tasks"], "Supported tasks: ['generate']")
        yield from em.log(api, "INFO", t, s["serving"], "Starting vLLM server on http://0.0.0.0:8000")
        yield from self.routes(api, t, s["routes"], s["route"], ROUTES_V1)
        yield from self.uvicorn_start(api, t, binds=False)
        srv.t = t

    def capture_bars(self, proc, t, secs):
        return [replace_desc(line) for line in super().capture_bars(proc, t, secs)]

    def oom_core_frames(self):
        return [
            (self.vpath("v1/engine/core.py"), 1570, "run_engine_core", "engine_core.run_busy_loop()"),
            (self.vpath("v1/engine/core.py"), 1629, "run_busy_loop", "self._process_engine_step()"),
            (self.vpath("v1/engine/core.py"), 1683, "_process_engine_step", "outputs, model_executed = self.step_fn()"),
            (self.vpath("v1/engine/core.py"), 684, "step", "model_output = future.result()"),
            ("/usr/lib/python3.12/concurrent/futures/_base.py", 449, "result", "return self.__get_result()"),
            ("/usr/lib/python3.12/concurrent/futures/_base.py", 401, "__get_result", "raise self._exception"),
            (self.vpath("v1/executor/uniproc_executor.py"), 103, "collective_rpc",
             "result = run_method(self.driver_worker, method, args, kwargs)"),
            (self.vpath("v1/serial_utils.py"), 508, "run_method", "return func(*args, **kwargs)"),
            (self.vpath("v1/worker/gpu_worker.py"), 1360, "execute_model", "output = self.model_runner.execute_model("),
            (f"{self.site}/torch/utils/_contextlib.py", 124, "decorate_context", "return func(*args, **kwargs)"),
            (self.vpath("v1/worker/gpu/model_runner.py"), 1656, "sample",
             "logits = self.model.compute_logits(sample_hidden_states)"),
        ]


def replace_desc(line: Line) -> Line:
    """MRV2 (0.29+) names its capture bars without the batch-kind part (as real 0.27.1 MRV2 logs do)."""
    t, stream, text = line
    return (t, stream, text.replace("(mixed prefill-decode, PIECEWISE)", "(PIECEWISE)").replace("(decode, FULL)", "(FULL)"))


ERAS: dict[str, type[Era]] = {cls.key: cls for cls in (Era042, Era043, Era063, Era085V0, Era085V1, Era0112, Era033)}

# When each era's release was current: the synthetic clock starts a few days after it.
ERA_EPOCH = {"v0.4.2": "2024-05-08", "v0.4": "2024-06-06", "v0.6": "2024-10-21", "v0.8": "2025-05-06",
             "v0.8-v1": "2025-05-07", "v0.11": "2025-11-24", "v0.33": "2026-11-20"}


# ---------------------------------------------------------------------------------------------
# One server lifetime: startup, serving ticks, optional OOM crash
# ---------------------------------------------------------------------------------------------

_WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at which but "
          "have an they you were her she there been one all we their has would when if so what up out about "
          "who them into more than can only other new some could time these two may then first any my now "
          "such like our over man me even most made after also did many before must through back years where "
          "much your way well down should because each just those people how too little state good very make "
          "world still own see men work long get here between both life being under never day same another "
          "know while last might us great old year off come since against go came right used take three "
          "summarize explain translate invoice customer refund policy kubernetes latency throughput gpu").split()


class Server:
    """State of one server process tree: pids, clock, counters, the RNG shared with the era."""

    def __init__(self, era: Era, rng: random.Random, t: float, network: str, log_requests: bool,
                 busy: bool | float, pid_base: int):
        self.era, self.rng, self.t = era, rng, t
        self.dep = era.deployment
        self.log_requests = log_requests
        self.traffic = Traffic(rng, network)
        self.scrape_client = {"docker": "172.17.0.1", "k8s": "10.244.1.17"}.get(network, "127.0.0.1") + \
            f":{rng.randint(40000, 60000)}"
        self.health_every = 30.0 if network == "docker" else 10.0  # docker HEALTHCHECK vs kubelet probe
        self.next_health = t + rng.uniform(1, 10)
        self.next_scrape = t + rng.uniform(1, 15)
        self.cum_preemptions = 0
        self.api_proc, self.engine_proc, self.workers = self._procs(pid_base)
        work = era.workload
        if busy:  # True: ~100 access lines per stats line; a number: that many requests per interval
            work = busy_workload(self.dep, work, era.stats_interval,
                                 *(() if busy is True else (float(busy),)))
        self.load = LoadModel(self.dep, work, rng)

    def _procs(self, base: int) -> tuple[Proc, Proc, list[Proc]]:
        """(API server, engine, TP workers) with the era's prefix names. In a container the API
        server is pid 1 and its children get small pids."""
        era = self.era
        api = Proc(era.api_name, base)
        eng = base + self.rng.randint(60, 140)  # drawn always, so a seed's log never shifts
        if not era.engine_process:
            return api, api, []
        workers = [Proc(era.worker_name.format(rank=r), eng + 40 + 3 * r)
                   for r in range(self.dep.tp)] if era.worker_name else []
        return api, Proc(era.engine_name, eng), workers

    def uuid(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def prompt(self) -> tuple[str, list[int]]:
        """A chat-templated prompt and its token ids, for the request-logging lines."""
        n = max(16, int(self.rng.expovariate(1 / self.load.work.prompt_avg)))
        words = [self.rng.choice(_WORDS) for _ in range(int(n * 0.75))]
        text = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December "
                "2023\nToday Date: 26 Jul 2024\n\nYou are a helpful assistant.<|eot_id|><|start_header_id|>user"
                "<|end_header_id|>\n\n" + " ".join(words) + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        ids = [128000, 128006, 9125, 128007, 271] + [self.rng.randint(220, 127999) for _ in range(n)] + [128009, 128006, 78191, 128007, 271]
        return text, ids


def busy_workload(dep: Deployment, work: Workload, dt: float, per_tick: float = 115.0) -> Workload:
    """Choose the output length so a saturated server finishes ~per_tick requests per stats
    interval (about 100 access lines per stats line), keeping the KV arithmetic consistent."""
    gen = work.gen_avg
    for _ in range(20):
        ctx = work.prompt_avg + gen / 2
        cap = min(dep.max_num_seqs, dep.kv_tokens * 0.985 / ctx)
        rate = decode_rate(dep, cap, ctx)
        gen = max(16.0, cap * rate * dt / per_tick)
    return replace(work, gen_avg=gen)


def expected_lines_per_tick(srv: Server, shape: float) -> float:
    """Lines one stats interval produces at a given demand: the noise-free LoadModel.step."""
    era, load, dep = srv.era, srv.load, srv.dep
    running = min(load.peak * shape, load.cap)
    if running < 1:
        dt = era.idle_stats_interval or era.stats_interval
        return (1 if era.idle_stats_interval else 0) + dt / 15 + dt / srv.health_every
    dt = era.stats_interval
    done = running * decode_rate(dep, running, load.ctx) * dt / load.work.gen_avg
    per_request = 3 if srv.log_requests else 1
    stats = 2 if isinstance(era, V0Era) and era.prefix_line else 1
    return done * per_request + stats + dt / 15 + dt / srv.health_every


def plan_ticks(srv: Server, budget: int, until: float) -> int:
    """How many stats intervals make the shape's [0, until) part emit about ``budget`` lines."""
    samples = 400
    mean = sum(expected_lines_per_tick(srv, demand_shape(until * (i + 0.5) / samples))
               for i in range(samples)) / samples
    return max(8, int(budget / until / mean))


IDLE_TICKS = 18  # stats intervals of idle tail after the load has drained


def serve(srv: Server, ticks: int, crash_at: float | None) -> Iterator[Line]:
    """``ticks`` stats intervals under the demand shape, then an idle tail; or, with
    ``crash_at``, die of a CUDA OOM at that fraction of the shape."""
    era, rng = srv.era, srv.rng
    t = srv.t
    prev_active = False
    for i in range(ticks + IDLE_TICKS):
        f = i / ticks
        if crash_at is not None and f >= crash_at:
            yield from era.crash(srv, t + rng.uniform(0.5, 3))
            return
        k = srv.load.step(demand_shape(f), era.stats_interval)
        active = k.completions > 0 or k.running > 0
        dt = era.stats_interval
        if not active and era.idle_stats_interval:
            dt = era.idle_stats_interval
        # V1 logs on a fixed 10 s grid; the V0 engine logs at its first step after 5 s.
        t1 = t + dt if era.engine == "v1" else t + dt + rng.uniform(0.0, 0.25)
        batch = tick_lines(srv, t, t1, k)
        # vLLM drops the stats line to DEBUG when this and the previous interval were idle
        # (V0 0.6.5+, V1 0.8.5+); older V0 keeps printing it (forced every 10 s when idle).
        if active or prev_active or era.idle_stats_interval:
            batch += era.stats(srv, t1, k)
        prev_active = active
        batch.sort(key=lambda line: line[0])
        yield from batch
        t = t1
    srv.t = t


def tick_lines(srv: Server, t0: float, t1: float, k: Tick) -> list[Line]:
    """Everything but the stats line in one interval: access lines (one per finished request),
    health probes, Prometheus scrapes, V0 preemption warnings, optional request logging."""
    era, rng, em, api, traffic = srv.era, srv.rng, srv.era.em, srv.api_proc, srv.traffic
    batch: list[Line] = []
    for _ in range(k.completions):
        tc = rng.uniform(t0, t1)
        method, path, status = traffic.request()
        if srv.log_requests and status == 200 and path != "/v1/models":
            batch += era.request_log_lines(srv, max(t0, tc - rng.uniform(1, 8)), era.request_id(srv))
        batch.append(em.uvicorn(api, tc, Traffic.line(traffic.client(), method, path, status), "stdout"))
    while srv.next_health < t1:  # kubelet / docker healthcheck: a new connection each time
        batch.append(em.uvicorn(api, srv.next_health, Traffic.line(traffic.probe_client(), "GET", "/health", 200), "stdout"))
        srv.next_health += srv.health_every
    while srv.next_scrape < t1:  # Prometheus keeps its connection alive
        batch.append(em.uvicorn(api, srv.next_scrape, Traffic.line(srv.scrape_client, "GET", "/metrics", 200), "stdout"))
        srv.next_scrape += 15.0
    batch += era.preemption_lines(srv, t0, t1, k)
    return batch


def generate(era: str, lines: int = 10_000, seed: int = 0, restarts: int = 0, busy: bool | float = False,
             network: str = "local", log_requests: bool = False) -> Iterator[Line]:
    """All lines of one synthetic log, in order, as (epoch seconds, stream, text)."""
    if era not in ERAS:
        raise ValueError(f"unknown era {era!r}; choose from {', '.join(ERAS)}")
    spec = ERAS[era]()
    if log_requests and not spec.supports_log_requests:
        raise ValueError("--log-requests is implemented for eras: "
                         + ", ".join(k for k, c in ERAS.items() if c.supports_log_requests))
    rng = random.Random(f"{era}:{seed}")
    t = time.mktime(time.strptime(ERA_EPOCH[era], "%Y-%m-%d")) - time.timezone
    t += rng.randint(1, 6) * 86400 + rng.randint(6 * 3600, 20 * 3600) + rng.random()
    cycles = restarts + 1
    share = max(100, lines // cycles)
    pid_base = 1 if network in ("docker", "k8s") else rng.randint(2000, 40000)
    for cycle in range(cycles):
        crashing = cycle < restarts
        srv = Server(spec, rng, t, network, log_requests, busy, pid_base)
        startup = list(spec.start(srv))
        yield from startup
        budget = max(50, share - len(startup))
        if crashing:  # dies mid-plateau: plan the shape so the part before the crash fills the share
            yield from serve(srv, plan_ticks(srv, budget, 0.5), crash_at=0.5)
        else:
            yield from serve(srv, plan_ticks(srv, budget, 1.0), crash_at=None)
        t = srv.t + rng.uniform(20, 45)  # the container is restarted
        if network not in ("docker", "k8s"):
            pid_base += rng.randint(300, 900)


# ---------------------------------------------------------------------------------------------
# Envelopes: how container runtimes store those lines
# ---------------------------------------------------------------------------------------------

def _docker_json_escape(s: str) -> str:
    """Docker's json-file escaping (jsonlogbytes.go): \\\\ \\" \\n \\r short, every other control
    byte and < > & as \\u00XX, U+2028/2029 escaped, other UTF-8 kept raw."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\\" or ch == '"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or ch in "<>&":
            out.append(f"\\u00{o:02x}")
        elif ch in "\u2028\u2029":
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _write_times(lines: Iterable[Line]) -> Iterator[tuple[float, str, str]]:
    """The runtime stamps a line when it reads it: vLLM's own instant, nudged so envelope times
    strictly increase, lines of one burst some tens of microseconds apart."""
    last = 0.0
    n = 0
    for t, stream, text in lines:
        n += 1
        last = t if t > last else last + (17 + n * 7919 % 43) * 1e-6
        yield last, stream, text


def wrap_none(lines: Iterable[Line]) -> Iterator[str]:
    for _, _, text in lines:
        yield text + "\n"


def wrap_docker_json(lines: Iterable[Line]) -> Iterator[str]:
    """docker json-file driver: one JSON object per line, "log" keeps the newline."""
    for w, stream, text in _write_times(lines):
        yield ('{"log":"' + _docker_json_escape(text + "\n") + '","stream":"' + stream + '","time":"'
               + rfc3339nano(w, fixed=False) + '"}\n')


def wrap_docker_timestamps(lines: Iterable[Line]) -> Iterator[str]:
    """``docker logs --timestamps``: RFC3339NanoFixed (always 9 digits) and a space."""
    for w, _, text in _write_times(lines):
        yield rfc3339nano(w, fixed=True) + " " + text + "\n"


def wrap_cri(lines: Iterable[Line], max_line: int = 16384) -> Iterator[str]:
    """Kubernetes CRI (containerd) file format ``<RFC3339Nano> <stream> <P|F> <content>``.
    containerd splits lines longer than max_container_log_line_size (16 KiB default) into
    ``P`` (partial) records followed by a final ``F`` record."""
    for w, stream, text in _write_times(lines):
        data = text.encode("utf-8")
        stamp = rfc3339nano(w, fixed=False)
        while len(data) > max_line:
            cut = max_line
            while cut > 0 and (data[cut] & 0xC0) == 0x80:  # never split inside a UTF-8 sequence
                cut -= 1
            yield f"{stamp} {stream} P " + data[:cut].decode("utf-8") + "\n"
            data = data[cut:]
        yield f"{stamp} {stream} F " + data.decode("utf-8") + "\n"


WRAPS: dict[str, Callable[[Iterable[Line]], Iterator[str]]] = {
    "none": wrap_none, "docker-json": wrap_docker_json, "docker-timestamps": wrap_docker_timestamps, "cri": wrap_cri,
}
NETWORK_FOR_WRAP = {"none": "local", "docker-json": "docker", "docker-timestamps": "docker", "cri": "k8s"}


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="synth.py",
        description="Write a synthetic but format-exact vLLM server log: startup, then stats and "
                    "access lines under a load that ramps up, saturates the KV cache, drains and idles.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="eras:\n" + "\n".join(f"  {k:8s} {c.version:7s} {c.engine.upper()}  {c.summary}" for k, c in ERAS.items()) +
               "\n\nexamples:\n"
               "  synth.py --era v0.33 --lines 4000 -o v033.log\n"
               "  synth.py --era v0.11 --busy --lines 1000000 -o /tmp/busy.log.gz     # benchmark mix\n"
               "  synth.py --era v0.8 --restarts 1 --wrap docker-json | head\n"
               "  synth.py --era v0.6 --wrap cri --log-requests --lines 300 | grep ' P '\n"
               "\nThe same --era/--seed/--lines/--restarts/--busy/--wrap always give the same bytes.")
    p.add_argument("--era", choices=list(ERAS), default="v0.33", help="vLLM release whose formats to use (default v0.33)")
    p.add_argument("--lines", type=int, default=10_000, help="approximate number of log lines (default 10000); a whole startup-ramp-drain "
                        "story needs at least a few hundred, so smaller values give that minimum")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same log (default 0)")
    p.add_argument("--wrap", choices=list(WRAPS), default="none",
                   help="container envelope: none, docker-json (json-file driver), docker-timestamps "
                        "(docker logs --timestamps), cri (Kubernetes /var/log/pods)")
    p.add_argument("--cri-max-line", type=int, default=16384, metavar="BYTES",
                   help="with --wrap cri: containerd's max_container_log_line_size (default 16384)")
    p.add_argument("--restarts", type=int, default=0, metavar="K",
                   help="the engine dies of a CUDA OOM and starts again K times within the log")
    p.add_argument("--busy", action="store_true",
                   help="benchmark mix: a busy server, ~100 access lines per stats line")
    p.add_argument("--log-requests", action="store_true",
                   help="V0 request logging (vLLM's default then): 'Received request' lines with the full "
                        "prompt and token ids, ~25 KB per request: the long lines that CRI splits at 16 KiB "
                        "(era v0.6 only)")
    p.add_argument("-o", "--output", default="-", help="output file ('-' = stdout); gzip if it ends in .gz")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.lines < 1 or args.restarts < 0:
        print("synth.py: --lines must be >= 1 and --restarts >= 0", file=sys.stderr)
        return 2
    try:
        lines = generate(args.era, lines=args.lines, seed=args.seed, restarts=args.restarts, busy=args.busy,
                         network=NETWORK_FOR_WRAP[args.wrap], log_requests=args.log_requests)
        if args.wrap == "cri":
            chunks = wrap_cri(lines, args.cri_max_line)
        else:
            chunks = WRAPS[args.wrap](lines)
        if args.output == "-":
            out = sys.stdout
            out.reconfigure(encoding="utf-8", newline="\n")
            close = False
        elif args.output.endswith(".gz"):
            # mtime=0 in the gzip header: byte-identical files for the same arguments
            raw = gzip.GzipFile(args.output, "wb", compresslevel=6, mtime=0)
            out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
            close = True
        else:
            out = open(args.output, "w", encoding="utf-8", newline="\n")
            close = True
        buf: list[str] = []
        for chunk in chunks:
            buf.append(chunk)
            if len(buf) >= 4096:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))
        if close:
            out.close()
    except ValueError as e:
        print(f"synth.py: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        sys.stdout = None  # e.g. piped into head: stop quietly
    return 0


if __name__ == "__main__":
    sys.exit(main())
