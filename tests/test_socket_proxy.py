"""The sidecar through a read-only Docker socket proxy: deploy/compose/docker-socket-proxy.cfg run
by a real HAProxy (Debian `haproxy`) in front of a real dockerd. The sidecar follows a busybox
container printing the real H100 log; writes through the proxy (create, exec, delete) are refused,
while the same requests on the daemon's own socket would succeed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from realparts import TEST_IMAGE, Dockerd, Sidecar, _stop_process, free_port, wait_for
from test_docker_source import LOG, _run_container, log_dir  # noqa: F401 - log_dir is a fixture

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "compose" / "docker-socket-proxy.cfg"



@pytest.fixture
def proxy(dockerd: Dockerd, tmp_path: Path) -> Iterator[str]:
    """HAProxy with the deployed configuration; yields its http://127.0.0.1:PORT."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy; scripts/setup --system does)")
    port = free_port()
    env = {**os.environ, "PROXY_BIND": f"127.0.0.1:{port}", "DOCKER_SOCKET": str(dockerd.socket)}
    check = subprocess.run(["haproxy", "-c", "-f", str(CONFIG)], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    log = open(tmp_path / "haproxy.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(["haproxy", "-db", "-f", str(CONFIG)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: urllib.request.urlopen(f"{url}/_ping", timeout=2).read() == b"OK", 15, "the proxy to answer")
        yield url
    finally:
        _stop_process(process)
        log.close()


def status(url: str, method: str = "GET", body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_sidecar_follows_a_container_through_the_read_only_proxy(dockerd: Dockerd, proxy: str, log_dir: Path) -> None:  # noqa: F811
    container = _run_container(dockerd, log_dir, "vllm-proxied")
    sidecar = Sidecar("--label", "app=vllm-test", env={"DOCKER_HOST": proxy.replace("http://", "tcp://")})
    try:
        source = {"source": "vllm-proxied"}
        wait_for(lambda: sidecar.value("vllm_obs_log_lines_total", result="matched", **source) == 2501, 60, "the whole log through the proxy")
        assert sidecar.value("vllm_obs_kv_cache_capacity_tokens", **source) == 395712
        assert sidecar.value("vllm_obs_source_up", **source) == 1
        # Events pass too: a restart is seen and read again.
        container.restart(timeout=5)
        wait_for(lambda: sidecar.value("vllm_obs_engine_starts_total", **source) == 2, 60, "the restart, seen through /events")
    finally:
        assert sidecar.close() == 0
        container.remove(force=True)


def test_the_proxy_refuses_everything_but_reading(dockerd: Dockerd, proxy: str) -> None:
    container = dockerd.client.containers.run(TEST_IMAGE, ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"], detach=True, network_mode="none")
    try:
        version = dockerd.client.version()["ApiVersion"]
        for prefix in ("", f"/v{version}"):
            assert status(f"{proxy}{prefix}/containers/json") == 200
            assert status(f"{proxy}{prefix}/containers/{container.id}/json") == 200
            assert status(f"{proxy}{prefix}/version") == 200
            # What a read-only bind mount of the socket would still allow: run a container with
            # the host's /etc, exec into one, remove one, read images and secrets.
            create = {"Image": TEST_IMAGE, "Cmd": ["cat", "/hostetc/shadow"], "HostConfig": {"Binds": ["/etc:/hostetc"]}}
            assert status(f"{proxy}{prefix}/containers/create", "POST", create) == 403
            assert status(f"{proxy}{prefix}/containers/{container.id}/exec", "POST", {"Cmd": ["id"]}) == 403
            assert status(f"{proxy}{prefix}/containers/{container.id}/stop", "POST", {}) == 403
            assert status(f"{proxy}{prefix}/containers/{container.id}", "DELETE") == 403
            assert status(f"{proxy}{prefix}/containers/{container.id}/archive?path=/etc") == 403
            assert status(f"{proxy}{prefix}/images/json") == 403
            assert status(f"{proxy}{prefix}/secrets") == 403
        # The Docker SDK through the proxy: reading works, running is refused.
        through = docker.DockerClient(base_url=proxy.replace("http://", "tcp://"))
        assert container.id in [c.id for c in through.containers.list()]
        with pytest.raises(docker.errors.APIError) as refused:
            through.containers.run(TEST_IMAGE, ["true"], volumes={"/etc": {"bind": "/hostetc", "mode": "ro"}})
        assert refused.value.response.status_code == 403
        through.close()
        # The daemon's own socket allows the same create: the proxy, not the daemon, refused it.
        created = dockerd.client.api.create_container(TEST_IMAGE, ["true"], host_config=dockerd.client.api.create_host_config(binds=["/etc:/hostetc:ro"]))
        dockerd.client.api.remove_container(created["Id"])
    finally:
        container.remove(force=True)
