"""Open log inputs as text lines: files, `.gz` files (detected by content), and stdin.

Bytes are decoded as UTF-8 with replacement, so binary junk and invalid UTF-8 never stop a run.
Lines are split on "\\n" only: vLLM's multi-line records use "\\r\\n" and tqdm redraws with a
bare "\\r", which the parser handles itself. Problems the user can fix (missing file, directory,
permission, corrupt gzip) raise `InputError` with one line that names the file.
"""

from __future__ import annotations

import codecs
import io
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
# Longer lines are cut to this many characters (the parser reads no further anyway).
MAX_LINE_CHARS = 1 << 20


class InputError(Exception):
    """An input that cannot be read; the message names it."""


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by iter_lines
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory (give the log files inside it)") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None
    return raw


def iter_lines(path: str) -> Iterator[str]:
    """Yield the text lines of one input, without their newlines."""
    for batch in iter_line_batches(path):
        yield from batch


def _gzip_bytes(raw: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    """Decompress a gzip stream piece by piece, yielding everything up to any damage before
    raising (GzipFile would lose the piece it was decompressing). Handles concatenated members."""
    decompressor = zlib.decompressobj(wbits=31)
    fed = False  # the current member has received data
    while True:
        data = raw.read(chunk_bytes)
        if not data:
            break
        while data:
            fed = True
            # Bounded output per call: a batch's size must not depend on the compression ratio.
            out = decompressor.decompress(data, chunk_bytes * 4)
            if out:
                yield out
            if decompressor.eof:  # a member ended: the rest may be another member
                data = decompressor.unused_data
                decompressor = zlib.decompressobj(wbits=31)
                fed = False
            else:
                data = decompressor.unconsumed_tail
    tail = decompressor.flush()
    if tail:
        yield tail
    if fed and not decompressor.eof:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")


def iter_line_batches(
    path: str, batch_chars: int = 1 << 22, on_progress: Callable[[int, int], None] | None = None
) -> Iterator[list[str]]:
    """Yield lists of lines (without their newlines).

    Reading a few MiB at a time and splitting in C is several times faster than iterating a
    file line by line, which matters on million-line archives. A line longer than
    MAX_LINE_CHARS keeps its first MAX_LINE_CHARS characters; the rest is skipped, so one
    runaway line cannot exhaust memory. `on_progress(bytes_read, lines)` is called per batch.
    A damaged .gz yields every line before the damage, then raises InputError.
    """
    raw = _open_binary(path)
    buffered: Any = raw if path == "-" else io.BufferedReader(raw, buffer_size=1 << 20)
    try:
        head = buffered.peek(2)[:2] if hasattr(buffered, "peek") else b""
        if head == GZIP_MAGIC:
            pieces = _gzip_bytes(buffered, 1 << 20)
        else:
            pieces = iter(lambda: buffered.read(batch_chars), b"")
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        count = 0
        carry = ""
        skipping = False  # inside the tail of an over-long line
        try:
            for piece in pieces:
                chunk = decoder.decode(piece)
                if skipping:
                    end = chunk.find("\n")
                    if end < 0:
                        continue
                    # Keep the newline: it ends the truncated line waiting in `carry`, which
                    # must not be glued to the next line.
                    chunk = chunk[end:]
                    skipping = False
                lines = (carry + chunk).split("\n") if carry else chunk.split("\n")
                carry = lines.pop()
                if len(carry) > MAX_LINE_CHARS:
                    carry = carry[:MAX_LINE_CHARS]
                    skipping = True
                count += len(lines)
                if on_progress is not None and path != "-":
                    on_progress(raw.tell(), count)  # bytes of the file itself (compressed for .gz)
                if lines:
                    yield lines
            carry += decoder.decode(b"", final=True)
            if carry:
                count += 1
                yield [carry]
        except (EOFError, zlib.error) as exc:
            if carry:
                yield [carry]  # the last complete text before the damage
                count += 1
            raise InputError(f"{path}: corrupt or truncated gzip data after {count} lines ({exc})") from None
        except OSError as exc:
            raise InputError(f"{path}: read error after {count} lines ({exc.strerror or exc})") from None
    finally:
        if path != "-":
            raw.close()
