"""Renders of /metrics shared between scrapes that arrive close together."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

Key = tuple[str, tuple[str, ...], bool]  # Accept header, ?name[] selection, gzip


class SharedRenders:
    """Renders of /metrics shared between scrapes close in time.

    A render takes about a millisecond of the one interpreter lock (more on a loaded machine),
    so 200 scrapers arriving together would queue behind 200 renders. A scrape gets the body of a
    render that finished less than `max_age_seconds` before it arrived, or waits for the render
    in progress, or starts one: a body is never older than that, or than one render, when
    the request arrives (20 ms by default, far below any scrape interval and vLLM's 5-10 s
    stats interval), and a burst costs a few renders.
    """

    def __init__(self, render: Callable[[Key], bytes], max_age_seconds: float) -> None:
        self._render = render
        self._max_age = max_age_seconds
        self._lock = threading.Lock()
        self._running: dict[Key, Future[bytes]] = {}
        self._done: dict[Key, tuple[float, bytes]] = {}

    def get(self, key: Key) -> bytes:
        arrived = time.monotonic()
        with self._lock:
            done = self._done.get(key)
            if done is not None and arrived - done[0] < self._max_age:
                return done[1]
            future = self._running.get(key)
            leader = future is None
            if future is None:
                future = self._running[key] = Future()
        if leader:
            try:
                body = self._render(key)
                future.set_result(body)
                with self._lock:
                    if len(self._done) > 64:  # many ?name[] selections: keep the memory flat
                        self._done.clear()
                    self._done[key] = (time.monotonic(), body)
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter, raised below
                future.set_exception(exc)
            finally:
                with self._lock:
                    del self._running[key]
        return future.result()
