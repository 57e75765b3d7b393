"""A summary's stats lines as the table, the findings and the theory join read them: from the
full `stats` lists (`analyze --format json`, `report`) or from each start's `stats_digest`
(`analyze --format table`, fold/digest.py), with the same answers."""

from __future__ import annotations

from typing import Any

from vllm_obs.fold.digest import SATURATION_PCT, decode_rate_per_request, saturated_interval_seconds
from vllm_obs.fold.summary import StartStats


def line_count(part: dict[str, Any]) -> int:
    """Stats lines of the whole summary or of one start."""
    digest = part.get("stats_digest")
    if digest is not None:
        return int(digest["lines"])
    if "stats_lines" in part:
        return int(part["stats_lines"])
    return len(part.get("stats") or [])


def edges(start: dict[str, Any]) -> list[dict[str, Any]]:
    """A start's first and last stats entries (none, or the same one twice)."""
    digest = start.get("stats_digest")
    if digest is not None:
        return [digest["first"], digest["last"]] if digest["first"] else []
    stats = start.get("stats") or []
    return [stats[0], stats[-1]] if stats else []


def best_rate(start: dict[str, Any]) -> dict[str, Any] | None:
    """The entry with the best decode rate per running request, the first of equals."""
    digest = start.get("stats_digest")
    if digest is not None:
        return digest["best_rate"]
    stats = start.get("stats") or ()
    if isinstance(stats, StartStats):  # analyze's streamed JSON: found on the fold's rows
        return stats.best_rate()
    # One streaming pass rather than holding every entry (archives have tens of thousands).
    candidates = (s for s in stats if s.get("generation_tps") and s.get("running"))
    return max(candidates, key=entry_rate, default=None)


def entry_rate(entry: dict[str, Any]) -> float:
    """A stats entry's decode rate per running request."""
    return decode_rate_per_request(entry["generation_tps"], entry["running"])


def saturated_seconds(stats: list[dict[str, Any]], threshold_pct: float = SATURATION_PCT) -> float:
    """Time the KV cache usage stayed at or above the threshold, from consecutive stats lines."""
    pairs = zip(stats, stats[1:])
    return sum((saturated_interval_seconds(a.get("gpu_kv_usage_pct"), a.get("time"), b.get("time"), threshold_pct) for a, b in pairs), 0.0)


def start_saturated_seconds(start: dict[str, Any]) -> float:
    digest = start.get("stats_digest")
    if digest is not None:
        return float(digest["kv_saturated_seconds"])
    return saturated_seconds(start.get("stats") or [])


def first_preemption_time(start: dict[str, Any]) -> str | None:
    digest = start.get("stats_digest")
    if digest is not None:
        return digest["first_preemption_time"]
    first = None
    for s in start.get("stats") or ():
        if s.get("preemptions"):
            first = first or s.get("time")
    return first


def peak_kv_usage_pct(summary: dict[str, Any]) -> float:
    """The highest KV cache usage of any stats line (0 without one)."""
    return summary.get("details", {}).get("peak_gpu_kv_usage_pct") or 0
