"""The bulk path (parse/bulk.py) gives exactly what `LineParser.scan` gives: the same sink calls
in the same order (records, access counts between them, line counts), the same parser state,
the same `analyze` JSON and the same export, on every sample, in every envelope, and on random
mixes cut at random byte offsets."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_obs.archive.analyze import analyze_paths
from vllm_obs.archive.export import export_openmetrics
from vllm_obs.fold.fold import Fold
from vllm_obs.fold.summary import summarize
from vllm_obs.ingest.lines import LineSplitter
from vllm_obs.ingest.reader import iter_line_batches
from vllm_obs.parse import driver
from vllm_obs.parse.bulk import scan_bulk, worth_bulk
from vllm_obs.parse.parser import LineParser
from vllm_obs.parse.records import HttpAccess, LineContext, Record

from logtools import ENVELOPES

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
LOGS = sorted(p for p in SAMPLES.rglob("*") if p.name.endswith((".log", ".log.gz")))
sys.path.insert(0, str(ROOT))
from benchmarks import synth  # noqa: E402


class Calls:
    """Every sink call, in order; access counts with their key order."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def record(self, context: LineContext, record: Record) -> None:
        self.calls.append(("record", context, record))

    def access_counts(self, counts: dict[tuple[str, str, int], int]) -> None:
        self.calls.append(("access", list(counts.items())))


def run(batches: list[list[str]], bulk: bool) -> tuple[list[Any], dict[str, int], int, int]:
    """(sink calls, parser counts, line number, lines counted in bulk)."""
    parser, sink, counted = LineParser("x"), Calls(), 0
    for batch in batches:
        if bulk:
            counted += scan_bulk(parser, batch, sink.record, sink.access_counts)
        else:
            parser.scan(batch, sink.record, sink.access_counts)
        sink.calls.append(("batch", dict(parser.counts)))
    for context, record in parser.flush():
        sink.record(context, record)
    return sink.calls, dict(parser.counts), parser.line_number, counted


def folded(batches: list[list[str]], bulk: bool, per_batch: bool) -> tuple[str, int]:
    """The fold's summary and line number after the batches, through scan_bulk or scan, with the
    counts handed over before every record or once a batch (access_counts_per_batch, as the fold
    asks)."""
    parser, fold = LineParser("x"), Fold()
    for batch in batches:
        if bulk:
            scan_bulk(parser, batch, fold.record, fold.access_counts, per_batch)
        else:
            parser.scan(batch, fold.record, fold.access_counts, per_batch)
    for context, record in parser.flush():
        fold.record(context, record)
    return json.dumps(summarize(fold)), parser.line_number


def assert_same(batches: list[list[str]]) -> int:
    calls, counts, line_number, counted = run(batches, bulk=True)
    assert (calls, counts, line_number) == run(batches, bulk=False)[:3]
    assert folded(batches, True, True) == folded(batches, False, True) == folded(batches, False, False)
    return counted


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(SAMPLES)) for p in LOGS])
@pytest.mark.parametrize("batch_chars", [1 << 22, 777])
def test_bulk_equals_scan_on_samples(log: Path, batch_chars: int) -> None:
    assert_same(list(iter_line_batches(str(log), batch_chars=batch_chars)))


def outputs(paths: list[str], monkeypatch: pytest.MonkeyPatch, bulk: bool) -> tuple[str, str, list[str]]:
    monkeypatch.setattr(driver, "USE_BULK", bulk)
    summary, problems = analyze_paths(paths, year=2026)
    out = io.StringIO()
    info, export_problems = export_openmetrics(paths, out, year=2026)
    return json.dumps(summary, sort_keys=False, default=str), out.getvalue() + json.dumps(info), problems + export_problems


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(SAMPLES)) for p in LOGS])
def test_analyze_and_export_identical_on_samples(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert outputs([str(log)], monkeypatch, True) == outputs([str(log)], monkeypatch, False)




@pytest.mark.parametrize("era", ["v0.11", "v0.33", "v0.6"])
@pytest.mark.parametrize("wrap", sorted(ENVELOPES))
def test_bulk_equals_scan_in_every_envelope(era: str, wrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    network = synth.NETWORK_FOR_WRAP.get(wrap, "local")
    raw = list(synth.generate(era, lines=6000, seed=3, restarts=1, busy=True, network=network))
    lines = ENVELOPES[wrap](raw)
    batches = [lines[i:i + 997] for i in range(0, len(lines), 997)]
    counted = assert_same(batches)
    # The fast path really fires in this envelope: nearly every access line is counted in C.
    parser, access = LineParser("x"), 0
    for line in lines:
        access += sum(isinstance(r, HttpAccess) for _, r in parser.feed(line))
    assert access > 4000
    assert counted >= 0.95 * access, (counted, access)
    # The driver takes the C pass where envelope stamps defeat scan's shape cache.
    assert all(worth_bulk(batch) == (wrap not in ("none", "compose")) for batch in batches)
    log = tmp_path / f"{wrap}.log"
    log.write_text("\n".join(lines) + "\n")
    assert outputs([str(log)], monkeypatch, True) == outputs([str(log)], monkeypatch, False)


# Real lines of every envelope (a few of each kind from a synthetic busy log), plus the pieces
# that must send a line down the slow path: CRI partials, cut config lines, near-miss access lines.
_RAW = list(synth.generate("v0.11", lines=400, seed=5, busy=True))
REAL = sorted({line for wrap in ENVELOPES for line in ENVELOPES[wrap](_RAW[:40] + _RAW[-60:])})
TRICKY = [
    "2026-05-12T07:51:36Z stdout P INFO:     ",
    "2026-05-12T07:51:36Z stdout P (APIServer pid=1) INFO 05-12 07:51:39 [loggers.py:271] Engine 000: Avg prompt",
    "2026-05-12T07:51:36Z stdout F INFO:     1.2.3.4:5 - \"GET /x HTTP/1.1\" 200 OK",
    "(EngineCore pid=2) INFO 05-12 07:51:39 [core.py:1] Initializing a V1 LLM engine (v0.11.0) with config: model='m', max_seq_len=8192, ",
    "INFO:     1.2.3.4:5 - \"GET /x HTTP/1.1\" 200 OK\r",
    "INFO:     1.2.3.4:5 - \"GET /é HTTP/1.1\" 200 OK",
    "[1;36m(APIServer pid=1)[0;0m INFO:     1.2.3.4:5 - \"GET /x HTTP/1.1\" 200 OK",
    "vllm-1  | 2026-05-12T07:51:36Z INFO:     1.2.3.4:5 - \"GET /x HTTP/1.1\" 200 OK",
    "  INFO:     1.2.3.4:5 - \"GET /x?a=1 HTTP/1.1\" 404 Not Found",
    '{"log":"INFO:     1.2.3.4:5 - \\"GET /x HTTP/1.1\\" 200 OK\\n","stream":"stdout","time":"2026-05-12T07:51:36Z"}',
    '{"log":"INFO:     1.2.3.4:5 - \\"GET /x HTTP/1.1\\" 200 OK","stream":"stdout","time":"2026-05-12T07:51:36Z"}',
    "",
]
LINES = st.one_of(
    st.sampled_from(REAL),
    st.sampled_from(TRICKY),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n"), max_size=40),
    st.tuples(st.sampled_from(REAL), st.integers(0, 200)).map(lambda t: t[0][: t[1]]),  # a cut real line
)


@settings(max_examples=200, deadline=None)
@given(st.lists(LINES, max_size=80), st.lists(st.integers(1, 400), max_size=20))
def test_bulk_equals_scan_on_random_mixes_cut_at_random_bytes(lines: list[str], cuts: list[int]) -> None:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    splitter, batches, pos = LineSplitter(), [], 0
    for size in cuts:  # byte offsets: lines and UTF-8 sequences split across reads
        batch = splitter.feed(data[pos:pos + size])
        if batch:
            batches.append(batch)
        pos += size
    tail = splitter.feed(data[pos:]) + splitter.flush()
    if tail:
        batches.append(tail)
    assert_same(batches)
