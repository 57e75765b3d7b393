"""Unwrap a physical log line down to vLLM's message.

Real logs arrive wrapped, outermost first:

1. transport envelopes: Docker json-file (`{"log": ..., "stream": ..., "time": ...}`), Kubernetes
   CRI (`<RFC3339Nano> stdout F <text>`, `P` = partial), `docker logs --timestamps`
   (`<RFC3339Nano> <text>`), docker compose gutters (`vllm-1  | <text>`), journald
   (`Nov 21 16:25:43 host vllm[7]: <text>`), outer `[YYYY-MM-DD HH:MM:SS]` stamps;
2. ANSI colour codes (vLLM colours its process prefix even in files in 0.4.2-0.15.1) and their
   remnants when a tool dropped the ESC byte;
3. process tags `(APIServer pid=1)`, `(EngineCore_DP0 pid=..)`, `(VllmWorker rank=1 pid=..)`,
   `(Worker_TP1 pid=..)`, Ray's `(RayWorkerWrapper pid=.., ip=..)` (possibly two of them), and
   torch's `[rank0]: `;
4. vLLM's own prefix `LEVEL MM-DD HH:MM:SS [file.py:NN] ` (brackets from 0.8.0; before that
   `file.py:NN] `), or uvicorn's `INFO:     `; tqdm progress text glued in front of it.

vLLM's JSON logging (`--logging-config.formatter json`, 0.32+, or a dictConfig with
python-json-logger) is handled by `parse_json_line`.

Everything here is pure string work; the regexes are anchored and bounded so a hostile 10 MB
line costs a linear scan at most.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

# ANSI CSI sequences (colours, cursor moves) and, separately, the colour remnants left when
# something stripped the ESC byte but not the rest ("[1;36m(VllmWorker ...)[0;0m").
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]")
_ANSI_REMNANT = re.compile(r"\[(?:\d{1,3};)*\d{1,3}m")

# RFC 3339 timestamp as Docker and CRI write it (nanoseconds, Z or offset).
_RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)"
_CRI = re.compile(rf"(?P<time>{_RFC3339}) (?P<stream>stdout|stderr) (?P<tag>[PF])(?: (?P<text>.*))?$", re.S)
_DOCKER_TS = re.compile(rf"(?P<time>{_RFC3339}) (?P<text>.*)$", re.S)
# A plain ISO-ish stamp some shippers and `journalctl -o short-iso` put in front.
_PLAIN_STAMP = re.compile(
    r"\[?(?P<time>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)\]?[ \t]+(?P<text>.*)$",
    re.S,
)
# journald short format: "Nov 21 16:25:43 host ident[pid]: text"; also the host/ident part that
# follows an ISO stamp in `journalctl -o short-iso`.
_JOURNALD = re.compile(
    r"(?P<time>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d) "
    r"(?P<host>[\w.-]{1,253}) (?P<ident>[\w.@/-]{1,128})(?:\[(?P<pid>\d{1,10})\])?: (?P<text>.*)$",
    re.S,
)
_JOURNALD_HOST_IDENT = re.compile(r"[\w.-]{1,253} [\w.@/-]{1,128}\[\d{1,10}\]: ")
# docker compose gutter: "vllm-1  | text" (service names are [a-zA-Z0-9][a-zA-Z0-9_.-]*).
_COMPOSE = re.compile(r"(?P<service>[A-Za-z0-9][\w.-]{0,127}) +\| ?(?P<text>.*)$", re.S)

# "(Name pid=123)" or "(Name pid=123, ip=10.0.0.2)"; names are short and have no parentheses.
_PROCESS_TAG = re.compile(r"\((?P<name>[^()\n]{1,80}?) pid=(?P<pid>\d{1,10})(?:, ip=(?P<ip>[^()\s]{1,64}))?\) ?")
_TORCH_RANK = re.compile(r"\[rank(?P<rank>\d{1,5})\]: ?")
_RANK_IN_NAME = re.compile(r"(?:rank=|TP)(\d+)")
_DP_IN_NAME = re.compile(r"(?:DP|EngineCore_)(\d+)")

# vLLM's prefix: "INFO 06-03 02:01:19 [worker.py:287] " (0.8.0+) or "INFO 06-03 02:01:19 worker.py:287] ".
_LEVELS = "DEBUG|INFO|WARNING|ERROR|CRITICAL"
_VLLM_PREFIX = re.compile(
    rf"(?P<level>{_LEVELS}) (?P<time>\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d{{1,6}})? "
    r"\[?(?P<file>[^\s\]:]{1,200}):(?P<lineno>\d{1,7})\] ?"
)
# uvicorn's "%(levelprefix)s": the level, a colon, padded to 9 characters.
_UVICORN_PREFIX = re.compile(rf"(?P<level>{_LEVELS}):[ ]+")


class Outer(NamedTuple):
    """What the transport envelope says about a line."""

    text: str
    time: str | None = None
    stream: str | None = None
    partial: bool = False  # CRI "P" / Docker json-file entry without its newline


class Prefix(NamedTuple):
    """vLLM's (or uvicorn's) prefix and the process tag in front of it."""

    message: str
    level: str | None = None
    log_time: str | None = None
    file: str | None = None
    process: str | None = None
    pid: int | None = None
    rank: int | None = None
    dp_rank: int | None = None
    has_vllm_prefix: bool = False  # the standard "LEVEL MM-DD HH:MM:SS [file:N]" was found
    uvicorn: bool = False  # "INFO:     ..." from uvicorn


def strip_ansi(text: str) -> str:
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "m" in text and "[" in text and ("[0m" in text or ";0m" in text or "[0;" in text or "[1;" in text):
        text = _ANSI_REMNANT.sub("", text)
    return text


def unwrap_outer(line: str) -> Outer:
    """Peel transport envelopes (Docker json-file, CRI, timestamps, compose, journald)."""
    time = stream = None
    partial = False
    # At most a few layers (compose gutter around docker timestamps, for example).
    for _ in range(4):
        if not line:
            break
        first = line[0]
        if first == "{" and line.startswith('{"log":'):
            docker = _docker_json(line)
            if docker is None:
                break
            line, time, stream, partial = docker
            continue
        if first.isdigit():
            if len(line) > 20 and line[4] == "-" and line[10] == "T":
                m = _CRI.match(line)
                if m:
                    time, stream = m["time"], m["stream"]
                    partial = m["tag"] == "P"
                    line = m["text"] or ""
                    continue
                m = _DOCKER_TS.match(line)
                if m:
                    time, line = m["time"], m["text"]
                    # `journalctl -o short-iso` puts host and ident after the stamp.
                    j = _JOURNALD_HOST_IDENT.match(line)
                    if j:
                        line = line[j.end():]
                    continue
            if len(line) > 19 and line[4] == "-" and line[10] in " T" and line[13] == ":":
                m = _PLAIN_STAMP.match(line)
                if m:
                    time, line = m["time"], m["text"]
                    continue
            break
        if first == "[" and len(line) > 21 and line[1:5].isdigit() and line[5] == "-":
            m = _PLAIN_STAMP.match(line)
            if m:
                time, line = m["time"], m["text"]
                continue
            break
        if first.isalpha():
            if first in "JFMASOND" and len(line) > 16 and line[3] == " " and line[9] == ":":
                m = _JOURNALD.match(line)
                if m:
                    time, line = m["time"], m["text"]
                    continue
            bar = line.find(" | ", 0, 140)
            if bar < 0:
                bar = line.find(" |", 0, 140)
                if bar < 0 or bar + 2 != len(line):
                    bar = -1
            if bar > 0 and " " not in line[:bar].rstrip(" "):
                m = _COMPOSE.match(line)
                if m:
                    line = m["text"]
                    continue
        break
    return Outer(line, time, stream, partial)


def _docker_json(line: str) -> tuple[str, str | None, str | None, bool] | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("log"), str):
        return None
    text = obj["log"]
    partial = not text.endswith("\n")  # Docker splits lines over 16 KiB into several entries
    if not partial:
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    time = obj.get("time") if isinstance(obj.get("time"), str) else None
    stream = obj.get("stream") if isinstance(obj.get("stream"), str) else None
    return text, time, stream, partial


def process_ranks(name: str) -> tuple[int | None, int | None]:
    """(tensor-parallel rank, data-parallel index) a process tag's name carries: "Worker_TP1",
    "VllmWorker rank=1", "EngineCore_DP0", "Worker_DP1_TP0"."""
    rank = dp_rank = None
    if "TP" in name or "rank=" in name:
        r = _RANK_IN_NAME.search(name)
        if r:
            rank = int(r[1])
    if "DP" in name or name.startswith("EngineCore_"):
        d = _DP_IN_NAME.search(name)
        if d:
            dp_rank = int(d[1])
    return rank, dp_rank


def split_prefix(text: str) -> Prefix:
    """Find the process tag and vLLM/uvicorn prefix; return the message after them."""
    text = strip_ansi(text)
    if "\r" in text:
        # tqdm redraws a bar with "\r": what a terminal shows is the last segment. A log line
        # printed right after a bar is glued on after the last "\r".
        tail = text.rstrip("\r")
        text = tail[tail.rfind("\r") + 1:]
    text = text.lstrip(" \t")
    process = None
    pid = rank = dp_rank = None
    # Up to two vLLM process tags (0.17 bug; Ray + 0.31+), plus Ray's actor tag in front.
    while text.startswith("("):
        m = _PROCESS_TAG.match(text)
        if not m:
            break
        name = m["name"]
        process, pid = name, int(m["pid"])
        name_rank, name_dp_rank = process_ranks(name)
        rank = name_rank if name_rank is not None else rank
        dp_rank = name_dp_rank if name_dp_rank is not None else dp_rank
        text = text[m.end():]
    if text.startswith("[rank"):
        m = _TORCH_RANK.match(text)
        if m:
            rank = int(m["rank"])
            text = text[m.end():]

    m = _VLLM_PREFIX.match(text)
    if m is None and text[:1] == "[" and text[1:2] in "DIWEC":
        # A stray "[" before the level ("[INFO 08-16 ..."): a custom format or a paste.
        m = _VLLM_PREFIX.match(text, 1)
    if m is None and "] " in text and text[:1] != "[":
        # A user VLLM_LOGGING_PREFIX, an indent, or tqdm progress glued in front.
        m = _VLLM_PREFIX.search(text, 0, 4096)
    if m is not None:
        return Prefix(text[m.end():], m["level"], m["time"], m["file"], process, pid, rank, dp_rank, True)
    if text[:1] in "DIWEC":
        u = _UVICORN_PREFIX.match(text)
        if u is not None:
            return Prefix(text[u.end():], u["level"], None, None, process, pid, rank, dp_rank, False, True)
    return Prefix(text, None, None, None, process, pid, rank, dp_rank)


class JsonLogLine(NamedTuple):
    """One record of vLLM's JSON logging (python-json-logger)."""

    prefix: Prefix
    time: str | None
    exc_info: str | None


def parse_json_line(text: str) -> JsonLogLine | None:
    """vLLM JSON logging: {"asctime", "levelname", "name", "process", "message", ...}."""
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    message = obj.get("message", obj.get("msg"))
    if not isinstance(message, str):
        return None
    level = obj.get("levelname", obj.get("level"))
    level = level.upper() if isinstance(level, str) else None
    process = obj.get("vllm_process_name") or obj.get("processName")
    process = process if isinstance(process, str) else None
    pid = obj.get("process")
    pid = pid if isinstance(pid, int) else None
    rank, dp_rank = process_ranks(process) if process else (None, None)
    is_access = obj.get("name") == "uvicorn.access"
    time = obj.get("asctime") or obj.get("timestamp") or obj.get("time")
    exc = obj.get("exc_info")
    return JsonLogLine(
        Prefix(message, level, None, None, process, pid, rank, dp_rank, not is_access, is_access),
        time if isinstance(time, str) else None,
        exc if isinstance(exc, str) else None,
    )
