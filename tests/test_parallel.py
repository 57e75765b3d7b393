"""`--jobs`: several files parsed in worker processes give exactly one process's output."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from vllm_obs.archive.analyze import analyze_paths
from vllm_obs.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LOGS = sorted(p for p in SAMPLES.rglob("*") if p.name.endswith(".log"))


def test_jobs_give_the_output_of_one_process(tmp_path: Path) -> None:
    # Every sample as one archive (several engine starts, V0 and V1, every envelope), one of
    # them gzipped, one missing: the order of files decides which start an access line joins.
    gz = tmp_path / "first.log.gz"
    with open(LOGS[0], "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    paths = [str(gz), *map(str, LOGS[1:]), str(tmp_path / "missing.log")]
    one, problems_one = analyze_paths(paths, year=2026, jobs=1)
    two, problems_two = analyze_paths(paths, year=2026, jobs=2)
    assert len(one["starts"]) >= 10
    assert problems_one == problems_two == [f"{tmp_path / 'missing.log'}: no such file"]
    assert json.dumps(two) == json.dumps(one)
    # The order still matters (it is one log): reversed, the last start is another one.
    reversed_summary, _ = analyze_paths(list(reversed(paths)), year=2026, jobs=2)
    assert json.dumps(reversed_summary) != json.dumps(one)


def test_cli_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in LOGS[:3]]
    assert main(["analyze", "--format", "json", "--jobs", "1", *files]) == 0
    one = capsys.readouterr().out
    assert main(["analyze", "--format", "json", "--jobs", "3", *files]) == 0
    assert capsys.readouterr().out == one
    assert main(["analyze", "--jobs", "0", *files]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
