"""The one input driver: paths (or live batches) in; records, access counts, line counts out.

`parse`, `analyze`, `report`, `export` read their inputs with `read_paths`; the sidecar's
pipeline hands each live batch to `feed_lines`. A sink receives, in log order, every record
(`record`), the HTTP access lines counted by (method, path, status) between records
(`access_counts`), and after each batch the lines read by result (`line_counts`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from vllm_obs.ingest.reader import InputError, iter_line_batches
from vllm_obs.parse.bulk import Classified, joined, scan_bulk, worth_bulk
from vllm_obs.parse.parser import LineParser
from vllm_obs.parse.records import LineContext, Record

if TYPE_CHECKING:
    from vllm_obs.parse.parallel import ClassifyAhead

ProgressCallback = Callable[[int, int], None]  # (bytes read in the file, lines read in it)
# Count access lines in C (parse/bulk.py) when the lines carry envelope timestamps; the same
# results as `LineParser.scan` alone, which tests/test_bulk.py checks by turning this off.
USE_BULK = True


class RecordSink(Protocol):
    """A sink may also say `access_counts_per_batch = True`: it needs the access counts handed
    over before every record but a stats record, and at the end of each batch, not before each
    stats record too (the fold: a stats line reads no HTTP count and never begins a start).
    Without it (the export, which stamps counters with the time of the last dated line) the
    counts come before every record."""

    def record(self, context: LineContext, record: Record) -> None: ...

    def access_counts(self, counts: dict[tuple[str, str, int], int]) -> None: ...

    def line_counts(self, delta: dict[str, int]) -> None: ...


def feed_lines(
    parser: LineParser, lines: list[str], sink: RecordSink, every_record: bool = False, classified: Classified | None = None,
) -> None:
    """Parse one batch. `every_record` hands access lines over as records too (`parse`); else
    they are counted (the fast path of analyze, export and the sidecar). `classified`: the bulk
    path's C pass over the batch, done already (parallel.ClassifyAhead)."""
    before = dict(parser.counts)
    per_batch = getattr(sink, "access_counts_per_batch", False)
    if every_record:
        record = sink.record
        for line in lines:
            for context, parsed in parser.feed(line):
                record(context, parsed)
    elif classified is not None or (USE_BULK and worth_bulk(lines)):
        scan_bulk(parser, lines, sink.record, sink.access_counts, per_batch, classified)
    else:
        parser.scan(lines, sink.record, sink.access_counts, per_batch)
    counts = parser.counts
    sink.line_counts({k: counts[k] - before.get(k, 0) for k in counts})


def read_paths(
    paths: Iterable[str],
    open_sink: Callable[[str], RecordSink],
    progress: Any = None,
    every_record: bool = False,
    jobs: int = 1,
) -> list[str]:
    """Read each path in order into the sink `open_sink(path)` gives; returns one-line problems
    (unreadable inputs, damaged .gz after what could be read). `progress` (cli/progress.py) is
    told about every batch. `jobs` > 1 parses several files in worker processes, the sinks
    still fed file after file in order (parse/parallel.py)."""
    paths = list(paths)
    if jobs > 1 and len(paths) > 1 and "-" not in paths:
        from vllm_obs.parse.parallel import read_paths_parallel

        return read_paths_parallel(paths, open_sink, progress, every_record, jobs)
    problems: list[str] = []
    ahead = None
    if jobs > 1 and not every_record and USE_BULK and _worth_a_process(paths):
        from vllm_obs.parse.parallel import ClassifyAhead

        try:
            ahead = ClassifyAhead()
        except OSError:  # no process to be had: this one does the pass
            ahead = None
    try:
        for path in paths:
            sink = open_sink(path)
            parser = LineParser(source=path)
            on_progress = progress.file(path) if progress is not None else None
            try:
                if ahead is None:
                    for batch in iter_line_batches(path, on_progress=on_progress):
                        feed_lines(parser, batch, sink, every_record)
                else:
                    _read_ahead(path, parser, sink, ahead, on_progress)
            except InputError as exc:
                problems.append(str(exc))
            before = dict(parser.counts)
            for context, record in parser.flush():  # a partial line still waiting for its end
                sink.record(context, record)
            sink.line_counts({k: parser.counts[k] - before.get(k, 0) for k in parser.counts})
    finally:
        if ahead is not None:
            ahead.close()
    return problems


# Below this much input the pass ahead's worker costs more to start than it saves.
AHEAD_MIN_BYTES = 16 << 20


def _worth_a_process(paths: list[str]) -> bool:
    total = 0
    for path in paths:
        if path == "-":
            return True  # a pipe: its size is unknown
        try:
            total += os.path.getsize(path)
        except OSError:
            continue
    return total >= AHEAD_MIN_BYTES


def _read_ahead(path: str, parser: LineParser, sink: RecordSink, ahead: ClassifyAhead, on_progress: Any) -> None:
    """Read one file with the C pass of the next batches running in the worker meanwhile."""
    queue: deque[tuple[list[str], Any]] = deque()

    def feed_oldest() -> None:
        batch, job = queue.popleft()
        feed_lines(parser, batch, sink, classified=ahead.result(job) if job is not None else None)

    try:
        for batch in iter_line_batches(path, on_progress=on_progress):
            # Every envelope: with the pass done elsewhere, it beats scan's shape runs on plain
            # lines too (bench_busy.py).
            text = joined(batch)
            queue.append((batch, ahead.submit(text) if text is not None else None))
            if len(queue) > ahead.DEPTH:
                feed_oldest()
    except InputError:  # the batches read before a damaged .gz's error count all the same
        while queue:
            feed_oldest()
        raise
    while queue:
        feed_oldest()
