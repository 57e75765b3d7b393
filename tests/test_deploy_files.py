"""Compose, Kubernetes and Grafana provisioning files, checked against the sidecar itself:
images and ports, mounts that exist, flags the run command accepts, probes on /healthz,
rules equal to deploy/prometheus/alerts.yml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from test_alerts import KNOWN, metric_names
from vllm_obs.cli import build_parser
from vllm_obs.live.settings import RunSettings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
COMPOSE_DIR = DEPLOY / "compose"


def run_args_ok(args: list[str]) -> None:
    """The args parse as `vllm-obs run` flags and give valid settings."""
    ns = build_parser().parse_args(["run", *args])
    RunSettings(**{k: v for k, v in vars(ns).items() if k not in ("func", "command", "print_config")})


def k8s_docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / name).read_text()) if d]


def test_compose_stack() -> None:
    compose = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"vllm", "vllm-obs", "prometheus", "grafana"}
    gpu = services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert services["vllm"]["image"].startswith("vllm/vllm-openai:")
    sidecar = services["vllm-obs"]
    assert (COMPOSE_DIR / sidecar["build"]["context"] / sidecar["build"]["dockerfile"]).exists()
    run_args_ok(sidecar["command"])
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in sidecar["volumes"]
    assert "9400:9400" in sidecar["ports"]
    # The sidecar selects the vLLM container by a label vLLM actually carries.
    label = sidecar["command"][sidecar["command"].index("--label") + 1]
    key, value = label.split("=")
    assert services["vllm"]["labels"][key] == value
    for service in ("prometheus", "grafana"):
        for volume in services[service]["volumes"]:
            host = volume.split(":")[0]
            assert (COMPOSE_DIR / host).exists(), f"{service} mounts a missing {host}"


def test_compose_prometheus_scrapes_the_sidecar_and_loads_the_rules() -> None:
    compose = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())
    config = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["vllm-obs:9400"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["prometheus"]["volumes"]}
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert (COMPOSE_DIR / mounts["/etc/prometheus/alerts.yml"]).resolve() == (DEPLOY / "prometheus" / "alerts.yml").resolve()


def test_grafana_provisioning_lines_up() -> None:
    compose = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())
    mounts = {v.split(":")[1]: (COMPOSE_DIR / v.split(":")[0]).resolve() for v in compose["services"]["grafana"]["volumes"]}
    provisioning = mounts["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "vllm-obs.yml").read_text())["providers"][0]
    assert mounts[provider["options"]["path"]] == (DEPLOY.parent / "dashboards").resolve()
    groups = yaml.safe_load((provisioning / "alerting" / "vllm-obs.yml").read_text())["groups"]
    alerts = {rule["title"]: rule for group in groups for rule in group["rules"]}
    for alert in alerts.values():
        query = alert["data"][0]
        assert query["datasourceUid"] == datasource["uid"]
        assert metric_names(query["model"]["expr"]) <= KNOWN
    assert alerts["VllmKvCacheSaturated"]["data"][1]["model"]["conditions"][0]["evaluator"]["params"] == [0.9]


@pytest.mark.parametrize("name", ["vllm-with-sidecar.yaml", "daemonset.yaml"])
def test_kubernetes_sidecar_containers(name: str) -> None:
    workloads = [d for d in k8s_docs(name) if d["kind"] in ("Deployment", "DaemonSet")]
    assert workloads
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        container = next(c for c in pod["containers"] if c["name"] == "vllm-obs")
        env = {e["name"]: "x" for e in container.get("env", [])}
        args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in container["args"]]  # the kubelet expands $(VAR)
        run_args_ok(args)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"metrics": 9400}
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        volumes = {v["name"]: v for v in pod["volumes"]}
        for mount in container["volumeMounts"]:
            assert mount["readOnly"] is True
            assert volumes[mount["name"]]["hostPath"]["path"] == mount["mountPath"] == "/var/log/pods"
        assert container["securityContext"]["runAsNonRoot"] is True


def test_kubernetes_monitors_and_rules() -> None:
    pod_monitor, service_monitor = k8s_docs("monitors.yaml")
    assert pod_monitor["kind"] == "PodMonitor" and pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    service = next(d for d in k8s_docs("vllm-with-sidecar.yaml") if d["kind"] == "Service")
    assert service_monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert service_monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (rule,) = k8s_docs("prometheusrule.yaml")
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert rule["kind"] == "PrometheusRule" and rule["spec"]["groups"] == alerts["groups"], "run deploy/prometheus/rules.py"
