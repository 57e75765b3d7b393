"""Golden files: what `parse` and `analyze` print for every bundled sample log.

Rewritten only with `pytest tests/test_golden.py --update-golden`; review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_obs.archive.analyze import analyze_paths
from vllm_obs.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LOGS = sorted(p for p in SAMPLES.rglob("*") if p.name.endswith((".log", ".log.gz")))


def _check(path: Path, actual: str, update: bool) -> None:
    if update or not path.exists():
        if not update:
            pytest.fail(f"missing golden file {path.relative_to(SAMPLES)}: run pytest --update-golden and review it")
        path.write_text(actual)
        return
    assert actual == path.read_text(), f"{path.relative_to(SAMPLES)} differs (run --update-golden and review the diff)"


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(SAMPLES)) for p in LOGS])
def test_golden_records(log: Path, update_golden: bool, capsys) -> None:
    assert main(["parse", "--no-context", str(log)]) == 0
    _check(log.with_name(log.name + ".records.jsonl"), capsys.readouterr().out, update_golden)


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(SAMPLES)) for p in LOGS])
def test_golden_summary(log: Path, update_golden: bool) -> None:
    # A fixed year: inferring it from the file's modification time would tie the golden file to
    # the day of the checkout.
    summary, problems = analyze_paths([str(log)], year=2026)
    assert problems == []
    # The source path is machine-specific; keep the golden file portable.
    _check(log.with_name(log.name + ".summary.json"), json.dumps(summary, indent=1) + "\n", update_golden)


def test_samples_are_found() -> None:
    assert len(LOGS) >= 16


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(SAMPLES)) for p in LOGS])
def test_streamed_json_equals_the_materialized_summary(log: Path) -> None:
    """analyze --format json streams its stats lists (flat memory on archives): byte for byte
    the compact json.dumps of the materialized summary."""
    import io

    from vllm_obs.fold.jsonstream import write_json

    materialized, _ = analyze_paths([str(log)], year=2026)
    lazy, _ = analyze_paths([str(log)], year=2026, lazy=True)
    out = io.StringIO()
    write_json(lazy, out)
    assert out.getvalue() == json.dumps(materialized, separators=(",", ":"))
