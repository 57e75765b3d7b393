"""A live byte stream (a followed file, a Docker log stream, stdin) cut into complete text lines."""

from __future__ import annotations

# A line longer than this is cut to its first MAX_PENDING_LINE bytes and handed over once, as
# soon as that many bytes are waiting; the rest, up to its newline, is skipped (and not held).
# The parser reads no further than MAX_LINE_CHARS (the same 1 MiB) anyway.
MAX_PENDING_LINE = 1 << 20


class LineSplitter:
    """Bytes as they arrive -> complete text lines; an unterminated tail waits for its newline."""

    def __init__(self, max_line_bytes: int = MAX_PENDING_LINE) -> None:
        self.pending = b""
        self.max_line_bytes = max_line_bytes
        self.truncated = 0  # over-long lines cut (each counted once, as one line)
        self._skipping = False  # inside the rest of a line already handed over

    def feed(self, data: bytes) -> list[str]:
        limit = self.max_line_bytes
        if self._skipping:
            cut = data.find(b"\n")
            if cut < 0:
                return []
            self._skipping = False
            data = data[cut + 1:]
        data = self.pending + data if self.pending else data
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > limit:  # no newline yet, but already too long: hand over its head
                self.pending = b""
                self._skipping = True
                self.truncated += 1
                return [data[:limit].decode("utf-8", "replace")]
            self.pending = data
            return []
        self.pending = data[cut + 1:]
        lines = data[:cut].decode("utf-8", "replace").split("\n")
        if cut > limit:  # only then can a complete line be over the limit
            for i, line in enumerate(lines):
                if len(line) > limit:
                    lines[i] = line[:limit]
                    self.truncated += 1
        if len(self.pending) > limit:
            lines.append(self.pending[:limit].decode("utf-8", "replace"))
            self.pending = b""
            self._skipping = True
            self.truncated += 1
        return lines

    def flush(self) -> list[str]:
        """The stream ended (file closed or truncated, container stopped): the tail is a line."""
        tail, self.pending = self.pending, b""
        self._skipping = False
        return [tail.decode("utf-8", "replace")] if tail else []
