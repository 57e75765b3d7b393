"""The `vllm-obs analyze --format json` summary: the fold's engine starts as the JSON contract.

The contract (samples/real-logs/README.md and LABELS.md): top-level scalars hold only values
vLLM printed (absent otherwise), and they come from ONE engine start, the last one (what is
running now), never a mix of starts. `stats` lists every periodic stats line of the whole log in
order; `errors` every start's failures in order (both always present, empty when there are
none). Facts the contract has no name for live under `details`; `starts` summarises each engine
start on its own: its facts, stats, errors, peaks and how it ended (`stopped_at`, `stop_reason`,
`state`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from vllm_obs.fold.facts import (
    EXTRA_STATS_KEYS,
    PEAKS,
    ROW_AGGREGATED,
    ROW_ENGINE,
    STATS_KEYS,
    EngineStart,
)
from vllm_obs.fold.digest import StatsDigest, best_rate_row
from vllm_obs.fold.fold import Fold
from vllm_obs.fold.jsonstream import LazyList

# Top-level keys in the order they are written.
CONTRACT_KEYS = (
    "vllm_version",
    "engine",
    "model",
    "served_model_name",
    "dtype",
    "quantization",
    "kv_cache_dtype",
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "data_parallel_size",
    "max_model_len",
    "gpu_memory_utilization",
    "total_gpu_memory_gib",
    "model_weights_gib",
    "weights_unit_printed",
    "model_load_seconds",
    "non_torch_memory_gib",
    "activation_peak_gib",
    "kv_cache_memory_gib",
    "gpu_blocks",
    "cpu_blocks",
    "kv_cache_tokens",
    "max_concurrency",
    "max_concurrency_tokens_per_request",
    "cuda_graph_seconds",
    "cuda_graph_gib",
)


def summarize(fold: Fold, lazy: bool = False) -> dict[str, Any]:
    """The JSON-ready summary. With `lazy`, the stats lists are LazyLists that build their
    entries as they are written (jsonstream.write_json), so a huge archive is never held twice."""
    starts = [s for s in fold.starts if not s.is_empty()]
    last = starts[-1] if starts else None
    out: dict[str, Any] = {}
    if last is not None:
        facts = last.resolved_facts()
        for key in CONTRACT_KEYS:
            if key in facts:
                out[key] = facts[key]

    def entries() -> Iterator[dict[str, Any]]:
        return (_contract_entry(row) for start in starts for row in _rows(start))

    digests = [s.stats_rows for s in starts if isinstance(s.stats_rows, StatsDigest)]
    if digests:  # Fold(stats_rows=False): no list, each start's digest
        out["stats"] = []
        out["stats_lines"] = sum(d.count for d in digests)
    else:
        out["stats"] = LazyList(entries) if lazy else list(entries())
    out["errors"] = [error for start in starts for error in start.errors]
    details: dict[str, Any] = dict(last.all_details()) if last is not None else {}
    if last is not None and last.stop_reason is not None:  # how what ran last ended
        details["stopped_at"] = last.stopped_at
        details["stop_reason"] = last.stop_reason
    for key, _index in PEAKS:  # peaks of the whole log
        values = [s.peaks[key] for s in starts if key in s.peaks]
        if values:
            details[key] = max(values)
        else:
            details.pop(key, None)
    details["preemptions_total"] = sum(s.preemptions for s in starts)
    details["http_requests_by_status"] = _merge_counts(s.http_by_status for s in starts)
    details["unknown_stats_parts"] = _merge_counts(s.unknown_stats_parts for s in starts)
    details["engine_starts"] = len(starts)
    details["lines"] = dict(fold.lines)
    out["details"] = details
    out["starts"] = [_start_summary(s, lazy) for s in starts]
    return out


def _rows(start: EngineStart) -> list[tuple[Any, ...]]:
    rows = start.stats_rows
    if isinstance(rows, StatsDigest):
        raise TypeError("a digest has no rows")  # summarize writes a digest instead of the list
    return rows


def _merge_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            merged[k] = merged.get(k, 0) + v
    return dict(sorted(merged.items()))


def _contract_entry(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stats row as the contract's entry: the labelled keys that vLLM printed."""
    entry = {key: row[i] for i, key in enumerate(STATS_KEYS) if row[i] is not None}
    if row[ROW_ENGINE] is not None:
        entry["engine"] = row[ROW_ENGINE]
    elif row[ROW_AGGREGATED] is not None:  # "N Engines Aggregated:": all engines, not engine 0
        entry["engines_aggregated"] = row[ROW_AGGREGATED]
    return entry


def _start_entry(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stats row in a start's summary: the contract's keys, the parts the contract has no key
    for, and the time."""
    entry = _contract_entry(row)
    for i, key in enumerate(EXTRA_STATS_KEYS, start=ROW_ENGINE + 1):
        if row[i] is not None and key not in entry:
            entry[key] = row[i]
    if row[-1]:
        entry["time"] = row[-1]
    return entry


class StartStats(LazyList):
    """A start's stats entries, built as they are written; its best decode rate is found on the
    rows (statsview.best_rate), without building every entry once more for it."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        super().__init__(lambda: map(_start_entry, rows))
        self._rows = rows

    def best_rate(self) -> dict[str, Any] | None:
        best = best_rate_row(self._rows)
        return _start_entry(best) if best is not None else None


def _start_summary(start: EngineStart, lazy: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"index": start.index, "started_at": start.started_at}
    if start.stop_reason is not None:
        out["stopped_at"] = start.stopped_at
        out["stop_reason"] = start.stop_reason
    out["state"] = start.state
    facts = start.resolved_facts()
    for key in CONTRACT_KEYS:
        if key in facts:
            out[key] = facts[key]

    digest = start.stats_rows
    if isinstance(digest, StatsDigest):
        digest.close()
        out["stats"] = []
        out["stats_digest"] = {
            "lines": digest.count,
            "first": _start_entry(digest.first) if digest.first else None,
            "last": _start_entry(digest.last) if digest.last else None,
            "best_rate": _start_entry(digest.best) if digest.best else None,
            "kv_saturated_seconds": digest.saturated_seconds,
            "first_preemption_time": digest.first_preemption_time,
        }
    else:
        rows = _rows(start)
        out["stats"] = StartStats(rows) if lazy else [_start_entry(row) for row in rows]
    out["errors"] = [dict(error, time=time) if time else dict(error) for error, time in zip(start.errors, start.error_times)]
    details = start.all_details()
    details["preemptions_total"] = start.preemptions
    details["http_requests_by_status"] = dict(sorted(start.http_by_status.items()))
    out["details"] = details
    return out
