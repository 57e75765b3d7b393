"""`LineParser.scan` (the fast path of analyze and the sidecar) equals `feed` line by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_obs.parse.parser import LineParser
from vllm_obs.ingest.reader import iter_lines
from vllm_obs.parse.records import HttpAccess
from vllm_obs.fold.fold import Fold
from vllm_obs.fold.summary import summarize

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LOGS = sorted(p for p in SAMPLES.rglob("*") if p.name.endswith((".log", ".log.gz")))


def via_feed(lines: list[str]) -> tuple[dict, dict, list]:
    parser, summarizer, access = LineParser("x"), Fold(), []
    for line in lines:
        for context, record in parser.feed(line):
            summarizer.add(context, record)
            if isinstance(record, HttpAccess):
                access.append((record.method, record.path, record.status))
    for context, record in parser.flush():
        summarizer.add(context, record)
    summarizer.add_counts(parser.counts)
    return summarize(summarizer), parser.counts, sorted(access)


def via_scan(lines: list[str]) -> tuple[dict, dict, list]:
    parser, summarizer, access = LineParser("x"), Fold(), []

    def on_access(counts):
        summarizer.add_http_counts(counts)
        for key, n in counts.items():
            access.extend([key] * n)

    parser.scan(iter(lines), summarizer.add, on_access)
    for context, record in parser.flush():
        summarizer.add(context, record)
    summarizer.add_counts(parser.counts)
    return summarize(summarizer), parser.counts, sorted(access)


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(SAMPLES)) for p in LOGS])
def test_scan_equals_feed_on_samples(log: Path) -> None:
    lines = list(iter_lines(str(log)))
    assert via_scan(lines) == via_feed(lines)


PREFIXES = st.sampled_from(
    [
        "(APIServer pid=1) INFO:     ",
        "INFO:     ",
        "",
        "\x1b[1;36m(APIServer pid=7)\x1b[0;0m INFO:     ",
        "2026-05-12T07:51:36.069569496Z (APIServer pid=1) INFO:     ",
        "vllm-1  | INFO:     ",
        "(APIServer pid=1) INFO 05-12 07:51:39 [x.py:1] Received request r: prompt: 'say ",
        "2026-05-12T07:51:36Z stdout P INFO:     ",
        "2026-05-12T07:51:36Z stdout F INFO:     ",
    ]
)
CLIENTS = st.one_of(
    st.sampled_from(["172.17.0.1:53400", "[::1]:46494", "-", "10.0.0.2:1", "a" * 201, "1\x1b[0m", "1\r2", "1 2"]),
    st.text(alphabet="0123456789abcdef.:[]m;\x1b\r |", min_size=0, max_size=12),
)
TAILS = st.sampled_from(
    [
        ' - "POST /v1/chat/completions HTTP/1.1" 200 OK',
        ' - "GET /metrics HTTP/1.1" 200 OK',
        ' - "GET /nope?x=1 HTTP/1.1" 404 Not Found',
        ' - "POST /v1/completions HTTP/1.1" 500 Internal Server Error',
        ' - "POST /v1/completions HTTP/1.1" 200',
        ' - "GET / HTTP/1.1" 200 OK | x',
        " - \"GET / HTTP/1.1\" 200 OK'",
    ]
)
OTHER = st.sampled_from(
    [
        "(APIServer pid=1) INFO 05-12 07:51:39 [loggers.py:271] Engine 000: Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: 2.0 tokens/s, Running: 3 reqs, Waiting: 0 reqs, GPU KV cache usage: 5.0%, Prefix cache hit rate: 0.0%",
        "(APIServer pid=1) INFO 05-12 07:51:39 [api_utils.py:1] non-default args: {'model': 'm', 'max_model_len': 8192}",
        "(EngineCore pid=2) INFO 05-12 07:51:39 [core.py:1] Initializing a V1 LLM engine (v0.11.0) with config: model='m', max_seq_len=8192, ",
        "garbage line",
        "",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.tuples(PREFIXES, CLIENTS, TAILS).map("".join), OTHER), max_size=60))
def test_scan_equals_feed_on_adversarial_access_lines(lines: list[str]) -> None:
    # Repeat the list so shapes learned on the first pass are used on the second.
    lines = lines + lines
    assert via_scan(lines) == via_feed(lines)
