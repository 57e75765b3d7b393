"""Read log lines from standard input (`docker logs -f x 2>&1 | vllm-obs run --stdin`)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

from vllm_obs.ingest.lines import LineSplitter


class StdinReader:
    def __init__(self, emit: Callable[[str, list[str]], None], source: str = "stdin", fd: int | None = None) -> None:
        self.emit = emit
        self.source = source
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vllm-obs-stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        pass  # a blocking read cannot be interrupted; the thread is a daemon

    def _run(self) -> None:
        splitter = LineSplitter()
        try:
            while True:
                # os.read returns what is there (up to 1 MiB), so batches follow the input's pace.
                data = os.read(self.fd, 1 << 20)
                if not data:
                    break
                lines = splitter.feed(data)
                if lines:
                    self.emit(self.source, lines)
            tail = splitter.flush()
            if tail:
                self.emit(self.source, tail)
        except OSError:
            pass
        finally:
            self.finished.set()
