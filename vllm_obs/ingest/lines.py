"""A live byte stream (a followed file, a Docker log stream, stdin) cut into complete text lines."""

from __future__ import annotations

# A "line" longer than this without a newline is handed over as it is.
MAX_PENDING_LINE = 1 << 20


class LineSplitter:
    """Bytes as they arrive -> complete text lines; an unterminated tail waits for its newline."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes) -> list[str]:
        data = self.pending + data
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > MAX_PENDING_LINE:
                self.pending = b""
                return [data.decode("utf-8", "replace")]
            self.pending = data
            return []
        self.pending = data[cut + 1:]
        return data[:cut].decode("utf-8", "replace").split("\n")

    def flush(self) -> list[str]:
        """The stream ended (file closed or truncated, container stopped): the tail is a line."""
        tail, self.pending = self.pending, b""
        return [tail.decode("utf-8", "replace")] if tail else []
