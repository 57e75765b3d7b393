"""Honest interfaces: no vLLM line is its own outcome (exit 1, one line), typos fail loudly
(exit 2, plan's "Did you mean"), shell manners (SIGPIPE, --year), the catalogs listed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASE_060 = ROOT / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"
LS = Path("/usr/bin/ls")


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vllm_obs", *args], input=stdin, capture_output=True, text=stdin is None, timeout=120)


def command_line(command: str, path: str, out: Path) -> list[str]:
    return {
        "analyze": ["analyze", path],
        "parse": ["parse", path],
        "report": ["report", path, "-o", str(out)],
        "export": ["export", "--openmetrics", path, "-o", str(out)],
    }[command]


def lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") + (0 if path.read_bytes().endswith(b"\n") or not path.read_bytes() else 1)


@pytest.mark.parametrize("command", ["analyze", "parse", "report", "export"])
def test_no_vllm_line_is_one_line_and_exit_1(command: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    (unrelated / "app.log").write_text("GET / 200\nGET /health 200\n")
    (unrelated / "notes.txt").write_text("shopping list\n")
    targets = [(empty, 0), (LS, lines_in(LS))] + ([(unrelated, 3)] if command != "parse" else [])  # parse reads files only
    for target, read in targets:
        out = tmp_path / "out"
        result = run(*command_line(command, str(target), out))
        where = str(target) if target is not unrelated else f"2 inputs ({unrelated / 'app.log'}, {unrelated / 'notes.txt'})"
        assert (result.returncode, result.stdout) == (1, ""), (target, result.stderr)
        assert result.stderr == f"vllm-obs {command}: no vLLM log lines in {where} ({read:,} lines read): is this a vLLM server log?\n"
        assert not out.exists()  # no empty page or backfill file
    if command in ("export", "parse"):  # to stdout: nothing either
        result = run(*command_line(command, str(LS), out)[:-1], "-") if command == "export" else run("parse", str(LS))
        assert (result.returncode, result.stdout) == (1, "")


@pytest.mark.parametrize("command", ["analyze", "parse"])
def test_empty_stdin_says_stdin_was_empty(command: str) -> None:
    # A failed producer: `docker logs vllm 2>/dev/null | vllm-obs analyze -` with no daemon.
    producer = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(1)"], stdout=subprocess.PIPE)
    result = subprocess.run([sys.executable, "-m", "vllm_obs", command, "-"], stdin=producer.stdout, capture_output=True, text=True, timeout=60)
    producer.stdout.close()
    assert producer.wait(timeout=30) == 1
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"vllm-obs {command}: stdin was empty (0 lines read): did the command before the pipe fail?\n"


def test_the_report_page_is_never_nothing_unusual_on_no_vllm_line() -> None:
    from vllm_obs.archive.findings import findings

    summary = {"details": {"lines": {"matched": 0, "unmatched": 509, "error": 0}}, "starts": []}
    assert findings(summary) == ["No vLLM log lines in the input: nothing to say about it."]


@pytest.mark.parametrize("command", ["analyze", "report", "export"])
def test_typos_fail_loudly(command: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = command_line(command, str(CASE_060), out)
    gpu = run(*base, "--gpu", "H100-SMX")
    assert gpu.returncode == 2 and gpu.stdout == "" and not out.exists()
    assert gpu.stderr.startswith(f"vllm-obs {command}: unknown GPU 'H100-SMX'. Did you mean H100-SXM")
    assert gpu.stderr.count("\n") == 1 and "--gpu-memory-gib" not in gpu.stderr  # a plan-only flag
    model = run(*base, "--model", "Qwen/Qwen3-8C")
    assert model.returncode == 2 and "unknown model 'Qwen/Qwen3-8C'. Closest catalog names: Qwen/Qwen3-8B" in model.stderr
    config = run(*base, "--model-config", str(tmp_path / "nowhere" / "config.json"))
    assert config.returncode == 2 and config.stderr.startswith(f"vllm-obs {command}: ") and "Traceback" not in config.stderr
    # The right names still work (and the theory is there).
    if command == "analyze":
        good = run("analyze", str(CASE_060), "--format", "json", "--gpu", "H100-SXM", "--model", "Qwen/Qwen3-8B")
        assert good.returncode == 0 and json.loads(good.stdout)["theory"]["gpu"] == "H100-SXM"


@pytest.mark.parametrize("year", ["-5", "99999", "twenty"])
def test_bad_year_is_a_usage_error(year: str, tmp_path: Path) -> None:
    result = run("export", "--openmetrics", str(CASE_060), "-o", str(tmp_path / "o.om"), "--year", year)
    assert result.returncode == 2 and "--year" in result.stderr and "e.g. --year 2026" in result.stderr
    assert "no dated vLLM line" not in result.stderr and "Traceback" not in result.stderr


def test_sigpipe_is_quiet(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(CASE_060.read_bytes() * 20)
    pipeline = subprocess.run(
        f"set -o pipefail; {sys.executable} -m vllm_obs parse {big} | head -n 2 >/dev/null; echo parse=$?; "
        f"{sys.executable} -m vllm_obs analyze {big} --format json | head -c 10 >/dev/null; echo analyze=$?; "
        f"{sys.executable} -m vllm_obs analyze {big} | head -n 1 >/dev/null; echo table=$?; "
        f"{sys.executable} -m vllm_obs catalog models | head -n 1 >/dev/null; echo catalog=$?",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=120,
    )
    assert pipeline.stdout.split() == ["parse=0", "analyze=0", "table=0", "catalog=0"], pipeline.stderr
    assert "Traceback" not in pipeline.stderr and "Broken pipe" not in pipeline.stderr


def test_catalog_lists_models_and_gpus_with_sources() -> None:
    models = run("catalog", "models")
    assert models.returncode == 0
    rows = [line for line in models.stdout.splitlines() if line.split()[:1] == ["Qwen/Qwen3-8B"]]
    assert len(rows) == 1 and "huggingface.co" in rows[0]
    gpus = run("catalog", "gpus", "--format", "json")
    listed = {g["name"]: g for g in json.loads(gpus.stdout)}
    assert listed["H100-SXM"]["memory_bandwidth_gb_s"] > 3000 and listed["H100-SXM"]["source"]
    from vllm_obs.theory.model_catalog import catalog_names
    from vllm_obs.theory.gpus import gpu_names

    assert set(listed) == set(gpu_names())
    as_json = {m["repo"] for m in json.loads(run("catalog", "models", "--format", "json").stdout)}
    assert {names for names in as_json} <= set(catalog_names()) and len(as_json) >= 30
