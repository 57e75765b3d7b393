"""Compose, Kubernetes and Grafana provisioning files, checked against the sidecar itself:
images and ports, mounts that exist, flags the run command accepts, probes on /healthz,
rules equal to deploy/prometheus/alerts.yml."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
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


def compose_default(value: str) -> str:
    """A compose value with its ${VAR:-default} references at their defaults."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_compose_stack() -> None:
    compose = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"vllm", "docker-proxy", "vllm-obs", "prometheus", "grafana"}
    gpu = services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert services["vllm"]["image"].startswith("vllm/vllm-openai:")
    sidecar = services["vllm-obs"]
    assert (COMPOSE_DIR / sidecar["build"]["context"] / sidecar["build"]["dockerfile"]).exists()
    run_args_ok(sidecar["command"])
    # The sidecar selects the vLLM container by a label vLLM actually carries.
    label = sidecar["command"][sidecar["command"].index("--label") + 1]
    key, value = label.split("=")
    assert services["vllm"]["labels"][key] == value
    for service in ("prometheus", "grafana", "docker-proxy"):
        for volume in services[service]["volumes"]:
            host = compose_default(volume).split(":")[0]
            assert host.startswith("/var/run/") or (COMPOSE_DIR / host).exists(), f"{service} mounts a missing {host}"
    # Published on loopback by default (PUBLISH_ADDRESS opens them up).
    for service in ("vllm-obs", "prometheus", "grafana"):
        for port in services[service]["ports"]:
            assert compose_default(port).startswith("127.0.0.1:"), f"{service} publishes {port} beyond loopback"
    assert compose_default(sidecar["ports"][0]) == "127.0.0.1:9400:9400"


def test_compose_only_the_proxy_holds_the_docker_socket() -> None:
    services = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())["services"]
    holders = [name for name, service in services.items() if any("docker.sock" in v for v in service.get("volumes", []))]
    assert holders == ["docker-proxy"]
    proxy, sidecar = services["docker-proxy"], services["vllm-obs"]
    env = dict(item.split("=", 1) for item in proxy["environment"])
    socket_mount = compose_default(next(v for v in proxy["volumes"] if "docker.sock" in v))
    assert socket_mount == f"/var/run/docker.sock:{env['DOCKER_SOCKET']}"
    config = next(v for v in proxy["volumes"] if v.endswith("haproxy.cfg:ro"))
    assert (COMPOSE_DIR / config.split(":")[0]).resolve() == (COMPOSE_DIR / "docker-socket-proxy.cfg").resolve()
    sidecar_env = dict(item.split("=", 1) for item in sidecar["environment"])
    assert sidecar_env["DOCKER_HOST"] == f"tcp://docker-proxy:{env['PROXY_BIND'].rsplit(':', 1)[1]}"
    assert "ports" not in proxy  # the read-only API stays on the compose network
    for service in (proxy, sidecar):
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"] and "no-new-privileges:true" in service["security_opt"]


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
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
        assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        # Pod logs are root:root 0640: group 0 lets the non-root sidecar read them.
        assert 0 in pod["securityContext"]["supplementalGroups"]


def test_the_kubernetes_user_and_groups_read_a_root_owned_0640_pod_log(tmp_path: Path) -> None:
    """The manifest's uid, gid and supplementary groups, applied to a real process reading a
    pod log as the container runtime writes it (root:root 0640); without group 0 it cannot."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create root-owned files and switch users")
    (daemonset,) = k8s_docs("daemonset.yaml")
    pod = daemonset["spec"]["template"]["spec"]
    security = next(c for c in pod["containers"] if c["name"] == "vllm-obs")["securityContext"]
    # Outside tmp_path: pytest's directories are 0700 root, which the sidecar user cannot enter.
    logs = Path(tempfile.mkdtemp(prefix="vo-pods-", dir="/tmp"))
    try:
        pod_dir = logs / "default_vllm-0_0c5e2c58" / "vllm"
        pod_dir.mkdir(parents=True)
        for directory in (logs, pod_dir.parent, pod_dir):
            directory.chmod(0o755)  # as the kubelet makes them
        log = pod_dir / "0.log"
        log.write_text("2025-11-21T16:40:05.123456789Z stdout F INFO 11-21 16:40:05 [loggers.py:271] Engine 000: Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 0.0 tokens/s, Running: 0 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.0%, Prefix cache hit rate: 0.0%\n")
        os.chown(log, 0, 0)
        log.chmod(0o640)
        read = ["/bin/cat", str(log)]  # not this Python: it may live under root's 0700 home
        user = {"user": security["runAsUser"], "group": security["runAsGroup"]}
        allowed = subprocess.run(read, capture_output=True, text=True, extra_groups=pod["securityContext"]["supplementalGroups"], **user)
        assert allowed.returncode == 0 and "Engine 000" in allowed.stdout
        denied = subprocess.run(read, capture_output=True, text=True, extra_groups=[], **user)
        assert denied.returncode == 1 and "Permission denied" in denied.stderr
    finally:
        shutil.rmtree(logs)


def test_kubernetes_monitors_and_rules() -> None:
    pod_monitor, service_monitor = k8s_docs("monitors.yaml")
    assert pod_monitor["kind"] == "PodMonitor" and pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    service = next(d for d in k8s_docs("vllm-with-sidecar.yaml") if d["kind"] == "Service")
    assert service_monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert service_monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (rule,) = k8s_docs("prometheusrule.yaml")
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert rule["kind"] == "PrometheusRule" and rule["spec"]["groups"] == alerts["groups"], "run deploy/prometheus/rules.py"
