"""Dashboards: generated from dashboards/generate.py, shaped as Grafana 11 imports them, and
every query returns data on a real Prometheus scraping the real sidecar."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from realparts import Prometheus, Sidecar, wait_for
from test_alerts import KNOWN, metric_names

ROOT = Path(__file__).resolve().parent.parent
BOARDS = sorted((ROOT / "dashboards").glob("*.json"))
SAMPLES = ROOT / "samples" / "real-logs"
# Real logs that together print every metric the dashboards show: a whole V1 run (060), V0 swap
# and preemption (029), engine failures (031).
FEEDS = ["060-realgpu-h100-v0271-qwen3-8b-full-run", "029-v050-tqdm-glued-stats-swap-preemption", "031-v08-v1-cuda-oom-core-critical-fatal-signal"]


def panels(board: dict):
    for p in board["panels"]:
        yield p
        yield from p.get("panels", [])


def queries(board: dict) -> list[tuple[str, str]]:
    out = [(p["title"], t["expr"]) for p in panels(board) for t in p.get("targets", [])]
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            out.append((f"variable {var['name']}", var["definition"]))
    return out


def to_promql(expr: str) -> str:
    """Grafana's variables as a dashboard with 'All' selected sends them."""
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", expr.strip())
    if m:
        expr = f"count by ({m.group(2)}) ({m.group(1)})"
    return expr.replace("$__rate_interval", "15s").replace("$source", ".*").replace("$model", ".*").replace("$engine", ".*")


def test_dashboards_are_generated() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "dashboards" / "generate.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert {p.name for p in BOARDS} == {"capacity.json", "load.json", "fleet.json", "exporter.json"}


@pytest.mark.parametrize("path", BOARDS, ids=[p.stem for p in BOARDS])
def test_grafana_11_shape(path: Path) -> None:
    board = json.loads(path.read_text())
    assert board["schemaVersion"] >= 39 and board["uid"] and board["title"]
    names = [v["name"] for v in board["templating"]["list"]]
    assert names[0] == "datasource" and board["templating"]["list"][0]["type"] == "datasource"
    assert {"source", "model"} <= set(names)
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells = set()
    for p in panels(board):
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in ("h", "w", "x", "y")) and 0 <= g["x"] and g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps another panel"
                cells.add((x, y))
        if p["type"] != "row":
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
            for t in p["targets"]:
                assert t["datasource"]["uid"] == "${datasource}"
    assert '"uid": "${datasource}"' in path.read_text() and not re.search(r'"datasourceUid"', path.read_text())


@pytest.mark.parametrize("path", BOARDS, ids=[p.stem for p in BOARDS])
def test_every_query_names_catalog_metrics(path: Path) -> None:
    for title, expr in queries(json.loads(path.read_text())):
        names = metric_names(to_promql(expr))
        assert names and names <= KNOWN, (title, names - KNOWN)


def test_every_query_returns_data_on_a_real_prometheus(tmp_path: Path) -> None:
    reason = Prometheus.available()
    if reason:
        pytest.skip(f"no real Prometheus here: {reason}")
    files = []
    for case in FEEDS:
        files += ["--file", str(shutil.copy(SAMPLES / case / "input.log", tmp_path / f"{case[:3]}.log"))]
    sidecar = Sidecar(*files, "--model", "Qwen/Qwen3-8B", "--gpu", "H100-SXM", "--stats-ttl", "3600")
    prometheus = Prometheus([f"127.0.0.1:{sidecar.port}"])
    try:
        prometheus.start()
        wait_for(lambda: prometheus.value("count(vllm_obs_log_lines_total)") == 9, 30, "the sidecar's three sources")
        # Rates need two samples in their window: wait until one has them.
        wait_for(lambda: prometheus.query("rate(vllm_obs_log_lines_total[15s])"), 30, "two scrapes")
        empty = []
        for path in BOARDS:
            for title, expr in queries(json.loads(path.read_text())):
                if not prometheus.query(to_promql(expr)):
                    empty.append(f"{path.stem}: {title}: {expr}")
        assert empty == [], "queries without data:\n" + "\n".join(empty)
    finally:
        prometheus.close()
        sidecar.close()
