"""Plain-words findings from an analyze summary: what a person should know about the archive.

"KV cache above 95% for 42 minutes; 318 preemptions; the engine restarted 3 times after CUDA
OOM" - each finding is computed from the summary's engine starts (stats with times, errors,
theory), never from raw lines, so the report and `analyze` cannot disagree.
"""

from __future__ import annotations

from collections import Counter

from vllm_obs.archive.statsview import (
    first_preemption_time,
    line_count,
    peak_kv_usage_pct,
    start_saturated_seconds,
)
from vllm_obs.fold.digest import SATURATION_PCT
from vllm_obs.ingest.timestamps import parse_time

FAILURE_KINDS = {
    "cuda_oom": "CUDA OOM",
    "insufficient_kv_cache": "insufficient KV cache",
    "no_kv_cache_memory": "no memory for the KV cache",
    "engine_startup_failed": "an engine startup failure",
    "engine_fatal": "an engine fatal error",
    "worker_died": "a worker dying",
}


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def _clock(text: str | None) -> str:
    moment = parse_time(text)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else (text or "?")


def findings(summary: dict) -> list[str]:
    out: list[str] = []
    starts = summary.get("starts", [])
    details = summary.get("details", {})

    # Restarts and what preceded them.
    if len(starts) > 1:
        causes: Counter = Counter()
        for start in starts[:-1]:
            kinds = [e["kind"] for e in start.get("errors", []) if e["kind"] in FAILURE_KINDS]
            causes[FAILURE_KINDS[kinds[-1]] if kinds else "no failure in the log"] += 1
        why = ", ".join(f"{cause}" + (f" ({n}x)" if n > 1 else "") for cause, n in causes.most_common())
        out.append(f"The engine started {len(starts)} times: it restarted {len(starts) - 1} time{'s' if len(starts) > 2 else ''} after {why}.")

    # Startup failures in words.
    for error in summary.get("errors", []):
        if error["kind"] in ("insufficient_kv_cache", "no_kv_cache_memory", "engine_startup_failed"):
            out.append(f"Startup failure ({error['kind'].replace('_', ' ')}): {error['message']}.")

    # KV cache saturation.
    if any(line_count(start) for start in starts):
        seconds = sum(start_saturated_seconds(start) for start in starts)
        peak = peak_kv_usage_pct(summary)
        if seconds > 0:
            out.append(f"KV cache above {SATURATION_PCT:.0f}% for {_minutes(seconds)} (peak {peak:.1f}%).")
        elif peak:
            out.append(f"KV cache usage peaked at {peak:.1f}%: it never stayed above {SATURATION_PCT:.0f}%.")

    # Preemptions.
    preemptions = details.get("preemptions_total", 0)
    if preemptions:
        first = None
        for start in starts:
            first = first or first_preemption_time(start)
            for e in start.get("errors", []):
                if e["kind"] == "preemption":
                    first = first or e.get("time")
        out.append(f"{preemptions:,} requests preempted for lack of KV cache space" + (f" (the first around {_clock(first)})." if first else "."))

    # Queueing.
    waiting = details.get("peak_waiting")
    if waiting:
        out.append(f"Up to {waiting:,} requests waited for the engine at once (peak running: {details.get('peak_running', 0):,}).")

    # Other failures.
    failure_kinds = Counter(e["kind"] for e in summary.get("errors", []) if e["kind"] in ("cuda_oom", "engine_fatal", "worker_died"))
    for kind, n in failure_kinds.most_common():
        out.append(f"{FAILURE_KINDS[kind][0].upper() + FAILURE_KINDS[kind][1:]}: {n} time{'s' if n > 1 else ''}.")

    # Throughput against the ceiling, capacity against theory.
    theory = summary.get("theory") or {}
    generation = (theory.get("observed_vs_theory") or {}).get("generation_tokens_per_second")
    if generation and generation.get("ratio"):
        head = f"Best decode rate per request: {generation['observed']:,.0f} tok/s at {generation['running']} running"
        if generation["ratio"] > 1.05:
            out.append(
                f"{head} is above its roofline ceiling ({generation['theory']:,.0f} tok/s), which cannot be: "
                "the GPU or the model is not the one assumed (check --gpu and --model)."
            )
        else:
            out.append(f"{head} is {generation['ratio']:.0%} of the roofline ceiling ({generation['theory']:,.0f} tok/s).")
    for line in theory.get("explanations", []):
        if not line.startswith("generation"):
            out.append(line[0].upper() + line[1:] + ("" if line.endswith(".") else "."))

    # HTTP errors.
    http = details.get("http_requests_by_status") or {}
    total = sum(http.values())
    server_errors = sum(n for status, n in http.items() if status.startswith("5"))
    if server_errors:
        out.append(f"{server_errors:,} of {total:,} HTTP requests ({server_errors / total:.1%}) failed with a 5xx status.")

    lines = details.get("lines") or {}
    if not out and not (lines.get("matched") or lines.get("error")):
        out.append("No vLLM log lines in the input: nothing to say about it.")
    elif not out:
        out.append("Nothing unusual: no failures, preemptions or KV cache saturation in the log.")
    return out
