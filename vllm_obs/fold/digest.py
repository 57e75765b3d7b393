"""A start's stats lines in constant memory: what `analyze --format table` shows of them.

`analyze --format json` lists every stats line, so its memory grows with the log. The table
needs only a few figures of them: how many, the first and last (the time span), the best decode
rate per running request (the theory join), the time the KV cache stayed saturated and the first
preemption (the findings). `StatsDigest` stands where the fold keeps its list of rows (it takes
`append` and the amendment of the last row that V0's separate prefix-cache line makes) and keeps
just those; `summary.summarize` writes them as a start's `stats_digest`, and
`archive/statsview.py` reads either form, so the table is the same (tests/test_digest.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vllm_obs.fold.facts import ROW_FIELDS, STATS_KEYS
from vllm_obs.ingest.timestamps import parse_time

# The findings' rules, defined here once (archive/findings.py applies them to the full list).
SATURATION_PCT = 95.0  # KV cache usage at or above this is "saturated"
MAX_INTERVAL_SECONDS = 60.0  # a longer gap between stats lines is idle time, not saturation



def saturated_interval_seconds(kv_usage_pct: float | None, time: str | None, next_time: str | None, threshold_pct: float = SATURATION_PCT) -> float:
    """The saturated time one stats line stands for: the gap to the next line (at most
    MAX_INTERVAL_SECONDS) when its KV cache usage is at or above the threshold, else 0."""
    if (kv_usage_pct or 0) < threshold_pct:
        return 0.0
    a, b = parse_time(time), parse_time(next_time)
    return min((b - a).total_seconds(), MAX_INTERVAL_SECONDS) if a and b and b > a else 0.0


def decode_rate_per_request(generation_tps: float, running: int) -> float:
    """The decode rate per running request, the figure the theory join compares."""
    return generation_tps / max(running, 1)


_KV = STATS_KEYS.index("gpu_kv_usage_pct")
_GENERATION = STATS_KEYS.index("generation_tps")
_RUNNING = STATS_KEYS.index("running")
_PREEMPTIONS = ROW_FIELDS.index("preemptions")


def best_rate_row(rows: Iterable[tuple[Any, ...]]) -> tuple[Any, ...] | None:
    """The row with the best decode rate per running request (the first of equals), as the
    digest keeps it: the list view's answer without building an entry per row."""
    candidates = (row for row in rows if row[_GENERATION] and row[_RUNNING])
    return max(candidates, key=lambda row: decode_rate_per_request(row[_GENERATION], row[_RUNNING]), default=None)


class StatsDigest:
    """Rows in, figures out. The newest row stays amendable (`digest[-1] = row`) until the next
    one arrives; `close` takes it in."""

    def __init__(self) -> None:
        self.count = 0
        self.first: tuple[Any, ...] | None = None
        self.last: tuple[Any, ...] | None = None
        self.best: tuple[Any, ...] | None = None  # the highest generation_tps / running
        self._best_rate = 0.0
        self.saturated_seconds = 0.0
        self.first_preemption_time: str | None = None
        self._pending: tuple[Any, ...] | None = None
        self._previous: tuple[Any, ...] | None = None

    def append(self, row: tuple[Any, ...]) -> None:
        if self._pending is not None:
            self._take(self._pending)
        self._pending = row
        self.count += 1

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        if index != -1 or self._pending is None:
            raise IndexError("a digest keeps only its newest row")
        return self._pending

    def __setitem__(self, index: int, row: tuple[Any, ...]) -> None:
        if index != -1 or self._pending is None:
            raise IndexError("a digest keeps only its newest row")
        self._pending = row

    def close(self) -> None:
        """Take in the newest row (at the end of the input; idempotent)."""
        if self._pending is not None:
            self._take(self._pending)
            self._pending = None

    def _take(self, row: tuple[Any, ...]) -> None:
        if self.first is None:
            self.first = row
        self.last = row
        generation, running = row[_GENERATION], row[_RUNNING]
        if generation and running:
            rate = decode_rate_per_request(generation, running)
            if self.best is None or rate > self._best_rate:  # the first of equals, as max() picks
                self.best, self._best_rate = row, rate
        previous = self._previous
        if previous is not None:
            self.saturated_seconds += saturated_interval_seconds(previous[_KV], previous[-1], row[-1])
        if row[_PREEMPTIONS] and not self.first_preemption_time:
            self.first_preemption_time = row[-1]
        self._previous = row
