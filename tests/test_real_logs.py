"""Every labelled real log gives exactly its expected.json fields (the analyze JSON contract)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_obs.archive.analyze import analyze_paths

CASES = sorted((Path(__file__).resolve().parent.parent / "samples" / "real-logs").glob("*/expected.json"))


def _expected(path: Path) -> dict:
    expected = json.loads(path.read_text())
    # The labels keep V0's word "pending"; the tool's contract names it "waiting" for every engine.
    for entry in expected.get("stats", []):
        if "pending" in entry:
            entry["waiting"] = entry.pop("pending")
    return expected


@pytest.mark.parametrize("expected_path", CASES, ids=[p.parent.name for p in CASES])
def test_real_log_gives_its_labelled_fields(expected_path: Path) -> None:
    expected = _expected(expected_path)
    summary, problems = analyze_paths([str(expected_path.parent / "input.log")])
    assert problems == []
    # "errors_absent": kinds the log must not give (a clean stop is not a failure).
    absent = set(expected.pop("errors_absent", ()))
    given = [e["kind"] for e in summary.get("errors", [])]
    assert absent.isdisjoint(given), f"errors: {given}"
    for key, value in expected.items():
        assert summary.get(key) == value, f"{key}: expected {value!r}, got {summary.get(key)!r}"
    # Nothing under a contract name that the labels say vLLM did not print; `stats` and `errors`
    # are always there, as empty lists when the log has none.
    contract_extra = set(summary) - set(expected) - {"details", "starts"}
    assert {key for key in contract_extra if summary[key] != []} == set()
    assert isinstance(summary["stats"], list) and isinstance(summary["errors"], list)


def test_the_labelled_cases_are_found() -> None:
    # 15 excerpts from public threads and one whole real H100 server log (case 060).
    assert len(CASES) >= 16
