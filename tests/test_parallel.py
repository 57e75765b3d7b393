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


def busy_log(tmp_path: Path, wrap: str, lines: int = 60_000) -> Path:
    """A busy V1 server with a restart, in an envelope that takes the bulk path, several batches long."""
    import sys

    sys.path.insert(0, str(SAMPLES.parent))
    from benchmarks import synth

    raw = list(synth.generate("v0.11", lines=lines, seed=11, restarts=1, busy=True, network=synth.NETWORK_FOR_WRAP.get(wrap, "local")))
    path = tmp_path / f"busy-{wrap}.log"
    path.write_text("".join(synth.WRAPS[wrap](raw)))
    return path


@pytest.mark.parametrize("wrap", ["none", "cri", "docker-json", "docker-timestamps"])
def test_one_file_with_the_pass_ahead_gives_one_process_output(tmp_path: Path, wrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One file and --jobs 2: the bulk path's C pass runs in a worker ahead of the parser
    (parallel.ClassifyAhead); small batches make it cross many batch edges."""
    from vllm_obs.ingest import reader
    from vllm_obs.parse import parallel

    path = str(busy_log(tmp_path, wrap))
    monkeypatch.setattr("vllm_obs.parse.driver.AHEAD_MIN_BYTES", 0)  # these logs are a few MB
    original = reader.iter_line_batches
    monkeypatch.setattr("vllm_obs.parse.driver.iter_line_batches", lambda p, on_progress=None: original(p, 200_000, on_progress))
    passes = []
    submit = parallel.ClassifyAhead.submit
    monkeypatch.setattr(parallel.ClassifyAhead, "submit", lambda self, text: passes.append(1) or submit(self, text))
    one, _ = analyze_paths([path], year=2026, jobs=1)
    assert not passes
    two, _ = analyze_paths([path], year=2026, jobs=2)
    assert len(passes) > 20  # the worker really did the pass, batch after batch
    assert json.dumps(two) == json.dumps(one)
    assert sum(one["details"]["http_requests_by_status"].values()) > 30_000


def test_pass_ahead_falls_back_when_the_worker_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_obs.parse import parallel

    path = str(busy_log(tmp_path, "cri", 20_000))
    monkeypatch.setattr("vllm_obs.parse.driver.AHEAD_MIN_BYTES", 0)
    one, _ = analyze_paths([path], year=2026, jobs=1)
    monkeypatch.setattr(parallel, "classify", _broken_classify)
    two, _ = analyze_paths([path], year=2026, jobs=2)
    assert json.dumps(two) == json.dumps(one)


def _broken_classify(text: str) -> object:
    raise RuntimeError("worker failed")


@pytest.mark.parametrize("log", LOGS, ids=[str(p.relative_to(SAMPLES)) for p in LOGS])
def test_every_sample_with_the_pass_ahead(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_obs.parse import parallel

    monkeypatch.setattr("vllm_obs.parse.driver.AHEAD_MIN_BYTES", 0)
    passes = []
    submit = parallel.ClassifyAhead.submit
    monkeypatch.setattr(parallel.ClassifyAhead, "submit", lambda self, text: passes.append(1) or submit(self, text))
    one, _ = analyze_paths([str(log)], year=2026, jobs=1)
    two, _ = analyze_paths([str(log)], year=2026, jobs=2)
    assert passes
    assert json.dumps(two) == json.dumps(one)


def test_no_worker_for_a_small_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_obs.parse import parallel

    started = []
    monkeypatch.setattr(parallel.ClassifyAhead, "__init__", lambda self: started.append(1) or None)
    analyze_paths([str(LOGS[0])], year=2026, jobs=2)
    assert not started
