"""vllm-obs fleet on a generated 200-pod Kubernetes tree: the process pool with 1 and 2 workers
and a real local Ray cluster (2 CPUs) give the same Parquet files; rows equal `analyze`'s."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

pq = pytest.importorskip("pyarrow.parquet", reason="the fleet tests need the fleet extra: pip install -e '.[test]'")
ray = pytest.importorskip("ray", reason="the fleet tests need the fleet extra: pip install -e '.[test]'")

from fleet_tree import CRASHLOOP_RESTARTS, PODS, build_tree
from realparts import free_port

TABLES = ("starts", "stats", "errors", "sources")


def fleet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vllm_obs", "fleet", *args, "--no-progress"],
                          capture_output=True, text=True, timeout=600)


def tables(outdir: Path) -> dict[str, list[dict]]:
    return {name: pq.read_table(outdir / f"{name}.parquet").to_pylist() for name in TABLES}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("cluster")
    return root, build_tree(root)


@pytest.fixture(scope="module")
def runs(tree, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """The tree analyzed three ways; one Ray cluster for the module, stopped at the end."""
    root, _keys = tree
    out = tmp_path_factory.mktemp("runs")
    results = {}
    for name, extra in (("jobs1", ["--jobs", "1"]), ("jobs2", ["--jobs", "2"])):
        results[name] = (fleet(str(root), "-o", str(out / name), *extra), out / name)
    # Ray's session files under the test's temporary directory, not /tmp/ray.
    context = ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", _node_ip_address="127.0.0.1",
                       _temp_dir=str(tmp_path_factory.mktemp("ray")))
    try:
        address = context.address_info["gcs_address"]
        results["ray"] = (fleet(str(root), "-o", str(out / "ray"), "--engine", "ray", "--ray-address", address), out / "ray")
    finally:
        ray.shutdown()
    return results


def test_three_engines_give_identical_parquet(runs):
    for name, (proc, _out) in runs.items():
        assert proc.returncode == 0, (name, proc.stderr)
    first = tables(runs["jobs1"][1])
    assert len(first["sources"]) == PODS + 2  # 200 pods, one Docker set, one host log
    assert len(first["stats"]) > 1000 and len(first["errors"]) > 10
    for name in ("jobs2", "ray"):
        assert tables(runs[name][1]) == first, name
        for table in TABLES:  # same rows in the same row groups: the files are byte for byte equal
            assert (runs[name][1] / f"{table}.parquet").read_bytes() == (runs["jobs1"][1] / f"{table}.parquet").read_bytes()
    keys = [row["source"] for row in first["sources"]]
    assert keys == sorted(keys)


def test_labels_from_the_layouts(runs, tree):
    _root, keys = tree
    sources = {row["source"]: row for row in tables(runs["jobs1"][1])["sources"]}
    crash = sources[keys["crashloop"]]
    assert (crash["namespace"], crash["pod"], crash["container"]) == ("batch", "crashloop", "vllm")
    assert crash["members"] == [f"{keys['crashloop']}/{k}.log" for k in range(CRASHLOOP_RESTARTS)]
    hot = sources[keys["kv-hot"]]
    assert hot["members"] == [f"{keys['kv-hot']}/0.log.20261125-170000.gz", f"{keys['kv-hot']}/0.log"]
    docker = sources[keys["docker"]]
    assert docker["container_id"] == keys["docker"].split("/")[2] and docker["namespace"] is None
    assert docker["members"] == [keys["docker"] + ".1", keys["docker"]]
    assert sources[keys["host"]]["members"] == ["hosts/gpu-node-a/vllm.log.1", "hosts/gpu-node-a/vllm.log"]
    assert Counter(row["namespace"] for row in sources.values()) == Counter(
        {"serving": 68, "batch": 66, "research": 66, None: 2})


def test_unreadable_sources_are_reported_and_do_not_stop_the_others(runs, tree):
    _root, keys = tree
    proc, out = runs["jobs2"]
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 2
    broken = next(line for line in warnings if keys["broken"] in line)
    assert "corrupt or truncated gzip data after 0 lines" in broken and broken.endswith("(source skipped)")
    sources = {row["source"]: row for row in tables(out)["sources"]}
    assert sources[keys["broken"]]["status"] == "failed"
    assert sources[keys["broken"]]["engine_starts"] == 0
    half = sources[keys["halfgz"]]
    assert half["status"] == "partial" and "truncated gzip" in half["problems"][0] and half["lines_matched"] > 0
    assert Counter(row["status"] for row in sources.values()) == Counter({"ok": PODS, "failed": 1, "partial": 1})
    page = (out / "fleet.html").read_text()
    unreadable = page.split("Sources with unreadable input")[1]
    assert f"<td title='{keys['broken']}'>research / broken / vllm</td>" in unreadable


def _analyze_json(root: Path, members: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", "vllm_obs", "analyze", *[str(root / m) for m in members], "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 2), proc.stderr
    return json.loads(proc.stdout)


def _time(text: str | None):
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _saturated_minutes(stats: list[dict]) -> float:
    """Test oracle: seconds from a >= 90 % stats line to the next, at most 60 s each."""
    seconds = 0.0
    for here, there in zip(stats, stats[1:]):
        if here.get("gpu_kv_usage_pct", 0) >= 90:
            seconds += min((_time(there["time"]) - _time(here["time"])).total_seconds(), 60)
    return round(seconds / 60, 3)


@pytest.mark.parametrize("role", ["crashloop", "restarts", "kv-hot", "docker", "host", "halfgz"])
def test_start_rows_equal_analyze_json(runs, tree, role):
    root, keys = tree
    key = keys[role]
    got = tables(runs["jobs1"][1])
    members = next(row["members"] for row in got["sources"] if row["source"] == key)
    summary = _analyze_json(root, members)
    rows = [row for row in got["starts"] if row["source"] == key]
    assert len(rows) == len(summary["starts"]) >= 1
    stats_rows = [row for row in got["stats"] if row["source"] == key]
    error_rows = [row for row in got["errors"] if row["source"] == key]
    for row, start in zip(rows, summary["starts"]):
        assert row["start_index"] == start["index"]
        other = json.loads(row["other_json"] or "{}")
        for name, value in start.items():
            if name in ("index", "started_at", "stopped_at", "stats", "errors", "details", "theory"):
                continue
            if name in row:  # a column: the same value (a list of served names is joined)
                assert row[name] == (",".join(value) if isinstance(value, list) else value), (role, name)
            else:  # a key the summary grew after this table: kept as JSON
                assert other[name] == value, (role, name)
        assert row["started_at"] == _time(start["started_at"])
        assert row["stopped_at"] == _time(start.get("stopped_at"))
        assert row["stop_reason"] == start.get("stop_reason")
        kinds = Counter(error["kind"] for error in start["errors"])
        assert row["errors_total"] == len(start["errors"])
        for kind in ("preemption", "cuda_oom", "engine_fatal", "insufficient_kv_cache"):
            assert row[f"errors_{kind}"] == kinds[kind]
        for peak in ("peak_running", "peak_waiting", "peak_gpu_kv_usage_pct", "enable_prefix_caching", "enforce_eager",
                     "block_size", "max_num_seqs", "max_num_batched_tokens"):
            assert row[peak] == start["details"].get(peak)
        assert row["kv_saturated_minutes"] == _saturated_minutes(start["stats"])
        for name, compared in (start.get("theory") or {}).get("observed_vs_theory", {}).items():
            if f"{name}_ratio" in row:
                assert row[f"{name}_ratio"] == compared["ratio"] and row[f"{name}_theory"] == compared["theory"]
        mine = [r for r in stats_rows if r["start_index"] == start["index"]]
        assert len(mine) == len(start["stats"])
        for r, entry in zip(mine, start["stats"]):
            assert r["time"] == _time(entry.get("time"))
            for name in ("running", "waiting", "gpu_kv_usage_pct", "generation_tps", "prompt_tps"):
                assert r[name] == entry.get(name)
        assert [(e["kind"], e["message"]) for e in error_rows if e["start_index"] == start["index"]] == \
            [(e["kind"], e["message"]) for e in start["errors"]]


def test_crash_loop_gives_one_row_per_start(runs, tree):
    _root, keys = tree
    rows = [row for row in tables(runs["ray"][1])["starts"] if row["source"] == keys["crashloop"]]
    assert [row["start_index"] for row in rows] == list(range(CRASHLOOP_RESTARTS))
    assert {row["last_failure_kind"] for row in rows} == {"engine_fatal"}
    assert all(row["errors_cuda_oom"] >= 1 for row in rows)
    gaps = [(b["started_at"] - a["started_at"]).total_seconds() for a, b in zip(rows, rows[1:])]
    assert gaps == [600.0] * (CRASHLOOP_RESTARTS - 1)  # the restarts were written ten minutes apart


def test_rotated_gz_pod_equals_its_unrotated_log(runs, tree, tmp_path):
    """The kv-hot pod (half in a rotated .gz) gives the rows of the sample it was cut from."""
    _root, keys = tree
    sample = Path(__file__).resolve().parent.parent / "samples/constructed/v0.11/h100-qwen3-8b-apiserver-prefix.log"
    whole = _analyze_json(sample.parent, [sample.name])
    row = next(row for row in tables(runs["jobs1"][1])["starts"] if row["source"] == keys["kv-hot"])
    assert row["kv_saturated_minutes"] == _saturated_minutes(whole["starts"][0]["stats"]) > 0
    assert row["stats_lines"] == len(whole["stats"])
    assert row["kv_cache_tokens"] == whole["kv_cache_tokens"]


def test_fleet_page_ranks_by_kv_saturation(runs):
    out = runs["jobs2"][1]
    page = (out / "fleet.html").read_text()
    assert "<script" not in page and "src=" not in page and "http://" not in page  # self-contained
    minutes: Counter = Counter()
    for row in tables(out)["starts"]:
        minutes[row["source"]] += row["kv_saturated_minutes"]
    ranking = page.split("Sources by KV saturation")[1].split("</table>")[0]
    order = [key for key, _m in minutes.most_common(3)]
    positions = [ranking.index(f"<td title='{key}'>") for key in order]
    assert positions == sorted(positions)
    assert "Observed capacity vs theory, per model" in page and "Qwen/Qwen3-8B" in page


def test_exit_codes(tmp_path, tree):
    root, keys = tree
    only_broken = root / keys["broken"]
    proc = fleet(str(only_broken), "-o", str(tmp_path / "a"))
    assert proc.returncode == 1 and "0 of 1 sources read" in proc.stderr
    proc = fleet(str(tmp_path / "nowhere"), "-o", str(tmp_path / "b"))
    assert proc.returncode == 2 and "no log files found" in proc.stderr and "Traceback" not in proc.stderr
    proc = fleet(str(root), "-o", str(tmp_path / "c"), "--jobs", "0")
    assert proc.returncode == 2 and proc.stderr.strip() == "vllm-obs fleet: --jobs must be at least 1"
    proc = fleet(str(root), "-o", str(tmp_path / "d"), "--ray-address", "127.0.0.1:1")
    assert proc.returncode == 2 and "--ray-address needs --engine ray" in proc.stderr
    closed = free_port()  # nothing listens there: one line in seconds, not Ray's minutes of retries
    proc = fleet(str(root), "-o", str(tmp_path / "e"), "--engine", "ray", "--ray-address", f"127.0.0.1:{closed}")
    assert proc.returncode == 2 and proc.stderr.strip() == f"vllm-obs fleet: cannot reach Ray at 127.0.0.1:{closed} (Connection refused)"
    assert not (tmp_path / "e").exists()  # the engine failed before any output was created


def test_every_column_is_documented():
    from vllm_obs.fleet.tables import TABLES as SCHEMAS

    doc = (Path(__file__).resolve().parent.parent / "docs" / "fleet.md").read_text()
    for name, schema in SCHEMAS.items():
        assert f"### {name}.parquet" in doc
        for column in schema.names:
            base = column.removesuffix("_theory").removesuffix("_ratio")
            assert f"`{column}`" in doc or (base != column and f"`{base}`" in doc), (name, column)


def test_reports_are_linked_from_the_fleet_page(tmp_path):
    samples = Path(__file__).resolve().parent.parent / "samples"
    tree = tmp_path / "tree"
    for name in ("v0.33/h100-llama31-8b.log", "v0.4/a100-llama3-8b-preemption.log"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes((samples / "constructed" / name).read_bytes())
    proc = fleet(str(tree), "-o", str(tmp_path / "out"), "--reports", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "out" / "fleet.html").read_text()
    links = sorted(set(re.findall(r"href='(reports/[^']+)'", page)))
    assert links == ["reports/v0.33_h100-llama31-8b.log.html", "reports/v0.4_a100-llama3-8b-preemption.log.html"]
    for link, model in zip(links, ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3-8B-Instruct")):
        report = (tmp_path / "out" / link).read_text()
        assert report.startswith("<!doctype html>") or "<html" in report[:200]
        assert model in report and "uPlot" in report


def test_documented_duckdb_queries_run(runs, tree, monkeypatch):
    """docs/fleet.md's queries on a real run (DuckDB is a documented consumer, not a dependency)."""
    duckdb = pytest.importorskip("duckdb")
    _root, keys = tree
    doc = (Path(__file__).resolve().parent.parent / "docs" / "fleet.md").read_text()
    queries = re.findall(r"```sql\n(.*?)```", doc, re.S)
    assert len(queries) >= 6
    monkeypatch.chdir(runs["jobs1"][1])
    answers = {}
    for query in queries:
        answers[query.split("\n")[0]] = rows = duckdb.sql(query).fetchall()
        assert rows, query
    restarts = next(rows for head, rows in answers.items() if "restarts" in head)
    crash = next(row for row in restarts if row[1] == "crashloop")
    assert crash[2] == 3 and crash[3] == ["engine_fatal"] * 4
    unreadable = next(rows for head, rows in answers.items() if "sources.parquet" in head)
    assert {row[0] for row in unreadable} == {keys["broken"], keys["halfgz"]}


def test_results_come_back_in_source_order_with_a_bounded_window():
    """Tasks that finish newest first still come out in source order, and no more than the
    window is ever held (submitted and not yet handed back)."""
    from vllm_obs.fleet.discovery import Source
    from vllm_obs.fleet.engines import _ordered

    sources = [Source(key=f"s{i:02d}", root="r", members=(), names=(), size_bytes=0) for i in range(23)]
    held, peak = set(), 0

    def submit(source):
        nonlocal peak
        held.add(source.key)
        peak = max(peak, len(held))
        return source.key

    def wait_any(handles):
        return [max(handles)]  # the newest task finishes first

    out = []
    for result in _ordered(sources, submit, wait_any, lambda handle, source: {"key": handle}, window=5, on_done=None):
        held.discard(result["key"])
        out.append(result["key"])
    assert out == [s.key for s in sources]
    assert peak == 5
