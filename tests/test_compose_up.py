"""deploy/compose brought up for real with `docker-compose` (Debian's) against the test's own
dockerd, with local stand-ins for the images (tests/standins.py; no registry here).

What differs from a user's `docker compose up`, and why:
- the vllm service's GPU reservation is removed (no GPU here; the stand-in prints a real log);
- grafana is left out: no Grafana image or binary exists here (its provisioning files are
  checked offline by test_deploy_files.py and test_dashboards.py);
- published ports are removed: host ports are shared with other users of this machine; the
  services are reached on their compose-network addresses instead (their loopback-only
  publishing is checked by test_deploy_files.py).
Everything else is the file as shipped: the read-only socket proxy, the sidecar reaching Docker
only through it, Prometheus' config and rules.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from realparts import Dockerd, wait_for
from standins import haproxy_image, prometheus_image, sidecar_image, vllm_image
from test_docker_source import LOG

COMPOSE_DIR = Path(__file__).resolve().parent.parent / "deploy" / "compose"


def prometheus_query(url: str, promql: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout=5) as response:
        return json.load(response)["data"]["result"]


def test_the_compose_stack_comes_up_and_prometheus_scrapes_the_sidecar(tmp_path: Path) -> None:
    reason = Dockerd.available()
    if reason:
        pytest.skip(f"no real dockerd here: {reason}")
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    for binary in ("/usr/sbin/haproxy", "/usr/bin/prometheus", "/usr/bin/python3.11"):
        if not os.path.exists(binary):
            pytest.skip(f"{binary} is needed for a stand-in image")
    compose = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())
    services = compose["services"]
    del services["vllm"]["deploy"]
    del services["grafana"]
    for service in services.values():
        service.pop("ports", None)
    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text(yaml.safe_dump(compose))

    daemon = Dockerd()
    daemon.start()
    env = {
        **os.environ,
        "DOCKER_HOST": daemon.url,
        "DOCKER_SOCKET_PATH": str(daemon.socket),
        "DOCKER_GID": str(daemon.socket.stat().st_gid),
        "HF_HOME": str(tmp_path / "hf"),
        "COMPOSE_PROJECT_NAME": "vllmobs",
    }
    command = ["docker-compose", "--project-directory", str(COMPOSE_DIR), "-f", str(compose_file)]
    try:
        (tmp_path / "hf").mkdir()
        vllm_image(daemon.client, services["vllm"]["image"].replace("${VLLM_IMAGE_TAG:-latest}", "latest"), LOG)
        haproxy_image(daemon.client, services["docker-proxy"]["image"])
        prometheus_image(daemon.client, services["prometheus"]["image"])
        sidecar_image(daemon.client, services["vllm-obs"]["image"], tmp_path)
        up = subprocess.run([*command, "up", "-d", "--no-build"], env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stderr

        def address(service: str) -> str:
            (container,) = daemon.client.containers.list(filters={"label": f"com.docker.compose.service={service}"})
            networks = container.attrs["NetworkSettings"]["Networks"]
            return next(iter(networks.values()))["IPAddress"]

        prometheus = f"http://{address('prometheus')}:9090"
        wait_for(lambda: urllib.request.urlopen(f"{prometheus}/-/ready", timeout=2).status == 200, 60, "prometheus in compose")
        # The compose scrape interval is 15 s: the first scrape comes within one interval or so.
        wait_for(lambda: prometheus_query(prometheus, 'up{job="vllm-obs"} == 1'), 60, "Prometheus to scrape the sidecar (vllm-obs:9400)")
        (capacity,) = wait_for(lambda: prometheus_query(prometheus, "vllm_obs_kv_cache_capacity_tokens"), 60, "the log's KV capacity in Prometheus")
        assert float(capacity["value"][1]) == 395712
        # Followed by label app=vllm, through the proxy; named by its container_name (the name the
        # relabelled vLLM scrape job uses too).
        assert capacity["metric"]["source"] == "vllm"
        with urllib.request.urlopen(f"{prometheus}/api/v1/rules", timeout=5) as response:
            groups = {g["name"] for g in json.load(response)["data"]["groups"]}
        assert groups == {g["name"] for g in yaml.safe_load((COMPOSE_DIR.parent / "prometheus" / "alerts.yml").read_text())["groups"]}
        # The sidecar holds no Docker socket: only the proxy does.
        (sidecar,) = daemon.client.containers.list(filters={"label": "com.docker.compose.service=vllm-obs"})
        assert not [m for m in sidecar.attrs["Mounts"] if "docker.sock" in m.get("Source", "")]
        assert sidecar.attrs["Config"]["User"] == "10001" and sidecar.attrs["HostConfig"]["ReadonlyRootfs"] is True
    finally:
        logs = subprocess.run([*command, "logs", "--no-color"], env=env, capture_output=True, text=True, timeout=60).stdout
        subprocess.run([*command, "down", "-t", "5"], env=env, capture_output=True, timeout=120)
        daemon.close()
        print(logs[-4000:])  # shown by pytest when the test fails
