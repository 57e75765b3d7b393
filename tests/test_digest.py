"""`analyze --format table` keeps a digest of each start's stats lines (fold/digest.py) instead of
their rows: the table, the findings and the theory join must be exactly what the full lists
give, on every sample and on a busy log that saturates its KV cache and preempts."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from rich.console import Console

from vllm_obs.archive.analyze import add_theory, analyze_paths
from vllm_obs.archive.findings import findings
from vllm_obs.archive.statsview import line_count
from vllm_obs.archive.table import render_summary

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
LOGS = sorted(p for p in SAMPLES.rglob("*") if p.name.endswith((".log", ".log.gz")))
sys.path.insert(0, str(ROOT))
from benchmarks import synth  # noqa: E402


def views(paths: list[str], stats_rows: bool) -> tuple[str, list[str], object, int]:
    summary, _ = analyze_paths(paths, year=2026, stats_rows=stats_rows)
    add_theory(summary, gpu="H100-SXM")
    out = io.StringIO()
    render_summary(summary, Console(file=out, width=160, color_system=None))
    return out.getvalue(), findings(summary), summary.get("theory"), line_count(summary)


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(SAMPLES)) for p in LOGS])
def test_table_findings_and_theory_identical(log: Path) -> None:
    assert views([str(log)], True) == views([str(log)], False)


def saturating_log(tmp_path: Path) -> Path:
    """A busy V1 log whose KV cache fills for a while (95.5% up to 99.9%) and preempts."""
    lines = [chunk[:-1] for chunk in synth.wrap_none(list(synth.generate("v0.11", lines=20000, seed=7, busy=True, restarts=1)))]
    out, n = [], 0
    for line in lines:
        if "GPU KV cache usage: " in line and "Engine 000:" in line:
            n += 1
            if 40 <= n < 90:  # fifty lines in a row saturated, every fifth with preemptions
                head, _, tail = line.partition("GPU KV cache usage: ")
                line = head + ("Preemptions: 3, " if n % 5 == 0 else "") + f"GPU KV cache usage: {95.5 + (n % 5)}%" + tail[tail.index("%"):]
        out.append(line)
    path = tmp_path / "saturating.log"
    path.write_text("\n".join(out) + "\n")
    return path


def test_saturation_and_preemptions_through_the_digest(tmp_path: Path) -> None:
    path = str(saturating_log(tmp_path))
    full, digest = views([path], True), views([path], False)
    assert full == digest
    text, said, _theory, lines = digest
    assert lines > 150
    assert any(s.startswith("KV cache above 95% for ") for s in said), said
    assert any("requests preempted" in s and "the first around" in s for s in said), said


def test_digest_is_flat_and_json_keeps_rows(tmp_path: Path) -> None:
    summary, _ = analyze_paths([str(saturating_log(tmp_path))], year=2026, stats_rows=False)
    assert summary["stats"] == [] and summary["stats_lines"] > 150
    assert all(start["stats"] == [] and start["stats_digest"]["lines"] >= 0 for start in summary["starts"])
    full, _ = analyze_paths([str(saturating_log(tmp_path))], year=2026)
    assert len(full["stats"]) == summary["stats_lines"]
    assert "stats_digest" not in full["starts"][0]


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(SAMPLES)) for p in LOGS])
def test_streamed_json_theory_identical(log: Path) -> None:
    """`analyze --format json` into a pipe streams each start's stats (summary.StartStats), whose
    best decode rate is found on the rows: the theory join must match the built list's."""
    def theory(lazy: bool) -> tuple[object, list[object]]:
        summary, _ = analyze_paths([str(log)], year=2026, lazy=lazy)
        add_theory(summary, gpu="H100-SXM")
        return summary.get("theory"), [start.get("theory") for start in summary["starts"]]

    assert theory(True) == theory(False)
