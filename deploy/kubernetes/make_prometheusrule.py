#!/usr/bin/env python3
"""Write prometheusrule.yaml (Prometheus operator) from deploy/prometheus/alerts.yml, so the
rules exist in one place. tests/test_deploy_files.py checks the two agree."""

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def build() -> str:
    groups = yaml.safe_load((HERE.parent / "prometheus" / "alerts.yml").read_text())["groups"]
    rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "vllm-obs"}, "spec": {"groups": groups}}
    header = "# Generated from deploy/prometheus/alerts.yml by make_prometheusrule.py: do not edit by hand.\n#   kubectl apply -f prometheusrule.yaml\n"
    return header + yaml.safe_dump(rule, sort_keys=False, width=200)


if __name__ == "__main__":
    (HERE / "prometheusrule.yaml").write_text(build())
