"""Archived logs as the sidecar would have exposed them: OpenMetrics with the log's timestamps.

The archive is replayed through the sidecar's own State and collector, with their clocks
driven by log time, and "scraped" every `interval_seconds` of log time and right after each stats
line (so every stats line is kept at its own time, whatever the interval). An exported series is
what Prometheus would have stored had the sidecar been running: stats gauges vanish
after the TTL when vLLM went idle, counters only grow, theory gauges are there when the model
and GPU are known.

OpenMetrics requires each family's samples together, so samples are spooled to one temporary
file per family and concatenated at the end: memory does not grow with the archive.
Backfill: `promtool tsdb create-blocks-from openmetrics out.om DATA_DIR` (docs/backfill.md).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from datetime import timezone

from vllm_obs.metrics.catalog import BY_NAME
from vllm_obs.metrics.collector import iter_samples
from vllm_obs.ingest.discovery import rotation_key
from vllm_obs.parse.parser import LineParser
from vllm_obs.ingest.reader import InputError, iter_line_batches
from vllm_obs.parse.records import Stats
from vllm_obs.live.state import State
from vllm_obs.ingest.timestamps import Timeline


class LogClock:
    """Log time, only moving forward."""

    def __init__(self) -> None:
        self.now: float | None = None

    def __call__(self) -> float:
        return self.now if self.now is not None else 0.0

    def advance(self, seconds: float | None) -> None:
        if seconds is not None and (self.now is None or seconds > self.now):
            self.now = seconds


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    value = float(value)
    if value - value != 0.0:  # inf or nan
        return "NaN" if value != value else ("+Inf" if value > 0 else "-Inf")
    return repr(value)


class FamilySpool:
    """One temporary file of samples per metric family; concatenated at the end."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="vllm-obs-export-")
        self.families: dict[str, tuple[str, str, object]] = {}  # name -> (type, help, file)
        self.samples = 0
        # (catalog name, labels...) -> (family file, 'name{labels} '): formatted once per series.
        self._series: dict[tuple, tuple] = {}

    def write(self, name: str, labels: dict[str, str], value: float, timestamp: str) -> None:
        """One sample: `name` is the catalog name (counters end in _total, info in _info)."""
        key = (name, *labels.items())
        entry = self._series.get(key)
        if entry is None:
            spec = BY_NAME[name]
            family = name.removesuffix("_total") if spec.type == "counter" else name.removesuffix("_info") if spec.type == "info" else name
            handle = self.families.get(family)
            if handle is None:
                handle = open(os.path.join(self.dir, f"{len(self.families)}.om"), "w")  # noqa: SIM115
                self.families[family] = (spec.type, spec.help, handle)
            else:
                handle = handle[2]
            sample = name if spec.type != "info" or name.endswith("_info") else name + "_info"
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            entry = self._series[key] = (handle, f"{sample}{{{text}}} " if text else f"{sample} ")
        entry[0].write(entry[1] + _format_value(value) + timestamp)
        self.samples += 1

    def finish(self, out) -> None:
        for name, (kind, help_text, handle) in self.families.items():
            handle.close()
            out.write(f"# TYPE {name} {kind}\n# HELP {name} {_escape(help_text)}\n")
            with open(handle.name) as f:
                shutil.copyfileobj(f, out)
        out.write("# EOF\n")

    def close(self) -> None:
        for _kind, _help, handle in self.families.values():
            if not handle.closed:
                handle.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def export_openmetrics(
    paths: Iterable[str],
    out,
    interval_seconds: float = 15.0,
    stats_ttl_seconds: float = 60.0,
    year: int | None = None,
    tz=timezone.utc,
    theory_provider=None,
    progress=None,
) -> tuple[dict, list[str]]:
    """Write OpenMetrics to `out`; returns ({samples, scrapes, first, last}, input problems)."""
    clock = LogClock()
    state = State(stats_ttl_seconds=stats_ttl_seconds, theory_provider=theory_provider, monotonic=clock, wall=clock)
    spool = FamilySpool()
    next_scrape: float | None = None
    last_scrape: float | None = None
    pending_stats: float | None = None  # a stats line's time, scraped once its timestamp is complete
    scrapes = 0
    first = last = None
    problems: list[str] = []
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

    try:
        for path in paths:
            # One source per log, across its rotations (vllm.log.2.gz, vllm.log.1, vllm.log).
            source = os.path.basename(rotation_key(path).base) if path != "-" else "stdin"
            timeline = Timeline(year, tz, path)
            parser = LineParser(source=path)
            counted = dict(parser.counts)

            def on_record(context, record, timeline=timeline, source=source):
                nonlocal first, last, pending_stats
                seconds = timeline.resolve(context)
                if seconds is not None:
                    if first is None:
                        first = seconds
                    scrape_until(seconds)  # everything before this line is in the scrapes up to now
                    clock.advance(seconds)
                    last = clock.now
                state.apply(source, context, record)
                if type(record) is Stats and seconds is not None:
                    # Scraped when a later line arrives: every stats line is kept at its own time.
                    pending_stats = clock.now

            def on_access(counts, source=source):
                state.add_http_counts(source, counts)  # at the time of the last dated line

            on_progress = progress.file(path) if progress is not None else None
            try:
                batches = iter_line_batches(path, on_progress=on_progress)
                for batch in batches:
                    parser.scan(batch, on_record, on_access)
                    state.add_line_counts(source, {k: parser.counts[k] - counted.get(k, 0) for k in parser.counts})
                    counted = dict(parser.counts)
                    dirty = True
            except InputError as exc:
                problems.append(str(exc))
            for context, record in parser.flush():
                on_record(context, record)
        if clock.now is not None:
            scrape_until(clock.now + interval_seconds)  # the last state, up to one interval after the last line
            if dirty and last_scrape is not None:
                scrape_at(max(clock.now, last_scrape) + interval_seconds)
        spool.finish(out)
    finally:
        spool.close()
    return {"samples": spool.samples, "scrapes": scrapes, "first": first, "last": last}, problems
