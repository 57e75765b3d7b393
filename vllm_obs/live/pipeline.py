"""Sources push raw lines into one bounded queue; one thread parses them and writes the state.

Sources run in their own threads (file follower, Docker streams, stdin) and block when the
queue is full, so nothing is dropped: a slow parser slows the readers down instead. Each source
has its own `LineParser` (partial-line joins and access-line shapes are per stream).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from vllm_obs.parse.parser import LineParser
from vllm_obs.live.state import State


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
        before = dict(parser.counts)
        state = self.state
        parser.scan(lines, lambda context, record: state.apply(source, context, record), lambda counts: state.add_http_counts(source, counts))
        state.add_line_counts(source, {k: parser.counts[k] - before.get(k, 0) for k in parser.counts})
