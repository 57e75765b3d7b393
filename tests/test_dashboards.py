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
import yaml

from realparts import Prometheus, Sidecar, _stop_process, free_port, wait_for
from test_alerts import KNOWN, metric_names

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dashboards"))
from generate import NOT_SCRAPED, VLLM_METRICS  # noqa: E402

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
        assert names and names <= KNOWN | set(VLLM_METRICS), (title, names - KNOWN - set(VLLM_METRICS))


def vllm_queries(board: dict) -> list[tuple[str, str]]:
    return [(title, expr) for title, expr in queries(board) if "vllm:" in expr]


def test_vllm_panels_say_why_they_are_empty() -> None:
    board = json.loads((ROOT / "dashboards" / "load.json").read_text())
    latency = [p for p in panels(board) if any("vllm:" in t["expr"] for t in p.get("targets", [])) and "latency" in p["title"].lower() or "first token" in p["title"]]
    assert len(latency) == 2 and all(p["fieldConfig"]["defaults"]["noValue"] == NOT_SCRAPED for p in latency)
    assert {name for _, expr in vllm_queries(board) for name in metric_names(to_promql(expr))} == set(VLLM_METRICS)


# A stand-in for vLLM's /metrics: vLLM's metric names, labels (model_name, engine) and buckets as
# vLLM 0.26's v1/metrics/loggers.py defines them, exported with prometheus_client as vLLM does;
# requests arrive continuously so that rates have data. No vLLM (it needs a GPU) runs here.
VLLM_STAND_IN = r"""
import itertools, sys, time
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
port, model = int(sys.argv[1]), sys.argv[2]
registry, labels = CollectorRegistry(), ["model_name", "engine"]
preemptions = Counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", labels, registry=registry)
ttft = Histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", labels, registry=registry,
                 buckets=[0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0])
itl = Histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", labels, registry=registry,
                buckets=[0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0])
start_http_server(port, addr="127.0.0.1", registry=registry)
for i in itertools.count():
    ttft.labels(model, "0").observe((0.05, 0.2, 0.3, 1.2)[i % 4])
    itl.labels(model, "0").observe((0.007, 0.012, 0.03)[i % 3])
    if i % 5 == 0:
        preemptions.labels(model, "0").inc()
    time.sleep(0.05)
"""


def test_every_query_returns_data_on_a_real_prometheus(tmp_path: Path) -> None:
    reason = Prometheus.available()
    if reason:
        pytest.skip(f"no real Prometheus here: {reason}")
    files = []
    for case in FEEDS:
        files += ["--file", str(shutil.copy(SAMPLES / case / "input.log", tmp_path / f"{case[:3]}.log"))]
    sidecar = Sidecar(*files, "--model", "Qwen/Qwen3-8B", "--gpu", "H100-SXM", "--stats-ttl", "3600")
    # vLLM's scrape exactly as deploy/compose/prometheus.yml relabels it, pointed at the stand-in
    # and labelled with the sidecar's name for the 060 log (served model qwen3-8b-random).
    source_060 = files[1]
    vllm_job = next(job for job in yaml.safe_load((ROOT / "deploy" / "compose" / "prometheus.yml").read_text())["scrape_configs"] if job["job_name"] == "vllm")
    vllm_port = free_port()
    vllm_job = dict(vllm_job, static_configs=[{"targets": [f"127.0.0.1:{vllm_port}"], "labels": {"source": source_060}}])
    prometheus = Prometheus([f"127.0.0.1:{sidecar.port}"], scrape_configs=[vllm_job])
    stand_in = None
    try:
        prometheus.start()
        wait_for(lambda: prometheus.value("count(vllm_obs_log_lines_total)") == 9, 30, "the sidecar's three sources")
        # Rates need two samples in their window: wait until one has them.
        wait_for(lambda: prometheus.query("rate(vllm_obs_log_lines_total[15s])"), 30, "two scrapes")
        # vLLM not scraped (its target is down): its panels' queries are valid and empty.
        for path in BOARDS:
            for title, expr in vllm_queries(json.loads(path.read_text())):
                assert prometheus.query(to_promql(expr)) == [], title
        stand_in = subprocess.Popen([sys.executable, "-c", VLLM_STAND_IN, str(vllm_port), "qwen3-8b-random"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: prometheus.query("rate(vllm:num_preemptions_total[15s]) > 0"), 30, "two scrapes of vLLM's /metrics")
        # prometheus_client wrote the samples as vllm_* (OpenMetrics, client_python#1177): the rule
        # put vLLM's names back.
        assert prometheus.query('count({__name__=~"vllm_.+", job="vllm"})') == []
        # The relabel rule joins the two: vLLM's series carry the sidecar's source and model.
        joined = prometheus.query("vllm:num_preemptions_total * on (source, model) group_left max by (source, model) (vllm_obs_kv_cache_capacity_tokens)")
        assert [(r["metric"]["source"], r["metric"]["model"]) for r in joined] == [(source_060, "qwen3-8b-random")]
        empty = []
        for path in BOARDS:
            for title, expr in queries(json.loads(path.read_text())):
                if not prometheus.query(to_promql(expr)):
                    empty.append(f"{path.stem}: {title}: {expr}")
        assert empty == [], "queries without data:\n" + "\n".join(empty)
    finally:
        if stand_in is not None:
            _stop_process(stand_in)
        prometheus.close()
        sidecar.close()
