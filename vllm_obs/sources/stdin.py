"""Read log lines from standard input (`docker logs -f x 2>&1 | vllm-obs run --stdin`)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable


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
        pending = b""
        try:
            while True:
                # os.read returns what is there (up to 1 MiB), so batches follow the input's pace.
                data = os.read(self.fd, 1 << 20)
                if not data:
                    break
                data = pending + data
                cut = data.rfind(b"\n")
                if cut < 0:
                    pending = data
                    continue
                pending = data[cut + 1:]
                self.emit(self.source, data[:cut].decode("utf-8", "replace").split("\n"))
            if pending:
                self.emit(self.source, [pending.decode("utf-8", "replace")])
        except OSError:
            pass
        finally:
            self.finished.set()
