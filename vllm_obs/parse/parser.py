"""Turn physical log lines into (LineContext, Record) pairs.

`LineParser` is the one code path every command uses (`parse`, `analyze`, the sidecar, the
golden tests). It holds only the state a line format forces on it: Kubernetes CRI `P` partials
and Docker json-file entries split at 16 KiB are joined before parsing. It never raises on
input: any exception is counted as an `error` line and the line is skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from vllm_obs.parse.envelope import Prefix, parse_json_line, split_prefix, unwrap_outer
from vllm_obs.parse.faststats import fast_stats
from vllm_obs.parse.patterns import match_message, parse_access, parse_engine_config, parse_shutdown, parse_stats
from vllm_obs.parse.records import EngineConfig, HttpAccess, LineContext, MemoryProfile, Record

# A line longer than this is parsed on its first MAX_LINE_CHARS only: every message vLLM prints
# that we read is far shorter, and a runaway line (binary junk, a giant traceback) must not
# cost more than a bounded scan.
from vllm_obs.ingest.reader import MAX_LINE_CHARS  # noqa: E402 - one limit for reader and parser
# Partial lines (CRI "P", split Docker entries) are joined up to this size, then flushed.
MAX_PARTIAL_CHARS = 4 << 20

Parsed = tuple[LineContext, Record]
_NOTHING: tuple = ()

# Access-line shapes: (text before the client, text from " - \"" on) -> (method, path, status).
# A shape is cached only after the full path parsed a line of that shape into exactly one
# HttpAccess with a "plain" client (characters below), and only clients made of those
# characters take the cached answer: no envelope or prefix rule looks at such a client, so the
# full path would give the same answer for every line of the shape.
_PLAIN_CLIENT_CHARS = "0123456789abcdefABCDEF.:[]"
_MAX_ACCESS_SHAPES = 4096
_MAX_SHAPE_LINE_CHARS = 8192
# Parse the common stats line forms with one regex (parse/faststats.py); the same pairs as the
# general path, which tests/test_faststats.py checks by turning this off.
USE_FAST_STATS = True


class LineParser:
    """Parse one source's lines in order. `counts` holds lines by result."""

    def __init__(self, source: str = "-") -> None:
        self.source = source
        self.line_number = 0
        self.counts = {"matched": 0, "unmatched": 0, "error": 0}
        self._partial: list[str] = []
        self._partial_chars = 0
        self._partial_overflow = False  # inside the tail of a partial line cut at MAX_PARTIAL_CHARS
        self._access_shapes: dict[tuple[str, str], tuple[str, str, int]] = {}
        # An engine config line that ended before its last key (a terminal hard-wrapped a
        # pasted log): following unprefixed lines are its continuation.
        self._cut_config: tuple[LineContext, str] | None = None

    def feed(self, line: str) -> tuple[Parsed, ...]:
        """Parse one physical line (with or without its newline)."""
        self.line_number += 1
        try:
            parsed = self._feed(line)
        except Exception:  # noqa: BLE001 - the parser must never stop on input
            self.counts["error"] += 1
            return _NOTHING
        if parsed:
            self.counts["matched"] += 1
        elif parsed is not None:
            self.counts["unmatched"] += 1
        return parsed or _NOTHING

    def scan(
        self,
        lines: Iterable[str],
        on_record: Callable[[LineContext, Record], None],
        on_access_counts: Callable[[dict[tuple[str, str, int], int]], None],
        per_batch: bool = False,
    ) -> None:
        """Parse many lines fast: the analyze and sidecar path.

        Records go to `on_record(context, record)`, except HTTP access lines, which are counted
        by (method, path, status) and handed to `on_access_counts(counts)` in order with the
        records (before the next record, and at the end), so nothing is attributed to the wrong
        engine start. Gives the same results as `feed` on every line (tests/test_scan.py).
        `per_batch`: the counts need not come before a stats record (driver.RecordSink).
        """
        shapes = self._access_shapes
        counts: dict[tuple[str, str, int], int] = {}
        feed = self.feed
        plain = _PLAIN_CLIENT_CHARS
        # The current run of access lines of one shape: `prefix` + client + `tail`. Checking a
        # line against it needs no allocation but the client slice. (A shape's prefix has no
        # ' - "' and ends with a space or is empty, and a plain client has neither spaces nor
        # quotes, so this split is the same as the find/rfind split below.)
        run_shape: tuple[str, str, int] = ("", "", 0)
        run_prefix = run_tail = ""
        run_prefix_len = run = 0
        run_tail_cut = -1  # -len(tail): the client ends there
        for line in lines:
            if run and line.endswith(run_tail) and line.startswith(run_prefix):
                client = line[run_prefix_len:run_tail_cut]
                if client and len(client) <= 200 and not client.strip(plain):
                    run += 1
                    continue
            if run:
                counts[run_shape] = counts.get(run_shape, 0) + run
                self.line_number += run
                self.counts["matched"] += run
                run = 0
            cut = line.find(' - "')
            # Not while a cut engine config line waits: `feed` must see the next line.
            if cut > 0 and not self._partial and self._cut_config is None and not self._partial_overflow:
                start = line.rfind(" ", 0, cut) + 1
                prefix, tail = line[:start], line[cut:]
                shape = shapes.get((prefix, tail))
                if shape is not None and 0 < cut - start <= 200 and not line[start:cut].strip(plain):
                    run_shape, run_prefix, run_tail = shape, prefix, tail
                    run_prefix_len, run_tail_cut, run = len(prefix), -len(tail), 1
                    continue
            fast = self.take_fast_stats(line)
            if fast is not None:
                if counts and not per_batch:
                    on_access_counts(counts)
                    counts = {}
                on_record(*fast)
                continue
            had_partial = bool(self._partial)
            parsed = feed(line)
            for context, record in parsed:
                if isinstance(record, HttpAccess):
                    key = (record.method, record.path, record.status)
                    counts[key] = counts.get(key, 0) + 1
                    if len(parsed) == 1 and cut > 0 and not had_partial and len(shapes) < _MAX_ACCESS_SHAPES:
                        self._learn_access_shape(line, cut, record)
                    continue
                if counts:
                    on_access_counts(counts)
                    counts = {}
                on_record(context, record)
        if run:
            counts[run_shape] = counts.get(run_shape, 0) + run
            self.line_number += run
            self.counts["matched"] += run
        if counts:
            on_access_counts(counts)

    def take_fast_stats(self, line: str) -> Parsed | None:
        """A stats line in the fast form, read and counted as `feed` would (scan's and the bulk
        path's step, without feed's bookkeeping); None for any other line, which `feed` reads."""
        fast = self._fast_stats(line, self.line_number + 1)
        if fast is not None:
            self.line_number += 1
            self.counts["matched"] += 1
        return fast

    def _fast_stats(self, line: str, line_number: int) -> Parsed | None:
        # Only while no partial line or cut config line waits for this one.
        if USE_FAST_STATS and "throughput: " in line and not self._partial and not self._partial_overflow and self._cut_config is None:
            return fast_stats(line, line_number, self.source)  # the general path's pair, in one regex
        return None

    def _learn_access_shape(self, line: str, cut: int, record: HttpAccess) -> None:
        if len(line) > _MAX_SHAPE_LINE_CHARS:
            return  # keep far from the truncation limit, where the client's length would matter
        start = line.rfind(" ", 0, cut) + 1
        client = line[start:cut]
        if start < cut and client == record.client and not client.strip(_PLAIN_CLIENT_CHARS):
            self._access_shapes[(line[:start], line[cut:])] = (record.method, record.path, record.status)

    def flush(self) -> tuple[Parsed, ...]:
        """End of input: parse a partial line still waiting for its end."""
        if not self._partial:
            return _NOTHING
        text = "".join(self._partial)
        self._partial.clear()
        self._partial_chars = 0
        try:
            return self._parse_text(text, None, None) or _NOTHING
        except Exception:  # noqa: BLE001
            self.counts["error"] += 1
            return _NOTHING

    # -- internals ---------------------------------------------------------------------------

    def _feed(self, line: str) -> tuple[Parsed, ...] | None:
        if line.endswith("\n"):
            line = line[:-1]
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS]
        elif (fast := self._fast_stats(line, self.line_number)) is not None:
            return (fast,)
        outer = unwrap_outer(line)
        text = outer.text
        if self._partial_overflow:
            # The rest of an over-long partial line already parsed (and counted) once.
            if not outer.partial:
                self._partial_overflow = False
            return None
        if outer.partial:
            self._partial.append(text)
            self._partial_chars += len(text)
            if self._partial_chars < MAX_PARTIAL_CHARS:
                return None  # neither matched nor unmatched yet: the line is not complete
            outer_time, stream = outer.time, outer.stream
            text = "".join(self._partial)
            self._partial.clear()
            self._partial_chars = 0
            self._partial_overflow = True  # skip its remaining pieces up to the final one
            return self._parse_text(text[:MAX_LINE_CHARS], outer_time, stream)
        if self._partial:
            text = "".join(self._partial) + text
            self._partial.clear()
            self._partial_chars = 0
        return self._parse_text(text, outer.time, outer.stream)

    def _parse_text(self, text: str, outer_time: str | None, stream: str | None) -> tuple[Parsed, ...]:
        extra_messages: list[str] = []
        if text.startswith("{") and text.endswith("}"):
            json_line = parse_json_line(text)
            if json_line is not None:
                prefix = json_line.prefix
                outer_time = outer_time or json_line.time
                if json_line.exc_info:
                    # The traceback's last lines carry the root cause (OOM, KV too small, ...).
                    extra_messages = json_line.exc_info.splitlines()[-3:]
            else:
                prefix = split_prefix(text)
        else:
            prefix = split_prefix(text)

        record = _match(prefix)
        if isinstance(record, EngineConfig) and record.engine == "v0" and prefix.file and prefix.file.endswith("core.py"):
            # 0.6.4-0.7.0: the opt-in V1 engine printed V0's words, from v1/engine/core.py
            # (V0 prints them from llm_engine.py).
            record = dataclasses.replace(record, engine="v1")
        results: list[Parsed] = []
        if self._cut_config is not None:
            continued = self._continue_config(prefix, record)
            if continued is not None:
                return (continued,)
        if record is not None:
            context = self._context(prefix, outer_time, stream)
            results.append((context, record))
            if isinstance(record, EngineConfig) and not record.complete:
                self._cut_config = (context, prefix.message)
        for message in extra_messages:
            extra = match_message(message.strip())
            if extra is not None:
                results.append((self._context(prefix, outer_time, stream), extra))
        return tuple(results)

    def _continue_config(self, prefix: Prefix, record: Record | None) -> Parsed | None:
        """Join an unprefixed line onto a cut engine config line; None when it is not one."""
        if self._cut_config is None:
            return None
        context, text = self._cut_config
        self._cut_config = None
        message = prefix.message
        if record is not None or prefix.level is not None or prefix.process is not None or "=" not in message[:200]:
            return None
        joined = parse_engine_config(text + message)
        if joined is None:
            return None
        if not joined.complete:
            self._cut_config = (context, text + message)
        return context, dataclasses.replace(joined, continued=True)

    def _context(self, prefix: Prefix, outer_time: str | None, stream: str | None) -> LineContext:
        return LineContext(
            self.line_number,
            self.source,
            outer_time,
            prefix.log_time,
            prefix.level,
            prefix.process,
            prefix.pid,
            prefix.rank,
            prefix.dp_rank,
            stream,
            prefix.file,
        )


def _match(prefix: Prefix) -> Record | None:
    message = prefix.message
    # Fast path for the two kinds that make up most of a busy server's log.
    if prefix.uvicorn or ('" ' in message and "HTTP/" in message):
        access = parse_access(message)
        if access is not None:
            return access
        if prefix.uvicorn:
            return parse_shutdown(message)  # "Shutting down", "Finished server process [N]"
    if "Avg prompt throughput" in message or message.startswith("Running: ") or ": Running: " in message:
        stats = parse_stats(message)
        if stats is not None:
            return stats
    if not message:
        return None
    return match_message(message)


# Files that print in one engine only (checked in the 0.4.3-0.33.0 wheels: no file of these names
# exists outside vllm/v1/): the fold's engine hint when a log never names its engine. Keyed on
# the file name vLLM prints, never on its line number.
_V1_ONLY_FILES = frozenset(
    {"gpu_model_runner.py", "kv_cache_utils.py", "kv_cache_planning.py", "core_client.py", "core.py", "gpu_worker.py", "async_llm.py", "loggers.py"}
)


def file_engine_hint(context: LineContext, record: Record) -> str | None:
    """"v1"/"v0" when the file that printed the record says which engine did, else None.

    llm_engine.py, async_llm_engine.py and model_runner.py exist in both eras (V1 keeps shims of
    the V0 names from 0.11; model_runner.py is also V1's V2 runner from 0.26), so they say nothing
    alone; worker.py's memory profile is V0's (V1 profiles in gpu_worker.py).
    """
    file = context.file
    if not file:
        return None
    if file in _V1_ONLY_FILES:
        return "v1"
    if file == "worker.py" and type(record) is MemoryProfile:
        return "v0"
    return None
