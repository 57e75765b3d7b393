"""The command line as a user meets it: real processes, real files, exit codes, one-line errors."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASE_060 = ROOT / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"
CASE_008 = ROOT / "samples" / "real-logs" / "008-v0-late-memory-profile-graph-capture-h100" / "input.log"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vllm_obs", *args], input=stdin, capture_output=True, timeout=120, cwd=ROOT
    )


def test_analyze_json_on_a_real_log() -> None:
    result = run("analyze", str(CASE_060), "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["kv_cache_tokens"], summary["max_concurrency"], summary["model_weights_gib"]) == (395712, 48.3, 15.27)
    assert len(summary["stats"]) == 15
    # 2452 = grep -c 'HTTP/1.1" 200' on the same file
    assert summary["details"]["http_requests_by_status"] == {"200": 2452}


def test_analyze_table_shows_units() -> None:
    result = run("analyze", str(CASE_008))
    assert result.returncode == 0
    out = result.stdout.decode()
    assert "61.84 GiB" in out and "36,184 blocks" in out and "70.67x" in out


def test_gzip_and_stdin_read_the_same(tmp_path: Path) -> None:
    gz = tmp_path / "server.log.gz"
    gz.write_bytes(gzip.compress(CASE_008.read_bytes()))
    plain = json.loads(run("analyze", str(CASE_008), "--format", "json").stdout)
    from_gz = json.loads(run("analyze", str(gz), "--format", "json").stdout)
    from_stdin = json.loads(run("analyze", "-", "--format", "json", stdin=CASE_008.read_bytes()).stdout)
    for summary in (from_gz, from_stdin):
        summary.pop("starts"), plain.pop("starts", None)
    assert plain == from_gz == from_stdin
    # A gzip file is recognised by its content, not its name.
    renamed = tmp_path / "server.log"
    renamed.write_bytes(gz.read_bytes())
    assert json.loads(run("analyze", str(renamed), "--format", "json").stdout)["gpu_blocks"] == 36184


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda p: p / "missing.log", "missing.log: no such file"),
        (lambda p: p, "no log files in this directory"),
    ],
)
def test_unreadable_input_is_one_line_and_exit_2(tmp_path: Path, make, expected: str) -> None:
    target = make(tmp_path)
    result = run("analyze", str(target))
    assert result.returncode == 2
    err = result.stderr.decode()
    assert expected in err and "Traceback" not in err and err.count("\n") == 1


def test_corrupt_gzip_names_the_file_and_keeps_what_was_read(tmp_path: Path) -> None:
    data = gzip.compress(CASE_008.read_bytes())
    bad = tmp_path / "cut.log.gz"
    bad.write_bytes(data[: len(data) // 2])
    result = run("analyze", str(bad), str(CASE_060), "--format", "json")
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "cut.log.gz: corrupt or truncated gzip data" in err and "Traceback" not in err
    # The other file is still summarised.
    assert json.loads(result.stdout)["kv_cache_tokens"] == 395712


def test_empty_file_and_binary_junk(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.log"
    junk.write_bytes(bytes(range(256)) * 100 + b"\xff\xfe\n" * 10 + b"x" * 10_000_000)
    result = run("analyze", str(empty), str(junk), "--format", "json")
    # No vLLM line: exit 1, one line, no (empty) summary. The lines were all read: 100 newlines
    # inside range(256) x 100, 10 more, and the final 10 MB line without one.
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode() == (
        f"vllm-obs analyze: no vLLM log lines in 2 inputs ({empty}, {junk}) (111 lines read): is this a vLLM server log?\n"
    )


def test_parse_prints_jsonl_with_context() -> None:
    result = run("parse", str(CASE_008))
    assert result.returncode == 0
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds == [
        "memory_profile",
        "memory_profile",
        "memory_profile",
        "kv_cache_blocks",
        "max_concurrency",
        "cuda_graph",
        "engine_init",
    ]
    assert records[3]["gpu_blocks"] == 36184 and records[3]["at"]["line_number"] == 4
    assert records[3]["at"]["log_time"] == "02-11 10:17:54"


def test_help_teaches() -> None:
    for command in ("parse", "analyze"):
        result = run(command, "--help")
        assert result.returncode == 0 and b"examples:" in result.stdout
    assert run().returncode == 2


def test_analyze_puts_theory_beside_the_log() -> None:
    result = run("analyze", str(CASE_060), "--model", "Qwen/Qwen3-8B", "--gpu", "H100-SXM", "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    compared = summary["theory"]["observed_vs_theory"]
    # vLLM's own arithmetic on the logged 54.34 GiB budget gives the logged capacity and concurrency.
    assert compared["max_concurrency"] == {"observed": 48.3, "theory": 48.3, "ratio": 1.0}
    assert compared["kv_cache_tokens"]["observed"] == 395712 and abs(compared["kv_cache_tokens"]["ratio"] - 1) < 0.001
    assert compared["model_weights_gib"]["ratio"] == pytest.approx(1.0, abs=0.005)
    assert compared["generation_tokens_per_second"]["theory_is"] == "roofline ceiling"
    assert summary["starts"][0]["theory"]["max_concurrency"] == 48.3
    # Without a model the log does not name in the catalog, there is no theory (and no error).
    plain = json.loads(run("analyze", str(CASE_060), "--format", "json").stdout)
    assert "theory" not in plain


def test_plan_help_default_block_size_is_the_theory_default() -> None:
    from vllm_obs.cli.plan_command import DEFAULT_BLOCK_SIZE
    from vllm_obs.theory.capacity import DEFAULT_BLOCK_SIZE as THEORY_DEFAULT

    assert DEFAULT_BLOCK_SIZE == THEORY_DEFAULT


def test_nothing_readable_means_no_output(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.log")
    result = run("analyze", missing)
    assert result.returncode == 2 and result.stdout == b""
    out = tmp_path / "r.html"
    result = run("report", missing, "-o", str(out))
    assert result.returncode == 2 and not out.exists() and b"missing.log: no such file" in result.stderr


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--gpu", "NOPE-9000"], "unknown GPU 'NOPE-9000'"),
        (["--model", "Qwen/Qwen3-8Bx"], "Closest catalog names: Qwen/Qwen3-8B"),
        (["--model-config", "/nonexistent/config.json"], "config.json"),
        (["--kubernetes-glob", "/x/*/*/*.log"], "add --kubernetes"),
        (["--stdin"], "--stdin reads one piped stream"),
    ],
)
def test_run_rejects_typos_and_contradictions_at_start(tmp_path: Path, flags: list[str], says: str) -> None:
    result = run("run", "--file", str(tmp_path / "vllm.log"), *flags, "--print-config")
    stderr = result.stderr.decode() if isinstance(result.stderr, bytes) else result.stderr
    assert result.returncode == 2 and stderr.count("\n") == 1 and says in stderr, stderr


def test_run_rejects_an_unknown_environment_variable(tmp_path: Path) -> None:
    import os

    result = subprocess.run([sys.executable, "-m", "vllm_obs", "run", "--file", str(tmp_path / "x.log"), "--print-config"],
                            capture_output=True, text=True, env=dict(os.environ, VLLM_OBS_PROT="9401"), timeout=60)
    assert result.returncode == 2 and "unknown environment variable VLLM_OBS_PROT" in result.stderr
