"""The stats line's fast form (parse/faststats.py) gives exactly the general path's (context,
Stats) pair wherever it matches: on every stats line of the samples, on synthetic logs of every
era in every envelope, on mutated lines (hypothesis), and through analyze and export."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_obs.archive.analyze import analyze_paths
from vllm_obs.archive.export import export_openmetrics
from vllm_obs.parse import parser as parser_module
from vllm_obs.parse.faststats import fast_stats
from vllm_obs.parse.parser import LineParser
from vllm_obs.parse.records import Stats

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
LOGS = sorted(p for p in SAMPLES.rglob("*") if p.name.endswith(".log"))
sys.path.insert(0, str(ROOT))
from benchmarks import synth  # noqa: E402
from logtools import ENVELOPES  # noqa: E402


def general(line: str, line_number: int = 7) -> tuple:
    """What the general path (envelope.py + patterns.parse_stats) makes of one line."""
    parser = LineParser("src")
    parser.line_number = line_number - 1
    saved = parser_module.USE_FAST_STATS
    parser_module.USE_FAST_STATS = False
    try:
        return parser.feed(line)
    finally:
        parser_module.USE_FAST_STATS = saved


def check(line: str) -> bool:
    """True when the fast form took the line; then it must equal the general path."""
    fast = fast_stats(line, 7, "src")
    if fast is None:
        return False
    assert (fast,) == general(line), line
    return True


def test_every_sample_stats_line() -> None:
    stats_lines = taken = 0
    for log in LOGS:
        for line in log.read_text(errors="replace").splitlines():
            if "throughput: " in line:
                stats_lines += 1
                taken += check(line)
    assert stats_lines > 300
    # Nearly every real stats line is in a common form (the rest: cut or pasted lines).
    assert taken > 0.99 * stats_lines, (taken, stats_lines)


@pytest.mark.parametrize("era", sorted(synth.ERAS))
@pytest.mark.parametrize("wrap", sorted(ENVELOPES))
def test_every_era_in_every_envelope(era: str, wrap: str) -> None:
    raw = list(synth.generate(era, lines=3000, seed=4, busy=True, network=synth.NETWORK_FOR_WRAP.get(wrap, "local")))
    lines = [line for line in ENVELOPES[wrap](raw) if "throughput: " in line]
    assert len(lines) > 20
    taken = sum(check(line) for line in lines)
    assert taken == len(lines), f"{taken} of {len(lines)} {era} stats lines in {wrap} took the fast form"


BASE = [line for line in ENVELOPES["none"](list(synth.generate("v0.33", lines=600, seed=9, busy=True))) if "throughput: " in line][:5]
BASE += [line for line in ENVELOPES["docker-json"](list(synth.generate("v0.6", lines=600, seed=9, busy=True))) if "throughput: " in line][:5]
BASE += [line for line in ENVELOPES["cri"](list(synth.generate("v0.11", lines=600, seed=9, busy=True))) if "throughput: " in line][:5]
PIECES = ["٣", "1e5", "nan", "-1", "\r", "\x1b[0m", "[0;", " ", ".", ", ", "%", "|", '"', "\\", "Waiting: 3 reqs ", "Engine 001: ",
          "Preemptions: 2, ", "Deferred: 1 reqs, ", ", MM cache hit rate: 4.0%", "9" * 30, "(Worker_TP1 pid=3) ", "EngineCore_DP2"]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(BASE), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 3), st.sampled_from(PIECES)), max_size=4))
def test_mutated_lines(line: str, edits: list[tuple[int, int, str]]) -> None:
    """Insert, replace or delete at random places: the fast form takes the line only if the
    general path gives the same pair."""
    for at, cut, piece in edits:
        at = min(at, len(line))
        line = line[:at] + piece + line[at + cut:]
    check(line)


def test_fast_form_really_parses() -> None:
    line = ("\x1b[1;36m(APIServer pid=1)\x1b[0;0m INFO 11-25 17:19:24 [loggers.py:236] Engine 000: Avg prompt throughput: 0.0 tokens/s, "
            "Avg generation throughput: 154.0 tokens/s, Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 1.6%, Prefix cache hit rate: 0.0%")
    context, stats = fast_stats(line, 3, "f")
    assert (context.process, context.pid, context.log_time, context.file, context.line_number) == ("APIServer", 1, "11-25 17:19:24", "loggers.py", 3)
    assert stats == Stats("v1", engine_index=0, prompt_tps=0.0, generation_tps=154.0, running=1, waiting=0, gpu_kv_usage_pct=1.6, prefix_cache_hit_pct=0.0)
    v0 = "INFO 06-03 02:01:19 metrics.py:345] Avg prompt throughput: 1203.4 tokens/s, Avg generation throughput: 845.2 tokens/s, Running: 12 reqs, Swapped: 0 reqs, Pending: 3 reqs, GPU KV cache usage: 23.5%, CPU KV cache usage: 0.0%."
    _, stats = fast_stats(v0, 1, "f")
    assert stats.engine_format == "v0" and stats.waiting == 3 and stats.cpu_kv_usage_pct == 0.0
    assert check(v0)


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(SAMPLES)) for p in LOGS])
def test_analyze_and_export_identical(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def outputs(fast: bool) -> tuple[str, str]:
        monkeypatch.setattr(parser_module, "USE_FAST_STATS", fast)
        summary, _ = analyze_paths([str(log)], year=2026)
        out = io.StringIO()
        info, _ = export_openmetrics([str(log)], out, year=2026)
        return json.dumps(summary, default=str), out.getvalue() + json.dumps(info)

    assert outputs(True) == outputs(False)
