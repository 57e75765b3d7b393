"""Sources push raw lines into one bounded queue; one thread parses them and writes the state.

Sources run in their own threads (file follower, Docker streams, stdin) and block when the
queue is full, so nothing is dropped: a slow parser slows the readers down instead. Each source
has its own `LineParser` (partial-line joins and access-line shapes are per stream).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from vllm_obs.live.state import State
from vllm_obs.parse.driver import feed_lines
from vllm_obs.parse.parser import LineParser
from vllm_obs.parse.records import LineContext, Record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Lines:
    source: str
    lines: list[str]


@dataclass(frozen=True)
class _Restart:
    source: str


_STOP = object()


class Pipeline:
    def __init__(self, state: State, max_batches: int = 1024) -> None:
        self.state = state
        self._queue: queue.Queue = queue.Queue(maxsize=max_batches)
        self._parsers: dict[str, LineParser] = {}
        self._thread = threading.Thread(target=self._run, name="vllm-obs-pipeline", daemon=True)
        self._idle = threading.Event()
        self._idle.set()

    # -- called by sources (any thread) ---------------------------------------------------------

    def lines(self, source: str, lines: list[str]) -> None:
        if lines:
            self._idle.clear()
            self._queue.put(_Lines(source, lines))

    def engine_restarted(self, source: str) -> None:
        """A container restarted: its next lines are a new engine start on a fresh parser."""
        self._idle.clear()
        self._queue.put(_Restart(source))

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """For tests and shutdown: wait until every queued line has reached the state."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        state = self.state
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            if type(item) is _Restart:
                self._parsers.pop(item.source, None)
                state.engine_restarted(item.source)
            else:
                self._parse(item.source, item.lines)
            if self._queue.empty():
                self._idle.set()

    def _parse(self, source: str, lines: list[str]) -> None:
        parser = self._parsers.get(source)
        if parser is None:
            parser = self._parsers[source] = LineParser(source)
        try:
            feed_lines(parser, lines, _StateSink(self.state, source))
        except Exception:  # noqa: BLE001 - one bad batch must not end the pipeline
            log.exception("pipeline: a batch of %d lines from %s failed", len(lines), source)
            self.state.pipeline_failed()


class _StateSink:
    """One source's records into the state (the input driver's sink)."""

    def __init__(self, state: State, source: str) -> None:
        self.state = state
        self.source = source

    def record(self, context: LineContext, record: Record) -> None:
        self.state.apply(self.source, context, record)

    def access_counts(self, counts: dict[tuple[str, str, int], int]) -> None:
        self.state.add_http_counts(self.source, counts)

    def line_counts(self, delta: dict[str, int]) -> None:
        self.state.add_line_counts(self.source, delta)
