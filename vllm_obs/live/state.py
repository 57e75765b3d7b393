"""The sidecar's state: one fold per followed source, plus what the sources say of themselves.

One writer (the pipeline thread) calls `apply`, `add_http_counts`, `add_line_counts`,
`set_up`...; scrapes call `snapshot`, which copies plain data under the lock. The state has
no rules of its own about records: engine starts, preemptions, failures and clean stops are the
fold's (fold/fold.py); which metric shows what is the catalog's (metrics/catalog.py). It only
adds time: stats older than `stats_ttl_seconds` are left out of scrapes (vLLM stops printing
its stats line when idle: "no line" means idle, not "last value forever").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vllm_obs.fold.fold import Fold
from vllm_obs.parse.records import LineContext, Record

log = logging.getLogger(__name__)

# A theory provider turns the current start's facts (the analyze summary's keys) into theory
# values (theory/join.py keys) plus a decode ceiling for a running batch size.
TheoryProvider = Callable[[dict[str, Any]], "TheoryValues | None"]


@dataclass
class TheoryValues:
    values: dict[str, float]
    # (running, KV usage ratio, observed generation and prompt tok/s): the ceiling for the running
    # count the interval must have had; with an `estimate` method of the same arguments
    # (live/theory_provider.py DecodeTheory).
    decode_tokens_per_second: Callable[..., float] | None = None


@dataclass
class SourceState:
    name: str
    fold: Fold
    up: bool = True
    down_reason: str | None = None  # the bounded label: missing, unreadable, vanished, ...
    down_detail: str = ""  # the whole reason, for logs and tests
    reconnects: int = 0
    lines: dict[str, int] = field(default_factory=lambda: {"matched": 0, "unmatched": 0, "error": 0})
    last_line_at: float | None = None  # wall clock
    theory: TheoryValues | None = None
    theory_inputs: dict[str, Any] | None = None


@dataclass(frozen=True)
class SourceSnapshot:
    """Plain data for one scrape of one source."""

    name: str
    model: str
    up: bool
    down_reason: str | None
    down_detail: str
    reconnects: int
    lines: dict[str, int]
    last_line_at: float | None
    engine_starts: int
    engine_state: str | None  # None before the first engine line
    facts: dict[str, Any]  # the current start's facts (a disputed DP figure left out)
    facts_by_engine: dict[str, dict[str, Any]]  # data-parallel engines' own KV facts
    stats: dict[str, dict[str, float]]  # engine label -> latest stats fields (fresh only)
    engines: tuple[str, ...]  # engine labels known (counters at 0 for each)
    stats_lines: dict[str, int]
    preemptions: dict[str, int]
    errors: dict[tuple[str, str], int]
    http: dict[tuple[str, str, int], int]
    theory: dict[str, float]
    decode_ceilings: dict[str, float]  # engine label -> ceiling for its running batch
    decode_estimates: dict[str, float]  # engine label -> estimate for its running count


class State:
    def __init__(
        self,
        stats_ttl_seconds: float = 60.0,
        theory_provider: TheoryProvider | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.stats_ttl_seconds = stats_ttl_seconds
        self.theory_provider = theory_provider
        self._monotonic = monotonic
        self._wall = wall
        self._lock = threading.Lock()
        self._sources: dict[str, SourceState] = {}
        self.pipeline_errors = 0
        self.series_dropped_forgotten = 0  # series dropped with sources that vanished for good

    # -- writer side ------------------------------------------------------------------------------

    def _source(self, name: str) -> SourceState:
        source = self._sources.get(name)
        if source is None:
            source = self._sources[name] = SourceState(name, Fold(keep_history=False, clock=self._monotonic))
        return source

    def add_source(self, name: str) -> None:
        """A configured source, known before its first line (its counters start at 0)."""
        with self._lock:
            self._source(name)

    def apply(self, source_name: str, context: LineContext, record: Record) -> None:
        with self._lock:
            source = self._source(source_name)
            source.fold.add(context, record)
            self._update_theory(source)

    def _update_theory(self, source: SourceState) -> None:
        if self.theory_provider is None:
            return
        inputs = source.fold.current_theory_inputs()
        if inputs == source.theory_inputs:
            return
        source.theory_inputs = inputs
        try:
            source.theory = self.theory_provider(inputs)
        except Exception:  # noqa: BLE001 - theory is best effort; observed metrics must go on
            log.warning("theory for %s could not be computed from %s", source.name, sorted(inputs), exc_info=True)
            source.theory = None

    def add_http_counts(self, source_name: str, counts: dict[tuple[str, str, int], int]) -> None:
        with self._lock:
            self._source(source_name).fold.add_http_counts(counts)

    def add_line_counts(self, source_name: str, delta: dict[str, int]) -> None:
        with self._lock:
            source = self._source(source_name)
            for result, n in delta.items():
                source.lines[result] = source.lines.get(result, 0) + n
            if any(delta.values()):
                source.last_line_at = self._wall()

    def set_up(self, source_name: str, up: bool, reason: str = "") -> None:
        """`reason` says why a source is down ("missing: ...", "unreadable: ...", "vanished: ...");
        its first word becomes the bounded `reason` label, the whole text goes to the logs."""
        with self._lock:
            source = self._source(source_name)
            source.up = up
            source.down_reason = None if up else (reason.split(":", 1)[0].strip().replace(" ", "_") or "unreachable")
            source.down_detail = "" if up else reason

    def reconnected(self, source_name: str) -> None:
        with self._lock:
            self._source(source_name).reconnects += 1

    def engine_restarted(self, source_name: str) -> None:
        """The container restarted (Docker `start` event): its next lines are a new engine start."""
        with self._lock:
            source = self._source(source_name)
            source.fold.restart()
            source.theory = source.theory_inputs = None

    def forget(self, source_name: str) -> None:
        """A source that vanished for good: its series go."""
        with self._lock:
            source = self._sources.pop(source_name, None)
            if source is not None:
                self.series_dropped_forgotten += 1 + source.fold.totals.engine_labels_capped

    def series_dropped(self) -> int:
        """Series never exported or no longer exported: engine labels beyond the cap, and sources
        forgotten after they vanished (counted once each)."""
        with self._lock:
            return self.series_dropped_forgotten + sum(s.fold.totals.engine_labels_capped for s in self._sources.values())

    def pipeline_failed(self) -> None:
        with self._lock:
            self.pipeline_errors += 1

    # -- reader side --------------------------------------------------------------------------------

    def snapshot(self) -> list[SourceSnapshot]:
        now = self._monotonic()
        out = []
        with self._lock:
            for source in self._sources.values():
                fold = source.fold
                start = fold.current
                # With the fallbacks theory uses too (the GPU total from V1's device memory report).
                facts = fold.current_theory_inputs()
                stats = {
                    engine: dict(live.values)
                    for engine, live in fold.latest_stats.items()
                    if now - live.at <= self.stats_ttl_seconds  # else idle: vLLM stopped printing stats
                }
                ceilings: dict[str, float] = {}
                estimates: dict[str, float] = {}
                decode = source.theory.decode_tokens_per_second if source.theory is not None else None
                if decode is not None:
                    estimate = getattr(decode, "estimate", None)
                    for engine, values in stats.items():
                        running = values.get("running")
                        if running:  # a ceiling for the batch that ran in the interval
                            usage = values.get("gpu_kv_usage_pct")
                            args = (int(running), usage * 0.01 if usage is not None else None,
                                    values.get("generation_tps"), values.get("prompt_tps"))
                            ceilings[engine] = decode(*args)
                            if estimate is not None:
                                estimates[engine] = estimate(*args)
                name = facts.get("served_model_name") or facts.get("model") or ""
                model = name[0] if isinstance(name, list) and name else str(name or "")
                has_engine = bool(facts or start.errors or start.stats_rows or fold.totals.stats_lines or start.stop_reason
                                  or start.failed or start.serving)
                totals = fold.totals
                out.append(
                    SourceSnapshot(
                        name=source.name,
                        model=model,
                        up=source.up,
                        down_reason=source.down_reason,
                        down_detail=source.down_detail,
                        reconnects=source.reconnects,
                        lines=dict(source.lines),
                        last_line_at=source.last_line_at,
                        engine_starts=totals.engine_starts,
                        engine_state=start.state if has_engine else None,
                        facts=facts,
                        facts_by_engine={str(k): dict(v) for k, v in start.by_engine.items()},
                        stats=stats,
                        engines=tuple(sorted(set(fold.engines) | set(totals.stats_lines) | set(totals.preemptions)
                                             | {engine for engine, _kind in totals.errors} | {"0"})),
                        stats_lines=dict(totals.stats_lines),
                        preemptions=dict(totals.preemptions),
                        errors=dict(totals.errors),
                        http=dict(totals.http),
                        theory=dict(source.theory.values) if source.theory is not None else {},
                        decode_ceilings=ceilings,
                        decode_estimates=estimates,
                    )
                )
        return out
