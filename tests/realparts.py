"""Real components for integration tests: a private dockerd and a Prometheus server.

Both are the Debian packages (`docker.io`, `busybox-static`, `prometheus`), installed by
`scripts/setup --system`, started here on private sockets/ports under a temporary directory and
stopped at the end. No image can be pulled on these machines, so the test image is imported
from busybox-static. Everything listens on loopback or a unix socket only.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUSYBOX = "/bin/busybox"
TEST_IMAGE = "local/busybox:latest"


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """Poll until predicate() is truthy; never a blind sleep."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last error
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Dockerd:
    """dockerd with no bridge/iptables and vfs storage, on a private socket."""

    def __init__(self) -> None:
        # Short path: unix socket paths are limited to 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="vo-d", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> str | None:
        """None when a dockerd can run here, else why not."""
        if os.geteuid() != 0:
            return "dockerd needs root"
        for binary in ("dockerd", "containerd"):
            if shutil.which(binary) is None:
                return f"{binary} is not installed (scripts/setup --system installs docker.io)"
        if not os.path.exists(BUSYBOX):
            return "busybox-static is not installed"
        return None

    def start(self) -> None:
        log = open(self.root / "dockerd.log", "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [
                "dockerd",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=vfs",
                f"--data-root={self.root / 'data'}",
                f"--exec-root={self.root / 'exec'}",
                f"--pidfile={self.root / 'dockerd.pid'}",
                "-H",
                self.url,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        import docker

        def connect():
            client = docker.DockerClient(base_url=self.url)  # asks the daemon for its API version
            return client if client.ping() else None

        self.client = wait_for(connect, 60, "dockerd to answer", interval=0.2)

    def import_busybox(self) -> None:
        """An image with busybox's applets, made locally (no registry here)."""
        if self.client.images.list(name="local/busybox"):
            return
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for directory in ("bin", "tmp", "proc", "sys", "dev", "etc", "log"):
                info = tarfile.TarInfo(directory)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            tar.add(BUSYBOX, "bin/busybox")
            applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
            for applet in applets:
                if applet != "busybox":
                    info = tarfile.TarInfo(f"bin/{applet}")
                    info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                    tar.addfile(info)
        self.client.api.import_image_from_data(buffer.getvalue(), repository="local/busybox", tag="latest", changes=['CMD ["/bin/sh"]'])

    def stop_daemon(self) -> None:
        """Stop dockerd but keep its data (to test a daemon going away and coming back)."""
        if self.proc is not None:
            _stop_process(self.proc, 30)
            self.proc = None

    def close(self) -> None:
        try:
            if self.proc is not None:
                for c in self.client.containers.list(all=True):
                    c.remove(force=True)
        except Exception:  # noqa: BLE001 - best effort before stopping
            pass
        self.stop_daemon()
        # dockerd may leave bind mounts (netns) under its exec root.
        with open("/proc/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(str(self.root))]
        for point in sorted(points, reverse=True):
            subprocess.run(["umount", point], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


class Prometheus:
    """A Prometheus server on loopback scraping the given targets every second."""

    def __init__(
        self,
        targets: list[str],
        rule_files: list[str] | None = None,
        extra_args: list[str] | None = None,
        scrape_configs: list[dict] | None = None,
        scrape: dict | None = None,
    ) -> None:
        """`scrape`: more keys for the sidecar's scrape config (scheme, tls_config, basic_auth...);
        `scrape_configs`: more scrape jobs."""
        self.root = Path(tempfile.mkdtemp(prefix="vo-p"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": "vllm-obs", "static_configs": [{"targets": targets}], **(scrape or {})},
                *(scrape_configs or []),
            ],
        }
        if rule_files:
            config["rule_files"] = rule_files
        self.config = config
        (self.root / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> str | None:
        if shutil.which("prometheus") is None:
            return "prometheus is not installed (scripts/setup --system installs it)"
        return None

    def start(self, storage: str | None = None) -> None:
        log = open(self.root / "prometheus.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={self.root / 'prometheus.yml'}",
                f"--storage.tsdb.path={storage or self.root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_for(lambda: urllib.request.urlopen(f"{self.url}/-/ready", timeout=2).status == 200, 30, "prometheus to be ready")

    def query(self, promql: str, at: float | None = None) -> list[dict]:
        params = {"query": promql}
        if at is not None:
            params["time"] = str(at)
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}", timeout=10) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise RuntimeError(f"{promql}: {body}")
        return body["data"]["result"]

    def query_range(self, promql: str, start: float, end: float, step: str = "15s") -> list[dict]:
        params = {"query": promql, "start": str(start), "end": str(end), "step": step}
        with urllib.request.urlopen(f"{self.url}/api/v1/query_range?{urllib.parse.urlencode(params)}", timeout=10) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise RuntimeError(f"{promql}: {body}")
        return body["data"]["result"]

    def set_targets(self, targets: list[str]) -> None:
        """Scrape these targets from now on (the config rewritten, Prometheus reloaded by SIGHUP)."""
        self.config["scrape_configs"][0]["static_configs"] = [{"targets": targets}]
        (self.root / "prometheus.yml").write_text(json.dumps(self.config))
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

        def scraping() -> bool:
            active = self._get("/api/v1/targets")["activeTargets"]
            return {t["labels"]["instance"] for t in active} == set(targets)

        wait_for(scraping, 30, f"prometheus to scrape {targets}")

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise RuntimeError(f"{path}: {body}")
        return body["data"]

    def alerts(self) -> list[dict]:
        """Active alerts (pending and firing) from /api/v1/alerts."""
        return self._get("/api/v1/alerts")["alerts"]

    def rule_groups(self) -> list[dict]:
        """Rule groups from /api/v1/rules (with each group's lastEvaluation)."""
        return self._get("/api/v1/rules")["groups"]

    def value(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def close(self) -> None:
        if self.proc is not None:
            _stop_process(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)


class Sidecar:
    """`vllm-obs run` as a real process, scraped over HTTP."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, port: int | None = None, tls: ssl.SSLContext | None = None) -> None:
        """`port`: a restart keeps its port (Prometheus' target); `tls`: the client context to reach
        a sidecar started with a TLS web config."""
        self.port = port or free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.root = Path(tempfile.mkdtemp(prefix="vo-s"))
        self.log_path = self.root / "sidecar.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vllm_obs", "run", "--host", "127.0.0.1", "--port", str(self.port), *args],
            stdout=open(self.log_path, "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        wait_for(lambda: urllib.request.urlopen(f"{self.url}/healthz", timeout=2, context=tls).status == 200, 30, "the sidecar to serve")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:
            return response.read().decode()

    def value(self, name: str, **labels: str) -> float | None:
        """The value of one series in the current scrape (None when absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        for family in text_string_to_metric_families(self.metrics()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        return None

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as when a node or the OOM killer takes it."""
        self.proc.kill()
        self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)

    def close(self) -> int:
        _stop_process(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)
        return self.proc.returncode
