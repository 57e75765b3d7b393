"""The bulk path: count a batch's uvicorn access lines in C, parse only the rest in Python.

A busy server's log is mostly access lines, and `LineParser.scan` only counts them by (method,
path, status). Here a batch is joined into one buffer and one compiled pattern recognises whole
*runs* of access lines in every envelope we meet (plain, `docker logs -t`, CRI `F`, Docker
json-file, compose gutters, journald, ANSI around vLLM's process tag); `findall` over a run
gives the keys without a Python step per line. Stats lines take the fast form
(parse/faststats.py) as `scan` does; every other line (startup, errors, CRI partials, anything
the pattern is not sure of) goes to the same `LineParser.scan`, in order, and the counts are
handed over exactly when `scan` alone would hand them over (before the next record, and at the
end of the batch; or once a batch but before every non-stats record for a sink that asks), so
the results are identical (tests/test_bulk.py). With `--jobs` the pass itself (`classify`) runs
in a worker process a few batches ahead (parse/parallel.ClassifyAhead).

The pattern accepts a line only when the line path would give exactly one `HttpAccess` with
the same key and touch no parser state: its character classes are subsets of what the
envelope and prefix rules (parse/envelope.py) and the access pattern (parse/patterns.py) read,
chosen so that no other rule there can fire (no ESC but the colour codes around the process
tag, no "|", "[" or "]" outside the client, no control characters, no "\\r"). A line that
falls outside is simply parsed the slow way. While the parser waits for the rest of a CRI
partial or a cut engine config line, the next line always goes through the parser too.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from vllm_obs.parse.faststats import MONTH, RFC3339
from vllm_obs.parse.parser import LineParser
from vllm_obs.parse.records import LineContext, Record

AccessKey = tuple[str, str, int]

# Transport envelopes around a raw text line (the order of unwrap_outer's rules).
_ENVELOPE = (
    r"(?:"
    rf"{RFC3339} (?:stdout|stderr) F "  # CRI, a complete line
    rf"|{RFC3339} "  # docker logs --timestamps
    rf"|{MONTH} [ 0-9][0-9] [0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}} [A-Za-z0-9_.-]{{1,253}} [A-Za-z0-9_.@/-]{{1,128}}"
    r"(?:\[[0-9]{1,10}\])?: "  # journald short
    r"|[A-Za-z][A-Za-z0-9_.-]{0,63} {1,40}\| "  # docker compose gutter
    r")?"
)
_LEVEL = r"(?:DEBUG|INFO|WARNING|ERROR|CRITICAL): +"
_CLIENT = r"[0-9A-Fa-f.:\[\]]{1,200}"
_NAME = r"[A-Za-z0-9_]{1,40}(?: rank=[0-9]{1,5})?"
# Path and query: URL characters only (no space, control character, quote, backslash, bracket,
# bar or ESC); positive ASCII sets are what the C engine checks fastest. Together far below the
# access pattern's 8192.
_PATH = r"[A-Za-z0-9/_.~%!$&'()*+,;=:@-]{1,4000}"
_QUERY = r"(?:\?[A-Za-z0-9/_.~%!$&'()*+,;=:@?-]{0,4000})?"
_PHRASE = r"(?: [A-Za-z' -]{0,80})?"


def _message(esc: str, quote: str, n: int) -> str:
    """uvicorn's access line after an optional coloured process tag; `esc`/`quote` are how the
    ESC byte and a double quote are written (raw, or escaped inside Docker's JSON)."""
    colour = rf"(?:{esc}\[[0-9;]{{0,12}}m)?"
    return (
        rf"{colour}(?:\({_NAME} pid=[0-9]{{1,10}}\){colour} ?)?{_LEVEL}"
        rf'{_CLIENT} - {quote}(?P<m{n}>[A-Z]{{1,16}}) (?P<p{n}>{_PATH}){_QUERY} HTTP/[0-9.]{{1,4}}{quote} '
        rf"(?P<s{n}>[0-9]{{3}}){_PHRASE}"
    )


_RAW_LINE = _ENVELOPE + _message(r"\x1b", '"', 0)
_JSON_LINE = (
    r'\{"log":"' + _message(r"\\u001b", r'\\"', 1)
    + r'(?:\\r)?\\n","stream":"(?:stdout|stderr)","time":"' + RFC3339 + r'"\}'
)
_ACCESS_LINE = rf"(?:{_RAW_LINE}|{_JSON_LINE})"
# Every line of a batch joined by "\n" gives one tuple: (method, path, status) of the raw or the
# JSON form for an access line, all empty for any other line.
_LINES = re.compile(rf"^{_ACCESS_LINE}$|^.*$", re.M)
_OTHER = ("",) * 6

OnRecord = Callable[[LineContext, Record], None]
OnAccessCounts = Callable[[dict[AccessKey, int]], None]


_MONTHS = frozenset(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))


def worth_bulk(lines: list[str]) -> bool:
    """Whether the batch's lines carry an envelope timestamp (CRI, `docker logs -t`, json-file,
    journald). Then every access line is unique and `scan`'s shape cache never hits, so the C
    pass is several times faster; lines without one (plain, compose) `scan` counts by shape
    runs, which is as fast as the C pass or faster (bench_busy.py). Both give the same results."""
    step = max(1, len(lines) // 16)
    for line in lines[::step][:16]:
        first = line[:1]
        if first.isdigit() or first == "{" or (line[3:4] == " " and line[:3] in _MONTHS):
            return True
    return False


# A batch's C pass as it crosses from a worker process (parse/parallel.ClassifyAhead): for each
# line 0 (the parser must see it) or the index of its (method, path, status) in the list.
Classified = tuple[Sequence[int], list[AccessKey]]


def classify(text: str) -> Classified:
    """The C pass over a batch's lines joined by "\\n" (none holding one), as scan_bulk makes
    it, in a form that is cheap to send between processes (an array of ints)."""
    found = _LINES.findall(text)
    index = {_OTHER: 0}
    keys: list[AccessKey] = [("", "", 0)]  # index 0: not an access line
    for raw in dict.fromkeys(found):
        if raw != _OTHER:
            index[raw] = len(keys)
            keys.append(_key(raw))
    return array("I", map(index.__getitem__, found)), keys


def joined(lines: list[str]) -> str | None:
    """The batch as one buffer for the C pass, or None when a line holds a "\\n" (then the line
    path reads it: the pass works on whole lines)."""
    text = "\n".join(lines)
    return text if text.count("\n") == len(lines) - 1 else None


def scan_bulk(
    parser: LineParser, lines: list[str], on_record: OnRecord, on_access_counts: OnAccessCounts,
    per_batch: bool = False, classified: Classified | None = None,
) -> int:
    """`parser.scan(lines, on_record, on_access_counts)` with the same calls and the same
    parser state afterwards, but access lines counted in C. Lines must not contain "\\n".

    `per_batch`: the sink does not need the access counts before a stats record, only before
    any other record and at the end of the batch (driver.RecordSink.access_counts_per_batch):
    then a busy log's counts are handed over once a batch, not once per stats line.
    `classified`: the batch's C pass done already (`classify`, in a worker process)."""
    marks: Sequence[Any]
    key_of: Callable[[Any], AccessKey]
    if classified is not None:
        marks, keys = classified
        other: Any = 0
        key_of = keys.__getitem__
    else:
        text = joined(lines)
        marks = _LINES.findall(text) if text is not None else ()
        other = _OTHER
        key_of = _cached_key
    if len(marks) != len(lines):  # a line holds a "\n" (or, never, a pass that disagrees)
        parser.scan(lines, on_record, on_access_counts)
        return 0
    pending: dict[AccessKey, int] = {}  # counted, not yet handed over
    raw: Counter[Any] = Counter()  # access lines counted in C since `pending` was settled

    def settle() -> None:
        # The C pass's marks as keys, in the order first seen: the order `scan` counts them in.
        for mark, n in raw.items():
            key = key_of(mark)
            pending[key] = pending.get(key, 0) + n
        raw.clear()

    def add_counts(counts: dict[AccessKey, int]) -> None:
        if raw:
            settle()
        for key, n in counts.items():
            pending[key] = pending.get(key, 0) + n

    def hand_over() -> None:
        nonlocal pending
        if raw:
            settle()
        if pending:
            on_access_counts(pending)
            pending = {}

    def record(context: LineContext, parsed: Record) -> None:
        hand_over()
        on_record(context, parsed)

    counts = parser.counts
    take_fast_stats = parser.take_fast_stats
    find_other = marks.index
    slow: list[str] = []  # lines for the parser, in order
    i = bulk = 0
    n_lines = len(lines)
    while i < n_lines:
        try:
            j = find_other(other, i)
        except ValueError:
            j = n_lines
        if j > i:  # lines i..j-1 are access lines
            if slow:
                parser.scan(slow, record, add_counts)
                slow = []
            if parser._partial or parser._cut_config is not None:
                slow.append(lines[i])  # the parser waits for this line: it must see it
                i += 1
                continue
            raw.update(marks[i:j])
            parser.line_number += j - i
            counts["matched"] += j - i
            bulk += j - i
            i = j
            if i == n_lines:
                break
        line = lines[i]
        i += 1
        if not slow:  # in order: after the lines waiting for the parser
            fast = take_fast_stats(line)  # as `scan` takes it, without a scan call
            if fast is not None:
                if not per_batch:
                    hand_over()
                on_record(*fast)
                continue
        slow.append(line)
    if slow:
        parser.scan(slow, record, add_counts)
    hand_over()
    return bulk


_key_cache: dict[tuple[str, ...], AccessKey] = {}


def _cached_key(raw: tuple[str, ...]) -> AccessKey:
    return _key_cache.get(raw) or _key(raw)


def _key(raw: tuple[str, ...]) -> AccessKey:
    m0, p0, s0, m1, p1, s1 = raw
    key = (m0, p0, int(s0)) if m0 else (m1, p1, int(s1))
    if len(_key_cache) < 4096:
        _key_cache[raw] = key
    return key
