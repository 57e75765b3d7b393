"""/healthz and /readyz for the sidecar: every thread alive, every source caught up once.

Ready means every configured source has been read up to its end at least once since start
(files: each matched file and its rotated siblings read to their size; Docker: the initial log
read of each running container returned; stdin: always) AND the pipeline has folded those
lines into the state: the source's "caught up" goes through the pipeline queue as a barrier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from vllm_obs.live.pipeline import Pipeline

Alive = Callable[[], tuple[bool, str]]


class Health:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._lock = threading.Lock()
        self._waiting: set[str] = set()
        self._alive: dict[str, Alive] = {"pipeline": pipeline.alive}

    def add(self, name: str, alive: Alive | None = None, ready: bool = False) -> Callable[[], None]:
        """Register a source; returns the callback the source calls once it has caught up."""
        with self._lock:
            if not ready:
                self._waiting.add(name)
            if alive is not None:
                self._alive[name] = alive

        def caught_up() -> None:
            self.pipeline.barrier(lambda: self._done(name))

        return caught_up

    def _done(self, name: str) -> None:
        with self._lock:
            self._waiting.discard(name)

    def ready(self) -> tuple[bool, str]:
        with self._lock:
            waiting = sorted(self._waiting)
        if waiting:
            return False, "not ready: catching up on " + ", ".join(waiting)
        return True, "ready"

    def healthy(self) -> tuple[bool, str]:
        problems = []
        for name, alive in list(self._alive.items()):
            ok, reason = alive()
            if not ok:
                problems.append(reason)
        if self.pipeline.errors:
            # Not fatal (the pipeline went on), but said: the count is also a metric.
            note = f" ({self.pipeline.errors} fold errors, last: {self.pipeline.last_error})"
        else:
            note = ""
        if problems:
            return False, "; ".join(problems) + note
        return True, "ok" + note
