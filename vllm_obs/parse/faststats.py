"""The stats line's fast form: one compiled pattern from the envelope to the last figure.

On a busy server one line in ten is the periodic stats line, and the general path (envelope.py's
unwrap_outer and split_prefix, then patterns.parse_stats part by part) costs several regex calls
and a dozen string copies for each. Here the common forms are matched whole by one C regex, and
the (LineContext, Stats) pair is built straight from its groups.

What it matches, and nothing else (every other line, and any variation of these, takes the
general path, which stays the definition):

- envelopes: none, Kubernetes CRI `F`, `docker logs -t`, journald short, a compose gutter, and
  Docker json-file (ESC written `\\u001b`);
- an optional colour code, one process tag `(Name pid=N)` (optionally `rank=N` in the name) and a
  colour code after it, as vLLM 0.4.2+ prints them;
- vLLM's prefix `LEVEL MM-DD HH:MM:SS[.ffffff] [file.py:N] ` (`file.py:N] ` before 0.8.0);
- the V1 body (0.7.3 - 0.33, `v1/metrics/loggers.py`): an optional `Engine NNN: ` or
  `N Engines Aggregated: ` head, then `Avg prompt throughput: X tokens/s, Avg generation
  throughput: X tokens/s, Running: N reqs, Waiting: N reqs`, optional `Deferred: N reqs` and
  `Preemptions: N`, `<DEV> KV cache usage: X%, Prefix cache hit rate: X%` and the optional
  `Corrupted: N reqs`, `External prefix cache hit rate: X%`, `MM cache hit rate: X%` parts;
- the V0 body (0.4.3 - 0.10.x, `engine/metrics.py`): `... Running: N reqs, Swapped: N reqs,
  Pending: N reqs, GPU KV cache usage: X%, CPU KV cache usage: X%` with or without the period.

Example (0.11.2, plain):
`\\x1b[1;36m(APIServer pid=1)\\x1b[0;0m INFO 11-25 17:19:24 [loggers.py:236] Engine 000: Avg prompt
throughput: 0.0 tokens/s, Avg generation throughput: 154.0 tokens/s, Running: 1 reqs, Waiting: 0
reqs, GPU KV cache usage: 1.6%, Prefix cache hit rate: 0.0%`

Every character class is a subset of what the general rules accept at that place and excludes
what would make another rule fire (no `\\r`, no `|`, no quote, no colour remnants), so a line
this matches gives exactly the general path's pair; tests/test_faststats.py checks that on every
stats line of the samples in every envelope, and on generated variants.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from vllm_obs.parse.envelope import process_ranks
from vllm_obs.parse.records import LineContext, Stats

# Envelope fragments in ASCII classes, shared with the bulk access pass (parse/bulk.py).
RFC3339 = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})"
MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_RAW_ENVELOPE = (
    r"(?:"
    rf"(?P<cri_time>{RFC3339}) (?P<cri_stream>stdout|stderr) F "
    rf"|(?P<docker_time>{RFC3339}) "
    rf"|(?P<journald_time>{MONTH} [ 0-9][0-9] [0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}) [A-Za-z0-9_.-]{{1,253}} "
    r"[A-Za-z0-9_.@/-]{1,128}(?:\[[0-9]{1,10}\])?: "
    r"|[A-Za-z][A-Za-z0-9_.-]{0,63} {1,40}\| "
    r")?"
)
_FLOAT = r"[0-9]{1,12}(?:\.[0-9]{1,11})?"
_INT = r"[0-9]{1,18}"
_V1_BODY = (
    rf"(?:Engine (?P<engine>[0-9]{{1,6}}): |(?P<aggregated>[0-9]{{1,6}}) Engines Aggregated: )?"
    rf"Avg prompt throughput: (?P<prompt>{_FLOAT}) tokens/s, Avg generation throughput: (?P<generation>{_FLOAT}) tokens/s, "
    rf"Running: (?P<running>{_INT}) reqs, (?:"
    rf"Waiting: (?P<waiting>{_INT}) reqs, (?:Deferred: (?P<deferred>{_INT}) reqs, )?(?:Preemptions: (?P<preemptions>{_INT}), )?"
    rf"[A-Z]{{3}} KV cache usage: (?P<kv>{_FLOAT})%, Prefix cache hit rate: (?P<hit>{_FLOAT})%"
    rf"(?:, Corrupted: (?P<corrupted>{_INT}) reqs)?(?:, External prefix cache hit rate: (?P<external>{_FLOAT})%)?"
    rf"(?:, MM cache hit rate: (?P<mm>{_FLOAT})%)?"
    rf"|Swapped: (?P<swapped>{_INT}) reqs, Pending: (?P<pending>{_INT}) reqs, "
    rf"GPU KV cache usage: (?P<v0_kv>{_FLOAT})%, CPU KV cache usage: (?P<cpu_kv>{_FLOAT})%\.?"
    r")"
)


def _line(esc: str) -> str:
    colour = rf"(?:{esc}\[[0-9;]{{0,12}}m)?"
    return (
        rf"{colour}(?:\((?P<process>[A-Za-z0-9_]{{1,40}}(?: rank=[0-9]{{1,5}})?) pid=(?P<pid>[0-9]{{1,10}})\){colour} )?"
        r"(?P<level>INFO|WARNING|DEBUG|ERROR|CRITICAL) (?P<log_time>[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.[0-9]{1,6})? "
        rf"\[?(?P<file>[A-Za-z0-9_.-]{{1,200}}):[0-9]{{1,7}}\] {_V1_BODY}"
    )


_RAW = re.compile(rf"{_RAW_ENVELOPE}{_line(chr(27))}")
_JSON = re.compile(
    r'\{"log":"' + _line(r"\\u001b")
    + rf'(?:\\r)?\\n","stream":"(?P<json_stream>stdout|stderr)","time":"(?P<json_time>{RFC3339})"\}}'
)


# The groups each form needs, in one order, picked from `Match.groups()` by one C call (a
# groupdict of 26 names cost four times as much).
_BODY_GROUPS = (
    "process", "pid", "level", "log_time", "file", "engine", "aggregated", "prompt", "generation", "running",
    "swapped", "pending", "v0_kv", "cpu_kv", "waiting", "deferred", "preemptions", "kv", "hit", "external", "mm",
    "corrupted",
)


def _picker(pattern: re.Pattern[str], head: tuple[str, ...]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    return itemgetter(*(pattern.groupindex[name] - 1 for name in head + _BODY_GROUPS))


_PICK_RAW = _picker(_RAW, ("cri_time", "docker_time", "journald_time", "cri_stream"))
_PICK_JSON = _picker(_JSON, ("json_time", "json_stream"))


def fast_stats(line: str, line_number: int, source: str) -> tuple[LineContext, Stats] | None:
    """The general path's (context, Stats) for a stats line in one of the forms above; None for
    any other line (then the general path decides). `line` is without its newline."""
    if line[:1] == "{":
        m = _JSON.fullmatch(line)
        if m is None:
            return None
        outer_time, stream, *body = _PICK_JSON(m.groups())
    else:
        m = _RAW.fullmatch(line)
        if m is None:
            return None
        cri_time, docker_time, journald_time, stream, *body = _PICK_RAW(m.groups())
        outer_time = cri_time or docker_time or journald_time
    (process, pid, level, log_time, file, engine, aggregated, prompt, generation, running,
     swapped, pending, v0_kv, cpu_kv, waiting, deferred, preemptions, kv, hit, external, mm, corrupted) = body
    rank, dp_rank = process_ranks(process) if process is not None else (None, None)
    context = LineContext(
        line_number, source, outer_time, log_time, level, process, int(pid) if pid is not None else None,
        rank, dp_rank, stream, file,
    )
    engine_index = int(engine) if engine is not None else None
    engines_aggregated = int(aggregated) if aggregated is not None else None
    if swapped is not None:  # V0
        return context, Stats(
            "v0", engine_index, engines_aggregated, float(prompt), float(generation), int(running),
            waiting=int(pending), swapped=int(swapped), gpu_kv_usage_pct=float(v0_kv), cpu_kv_usage_pct=float(cpu_kv),
        )
    return context, Stats(
        "v1", engine_index, engines_aggregated, float(prompt), float(generation), int(running),
        waiting=int(waiting), deferred=_int(deferred), preemptions=_int(preemptions),
        gpu_kv_usage_pct=float(kv), prefix_cache_hit_pct=float(hit),
        external_prefix_cache_hit_pct=_float(external), mm_cache_hit_pct=_float(mm), corrupted=_int(corrupted),
    )


def _int(text: str | None) -> int | None:
    return int(text) if text is not None else None


def _float(text: str | None) -> float | None:
    return float(text) if text is not None else None
