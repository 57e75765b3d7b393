"""Archived logs as the sidecar would have exposed them: OpenMetrics with the log's timestamps.

The archive is replayed through the sidecar's own State and collector, with their clocks
driven by log time, and "scraped" every `interval_seconds` of log time and right after each stats
line (so every stats line is kept at its own time, whatever the interval). An exported series is
what Prometheus would have stored had the sidecar been running: stats gauges vanish
after the TTL when vLLM went idle, counters only grow, theory gauges are there when the model
and GPU are known.

Samples are spooled per family (metrics/openmetrics.py): memory does not grow with the archive.
Backfill: `promtool tsdb create-blocks-from openmetrics out.om DATA_DIR` (docs/backfill.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from datetime import timezone, tzinfo
from typing import IO, Any

from vllm_obs.ingest.discovery import rotation_key
from vllm_obs.ingest.timestamps import Timeline
from vllm_obs.live.state import State, TheoryProvider
from vllm_obs.metrics.collector import iter_samples
from vllm_obs.metrics.openmetrics import FamilySpool
from vllm_obs.parse.driver import read_paths
from vllm_obs.parse.records import LineContext, Record, Stats


class LogClock:
    """Log time, only moving forward."""

    def __init__(self) -> None:
        self.now: float | None = None

    def __call__(self) -> float:
        return self.now if self.now is not None else 0.0

    def advance(self, seconds: float | None) -> None:
        if seconds is not None and (self.now is None or seconds > self.now):
            self.now = seconds


def export_openmetrics(
    paths: Iterable[str],
    out: IO[str],
    interval_seconds: float = 15.0,
    stats_ttl_seconds: float = 60.0,
    year: int | None = None,
    tz: tzinfo = timezone.utc,
    theory_provider: TheoryProvider | None = None,
    progress: Any = None,
) -> tuple[dict[str, Any], list[str]]:
    """Write OpenMetrics to `out`; returns ({samples, scrapes, first, last, lines}, input problems);
    `lines` counts the lines read by result (matched, unmatched, error)."""
    clock = LogClock()
    state = State(stats_ttl_seconds=stats_ttl_seconds, theory_provider=theory_provider, monotonic=clock, wall=clock)
    spool = FamilySpool()
    next_scrape: float | None = None
    last_scrape: float | None = None
    pending_stats: float | None = None  # a stats line's time, scraped once its timestamp is complete
    scrapes = 0
    first: float | None = None
    last: float | None = None
    problems: list[str] = []
    lines: dict[str, int] = {}
    # State changed since the last scrape (a batch's line counts arrive after its records, so a
    # scrape due inside the last batch can miss them).
    dirty = False

    def scrape_at(moment: float) -> None:
        nonlocal last_scrape, scrapes, dirty
        if last_scrape is not None and moment <= last_scrape:
            return  # one sample per series and timestamp
        dirty = False
        saved = clock.now
        clock.now = moment  # staleness is judged at the scrape's time
        stamp = f" {moment:.3f}\n"
        for name, labels, value in iter_samples(state):
            spool.write(name, labels, value, stamp)
        clock.now = saved
        last_scrape = moment
        scrapes += 1

    def scrape_until(now: float) -> None:
        """Scrapes due before `now`: a pending stats time, and the interval boundaries."""
        nonlocal next_scrape, pending_stats
        if pending_stats is not None and pending_stats < now:
            scrape_at(pending_stats)
            pending_stats = None
        if next_scrape is None:
            next_scrape = math.floor(now / interval_seconds) * interval_seconds + interval_seconds
        while next_scrape <= now:
            # A boundary scrape only fills a gap: none when a stats line was scraped recently.
            if last_scrape is None or next_scrape - last_scrape >= interval_seconds:
                scrape_at(next_scrape)
            next_scrape += interval_seconds

    class Sink:
        """One input's records into the state, scraped as log time passes."""

        def __init__(self, path: str) -> None:
            # One source per log, across its rotations (vllm.log.2.gz, vllm.log.1, vllm.log).
            self.source = os.path.basename(rotation_key(path).base) if path != "-" else "stdin"
            self.timeline = Timeline(year, tz, path)

        def record(self, context: LineContext, record: Record) -> None:
            nonlocal first, last, pending_stats
            seconds = self.timeline.resolve(context)
            if seconds is not None:
                if first is None:
                    first = seconds
                scrape_until(seconds)  # everything before this line is in the scrapes up to now
                clock.advance(seconds)
                last = clock.now
            state.apply(self.source, context, record)
            if isinstance(record, Stats) and seconds is not None:
                # Scraped when a later line arrives: every stats line is kept at its own time.
                pending_stats = clock.now

        def access_counts(self, counts: dict[tuple[str, str, int], int]) -> None:
            state.add_http_counts(self.source, counts)  # at the time of the last dated line

        def line_counts(self, delta: dict[str, int]) -> None:
            nonlocal dirty
            state.add_line_counts(self.source, delta)
            for key, count in delta.items():
                lines[key] = lines.get(key, 0) + count
            dirty = True

    try:
        problems = read_paths(paths, Sink, progress)
        if clock.now is not None:
            scrape_until(clock.now + interval_seconds)  # the last state, up to one interval after the last line
            if dirty and last_scrape is not None:
                scrape_at(max(clock.now, last_scrape) + interval_seconds)
        if first is not None:  # nothing dated: no file that looks like an (empty) backfill
            spool.finish(out)
    finally:
        spool.close()
    return {"samples": spool.samples, "scrapes": scrapes, "first": first, "last": last, "lines": lines}, problems
