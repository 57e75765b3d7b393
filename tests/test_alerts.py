"""Alert rules: promtool checks and unit tests, catalog names, and a real firing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from realparts import Prometheus, Sidecar, wait_for
from vllm_obs.metrics.catalog import METRICS, exposed_names

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus"
GRAFANA_RULES = ROOT / "deploy" / "grafana" / "provisioning" / "alerting" / "vllm-obs.yml"
KNOWN = {n for m in METRICS for n in exposed_names(m)} | {"up", "ALERTS"}
LOG_020 = ROOT / "samples" / "real-logs" / "020-v1-apiserver-stats-with-specdecoding-mtp" / "input.log"
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (scripts/setup --system)")


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (identifiers not followed by '(' and not keywords/labels)."""
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    words = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()", expr))
    return {w for w in words if w not in {"and", "or", "unless", "bool", "offset", "inf", "nan"}}


def test_rule_files_are_generated_from_the_rule_table() -> None:
    # alerts.yml, the Grafana-managed rules and the PrometheusRule come from deploy/prometheus/rules.py.
    run = subprocess.run([sys.executable, str(RULES / "rules.py"), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_grafana_rules_are_the_prometheus_rules() -> None:
    """Each Grafana-managed rule is a Prometheus rule: its query A and threshold C make the expr."""
    prometheus = {r["alert"]: r for g in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    grafana = yaml.safe_load((GRAFANA_RULES).read_text())
    rules = {r["title"]: r for g in grafana["groups"] for r in g["rules"]}
    assert set(rules) == set(prometheus)
    ops = {"gt": ">", "lt": "<"}
    for title, rule in rules.items():
        query, threshold = rule["data"][0]["model"], rule["data"][1]["model"]
        assert rule["condition"] == threshold["refId"] == "C" and threshold["expression"] == query["refId"] == "A"
        assert query["instant"] is True and metric_names(query["expr"]) <= KNOWN, title
        (condition,) = threshold["conditions"]
        op, (value,) = ops[condition["evaluator"]["type"]], condition["evaluator"]["params"]
        expr = prometheus[title]["expr"]
        assert expr.endswith(f" {op} {value:g}") and query["expr"] in expr, title
        assert rule["for"] == prometheus[title].get("for", "0s") and rule["labels"] == prometheus[title]["labels"]
        assert "$value " not in str(rule["annotations"]), "Grafana has $values.A.Value, not $value"


def test_alerts_test_file_is_generated_from_the_case_table() -> None:
    assert subprocess.run([sys.executable, str(RULES / "make_alerts_test.py"), "--check"]).returncode == 0, (
        "run: python deploy/prometheus/make_alerts_test.py"
    )


def test_every_rule_reads_catalog_metrics() -> None:
    rules = [r for g in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    assert len(rules) >= 10
    for rule in rules:
        names = metric_names(rule["expr"])
        assert names and names <= KNOWN, (rule["alert"], names - KNOWN)
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"].get(key), (rule["alert"], key)


@needs_promtool
def test_promtool_check_and_unit_tests() -> None:
    check = subprocess.run(["promtool", "check", "rules", str(RULES / "alerts.yml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(["promtool", "test", "rules", "alerts_test.yml"], cwd=RULES, capture_output=True, text=True)
    assert test.returncode == 0, test.stdout + test.stderr


def test_kv_saturation_fires_on_a_real_prometheus(tmp_path: Path) -> None:
    reason = Prometheus.available()
    if reason:
        pytest.skip(f"no real Prometheus here: {reason}")
    # Case 020's last stats line says "GPU KV cache usage: 97.7%". The rules are the shipped
    # ones with their `for:` durations removed, so the test does not wait five minutes.
    log = tmp_path / "vllm.log"
    shutil.copy(LOG_020, log)
    groups = yaml.safe_load((RULES / "alerts.yml").read_text())
    for group in groups["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    rules = tmp_path / "alerts-now.yml"
    rules.write_text(yaml.safe_dump(groups))
    sidecar = Sidecar("--file", str(log), "--stats-ttl", "600")
    prometheus = Prometheus([f"127.0.0.1:{sidecar.port}"], rule_files=[str(rules)])
    try:
        prometheus.start()
        firing = lambda name: prometheus.query(f'ALERTS{{alertname="{name}",alertstate="firing"}}')  # noqa: E731
        alert = wait_for(lambda: firing("VllmKvCacheSaturated"), 60, "VllmKvCacheSaturated to fire")
        assert alert[0]["metric"]["source"] == str(log) and alert[0]["metric"]["severity"] == "warning"
        wait_for(lambda: firing("VllmKvCacheSaturatedCritical"), 30, "the critical level (97.7% > 97%)")
        assert prometheus.value(f'vllm_obs_kv_cache_usage_ratio{{source="{log}"}}') == pytest.approx(0.977)
        assert firing("VllmObsSourceDown") == []
    finally:
        prometheus.close()
        sidecar.close()
