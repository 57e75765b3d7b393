"""Archives: rotated and compressed sets, time zones and the year boundary, many restarts,
empty and corrupt .gz files: clear results or one-line errors, nothing silently dropped."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from logtools import days_later

from vllm_obs.ingest.discovery import expand_inputs, order_rotated
from vllm_obs.parse.records import LineContext
from vllm_obs.ingest.timestamps import Timeline, parse_outer_time, parse_timezone

ROOT = Path(__file__).resolve().parent.parent
LOG_060 = ROOT / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"
STATS = (
    "INFO {stamp} metrics.py:345] Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: {gen} tokens/s, "
    "Running: 1 reqs, Swapped: 0 reqs, Pending: 0 reqs, GPU KV cache usage: 2.0%, CPU KV cache usage: 0.0%."
)


def analyze(*args: str) -> tuple[int, dict, str]:
    result = subprocess.run([sys.executable, "-m", "vllm_obs", "analyze", *args, "--format", "json"], capture_output=True, text=True)
    return result.returncode, json.loads(result.stdout) if result.stdout else {}, result.stderr


def test_rotated_sets_are_put_back_in_time_order(tmp_path: Path) -> None:
    names = ["vllm.log", "vllm.log.1", "vllm.log.2.gz", "vllm.log.10.gz", "other.log-20261120.gz", "other.log-20261119", "other.log"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    ordered = [Path(p).name for p in expand_inputs([str(tmp_path)])]
    assert ordered == ["other.log-20261119", "other.log-20261120.gz", "other.log", "vllm.log.10.gz", "vllm.log.2.gz", "vllm.log.1", "vllm.log"]
    # Named one by one, newest first, they are still read oldest first.
    assert [Path(p).name for p in order_rotated([str(tmp_path / n) for n in ("vllm.log", "vllm.log.1", "vllm.log.2.gz")])] == [
        "vllm.log.2.gz", "vllm.log.1", "vllm.log"]
    # Docker json-file and kubelet rotations.
    assert order_rotated(["c-json.log", "c-json.log.2", "c-json.log.1"]) == ["c-json.log.2", "c-json.log.1", "c-json.log"]
    assert order_rotated(["0.log", "0.log.20261121-101010"]) == ["0.log.20261121-101010", "0.log"]


def test_a_rotated_compressed_set_gives_the_whole_log(tmp_path: Path) -> None:
    lines = LOG_060.read_bytes().split(b"\n")[:-1]
    part = lambda a, b: b"".join(line + b"\n" for line in lines[a:b])  # noqa: E731
    (tmp_path / "vllm.log.2.gz").write_bytes(gzip.compress(part(0, 1000)))
    (tmp_path / "vllm.log.1").write_bytes(part(1000, 2000))
    (tmp_path / "vllm.log").write_bytes(part(2000, len(lines)))
    code, whole, _ = analyze(str(LOG_060))
    code_set, rotated, err = analyze(str(tmp_path))
    assert code == code_set == 0, err
    for key in ("kv_cache_tokens", "model_weights_gib", "stats"):
        assert rotated[key] == whole[key]
    assert rotated["details"]["lines"] == whole["details"]["lines"] and rotated["details"]["engine_starts"] == 1


def test_empty_and_corrupt_gz_in_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(LOG_060.read_bytes())
    (tmp_path / "empty.log.gz").write_bytes(gzip.compress(b""))
    data = gzip.compress(LOG_060.read_bytes())
    (tmp_path / "cut.log.gz").write_bytes(data[: len(data) // 3])
    (tmp_path / "zero.log.gz").write_bytes(b"")  # not even a gzip header: read as an empty file
    code, summary, err = analyze(str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and "cut.log.gz: corrupt or truncated gzip data after" in err and "Traceback" not in err
    assert summary["kv_cache_tokens"] == 395712  # what could be read is summarised
    # The lines read before the cut are counted, not dropped.
    assert summary["details"]["lines"]["matched"] > 2501


def test_year_boundary_and_time_zone() -> None:
    timeline = Timeline(year=2025, tz=parse_timezone("Europe/Berlin"))
    stamps = ["12-31 23:59:50", "12-31 23:59:59", "01-01 00:00:05", "01-01 00:00:15"]
    times = [timeline.resolve(LineContext(1, "x", log_time=s)) for s in stamps]
    assert times == sorted(times)
    assert datetime.fromtimestamp(times[2], timezone.utc) == datetime(2025, 12, 31, 23, 0, 5, tzinfo=timezone.utc)  # Berlin is UTC+1
    # An outer timestamp wins over vLLM's own.
    ctx = LineContext(1, "x", outer_time="2026-05-12T07:51:39.301802920Z", log_time="01-01 00:00:00")
    assert Timeline(year=1999).resolve(ctx) == parse_outer_time("2026-05-12T07:51:39.301802920Z")


def test_year_inferred_from_the_file_mtime(tmp_path: Path) -> None:
    log = tmp_path / "old.log"
    log.write_text("\n".join(STATS.format(stamp=s, gen=g) for s, g in (("12-31 23:59:55", 1.0), ("01-01 00:00:05", 2.0))) + "\n")
    mtime = datetime(2021, 1, 1, 0, 1, tzinfo=timezone.utc).timestamp()
    os.utime(log, (mtime, mtime))  # written on New Year's Day 2021: the first line is from 2020
    code, summary, _ = analyze(str(log))
    assert code == 0
    assert [s["time"] for s in summary["starts"][0]["stats"]] == ["2020-12-31T23:59:55.000Z", "2021-01-01T00:00:05.000Z"]
    code, summary, _ = analyze(str(log), "--year", "2030")
    assert summary["starts"][0]["stats"][0]["time"] == "2030-12-31T23:59:55.000Z"


def test_several_restarts_are_separate_starts(tmp_path: Path) -> None:
    log = tmp_path / "restarts.log"
    one_run = LOG_060.read_text()
    log.write_text("".join(days_later(one_run, days) for days in range(3)))
    code, summary, _ = analyze(str(log))
    assert code == 0
    assert summary["details"]["engine_starts"] == 3 and len(summary["starts"]) == 3
    assert [len(s["stats"]) for s in summary["starts"]] == [15, 15, 15]
    assert all(s["kv_cache_tokens"] == 395712 for s in summary["starts"])
    assert len(summary["stats"]) == 45  # the contract's list keeps every stats line
