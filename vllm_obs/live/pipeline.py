"""Sources push raw lines into one bounded queue; one thread parses them and writes the state.

Sources run in their own threads (file follower, Docker streams, stdin) and block when the
queue is full, so nothing is dropped: a slow parser slows the readers down instead. The queue
is bounded in bytes of text (not in batches), so a backlog (a sidecar starting on a large log) costs
flat memory: a 1 MiB read and a 100-byte Docker chunk weigh what they hold. Each source has its
own `LineParser` (partial-line joins and access-line shapes are per stream).

An exception while folding a record (or handling a batch) is logged and counted (`errors`), and
the pipeline goes on with the next record: it never dies silently. `alive()` tells /healthz if the thread ended.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from vllm_obs.live.state import State
from vllm_obs.parse.driver import feed_lines
from vllm_obs.parse.parser import LineParser
from vllm_obs.parse.records import LineContext, Record

log = logging.getLogger(__name__)

# 16 MiB of queued lines (text and string objects) is a few 1 MiB reads ahead of the parser:
# enough to keep it busy, flat however long the backlog.
MAX_QUEUED_BYTES = 16 << 20


@dataclass(frozen=True)
class _Lines:
    source: str
    lines: list[str]
    weight_bytes: int  # the text, plus ~50 bytes of object overhead per line


@dataclass(frozen=True)
class _Restart:
    source: str


@dataclass(frozen=True)
class _Barrier:
    callback: Callable[[], None]


_STOP = object()


class Pipeline:
    def __init__(self, state: State, max_queued_bytes: int = MAX_QUEUED_BYTES) -> None:
        self.state = state
        self.max_queued_bytes = max_queued_bytes
        self.errors = 0  # records/batches whose folding raised (for vllm_obs_pipeline_errors_total)
        self.last_error: str | None = None
        self.failure: str | None = None  # why the thread ended, if it did
        self._items: collections.deque = collections.deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._parsers: dict[str, LineParser] = {}
        self._thread = threading.Thread(target=self._run, name="vllm-obs-pipeline", daemon=True)
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = False

    # -- called by sources (any thread) ---------------------------------------------------------

    def lines(self, source: str, lines: list[str]) -> None:
        if lines:
            # The newlines are not counted: a line is its text (and ~50 bytes of object overhead).
            self._put(_Lines(source, lines, sum(map(len, lines)) + 50 * len(lines)))

    def engine_restarted(self, source: str) -> None:
        """A container restarted: its next lines are a new engine start on a fresh parser."""
        self._put(_Restart(source))

    def barrier(self, callback: Callable[[], None]) -> None:
        """Call `callback` in the pipeline thread once everything queued before it is folded."""
        self._put(_Barrier(callback))

    def _put(self, item: object) -> None:
        weight = item.weight_bytes if isinstance(item, _Lines) else 0
        with self._cond:
            # A batch larger than the bound still goes in when the queue is empty.
            while self._queued_bytes and self._queued_bytes + weight > self.max_queued_bytes and self._thread.is_alive():
                self._cond.wait(1.0)
            self._idle.clear()
            self._items.append(item)
            self._queued_bytes += weight
            self._cond.notify_all()

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._items.append(_STOP)
            self._cond.notify_all()
        self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """For tests and shutdown: wait until every queued line has reached the state."""
        return self._idle.wait(timeout)

    def alive(self) -> tuple[bool, str]:
        if self._thread.is_alive() or self._stopping:
            return True, "ok"
        if self._thread.ident is None:
            return True, "ok"  # not started yet
        return False, f"pipeline thread died: {self.failure or 'unknown reason'}"

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._items:
                        self._cond.wait()
                    item = self._items.popleft()
                    if type(item) is _Lines:
                        self._queued_bytes -= item.weight_bytes
                    self._cond.notify_all()
                if item is _STOP:
                    self._stopping = True
                    break
                try:
                    self._handle(item)
                except Exception as exc:  # one bad batch must not end the view of every source
                    self._failed(exc, "a batch failed")
                with self._cond:
                    if not self._items:
                        self._idle.set()
        except BaseException as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("pipeline thread stopped")
            raise

    def _failed(self, exc: Exception, what: str) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.state.pipeline_failed()
        log.exception("pipeline: %s (%d errors so far); going on", what, self.errors)

    def _handle(self, item: object) -> None:
        kind = type(item)
        if kind is _Lines:
            self._parse(item.source, item.lines)  # type: ignore[attr-defined]
        elif kind is _Restart:
            self._parsers.pop(item.source, None)  # type: ignore[attr-defined]
            self.state.engine_restarted(item.source)  # type: ignore[attr-defined]
        elif kind is _Barrier:
            item.callback()  # type: ignore[attr-defined]

    def _parse(self, source: str, lines: list[str]) -> None:
        parser = self._parsers.get(source)
        if parser is None:
            parser = self._parsers[source] = LineParser(source)
        feed_lines(parser, lines, _StateSink(self, source))


class _StateSink:
    """One source's records into the state (the input driver's sink)."""

    # The state reads its fold after the batch: the counts may come once a batch (driver.RecordSink).
    access_counts_per_batch = True

    def __init__(self, pipeline: Pipeline, source: str) -> None:
        self.pipeline = pipeline
        self.state = pipeline.state
        self.source = source

    def record(self, context: LineContext, record: Record) -> None:
        try:
            self.state.apply(self.source, context, record)
        except Exception as exc:  # noqa: BLE001
            # One record that cannot be folded costs that record, not the rest of its batch.
            self.pipeline._failed(exc, f"folding a {type(record).__name__} record of {self.source} failed")

    def access_counts(self, counts: dict[tuple[str, str, int], int]) -> None:
        self.state.add_http_counts(self.source, counts)

    def line_counts(self, delta: dict[str, int]) -> None:
        self.state.add_line_counts(self.source, delta)
