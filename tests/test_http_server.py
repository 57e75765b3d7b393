"""The sidecar's HTTP server on a real socket: methods and paths, OpenMetrics negotiation, health
answers, and bounded threads under slow-header clients."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Gauge

from realparts import wait_for
from vllm_obs.live.server import HANDLER_THREADS, LISTEN_BACKLOG, SHARE_SECONDS, MetricsServer


def serve(healthy: tuple[bool, str] = (True, "ok"), ready: tuple[bool, str] = (True, "ready"), timeout: float = 10.0) -> MetricsServer:
    registry = CollectorRegistry()
    Gauge("vllm_obs_kv_cache_capacity_tokens", "KV cache capacity", registry=registry).set(395712)
    server = MetricsServer("127.0.0.1", 0, registry, healthy=lambda: healthy, ready=lambda: ready, timeout_seconds=timeout)
    server.start()
    return server


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    server = serve(healthy=(False, "pipeline thread died: ValueError: bad record"))
    yield server
    server.stop()


def request(server: MetricsServer, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    data = b"x" if method in ("POST", "PUT") else None
    req = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_paths_and_methods(server: MetricsServer) -> None:
    status, headers, body = request(server, "/metrics")
    assert status == 200 and b"vllm_obs_kv_cache_capacity_tokens 395712.0" in body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    status, headers, body = request(server, "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0") and body.endswith(b"# EOF\n")
    assert request(server, "/")[2] == request(server, "/metrics")[2]
    status, headers, body = request(server, "/metrics", "HEAD")
    assert (status, body) == (200, b"")
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        status, headers, _ = request(server, "/metrics", method)
        assert (status, headers["Allow"]) == (405, "GET, HEAD")
    assert request(server, "/healthz", "POST")[0] == 405
    assert request(server, "/metrics/extra")[0] == 404
    assert request(server, "/api/v1/query", "POST")[0] == 404


def test_health_and_readiness_say_why(server: MetricsServer) -> None:
    assert request(server, "/healthz")[::2] == (503, b"pipeline thread died: ValueError: bad record\n")
    assert request(server, "/readyz")[::2] == (200, b"ready\n")


def test_slow_header_clients_hold_no_thread_and_are_closed_at_the_deadline() -> None:
    assert LISTEN_BACKLOG >= 128
    before = threading.active_count()
    server = serve(timeout=1.5)
    clients: list[socket.socket] = []
    try:
        assert threading.active_count() == before + 1 + HANDLER_THREADS
        for i in range(300):
            client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            client.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"GE")  # never the blank line
            clients.append(client)
        # A real scrape is answered at once meanwhile, and no thread was added for the 300.
        started = time.monotonic()
        assert request(server, "/metrics")[0] == 200
        assert time.monotonic() - started < 1.0
        assert threading.active_count() == before + 1 + HANDLER_THREADS
        # Each one is closed by the server at its deadline (recv sees the end of the stream).
        for client in clients:
            assert client.recv(100) == b""
        assert time.monotonic() - started < 5.0
    finally:
        for client in clients:
            client.close()
        server.stop()
    wait_for(lambda: threading.active_count() == before, 5, "the server's threads to end")


def test_a_failing_collector_fails_one_scrape_not_the_server() -> None:
    class Failing:
        calls = 0

        def collect(self):  # noqa: ANN201 - the prometheus_client collector protocol
            Failing.calls += 1
            if Failing.calls == 1:
                raise RuntimeError("collector bug")
            yield from ()

    registry = CollectorRegistry()
    registry.register(Failing())
    server = MetricsServer("127.0.0.1", 0, registry, healthy=lambda: (True, "ok"))
    server.start()
    try:
        with pytest.raises(OSError):  # the connection is closed without an answer
            request(server, "/metrics")
        assert request(server, "/metrics")[0] == 200
        assert request(server, "/healthz")[0] == 200
    finally:
        server.stop()


def test_shared_renders_are_never_older_than_their_bound() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("vllm_obs_requests_running", "running", registry=registry)
    server = MetricsServer("127.0.0.1", 0, registry, healthy=lambda: (True, "ok"))
    server.start()
    try:
        for value in range(5):
            gauge.set(value)
            time.sleep(SHARE_SECONDS * 1.5)  # the bound under test, not a wait for a result
            assert f"vllm_obs_requests_running {value:.1f}".encode() in request(server, "/metrics")[2]
    finally:
        server.stop()


def test_slow_clients_beyond_the_file_descriptor_limit_do_not_stop_scrapes(tmp_path) -> None:  # noqa: ANN001
    """A real sidecar with a 256 file descriptor limit and 600 silent connections: the oldest
    are closed to make room, and a scrape is still answered."""
    import resource
    import subprocess
    import sys

    from realparts import free_port

    (tmp_path / "vllm.log").write_text("")
    port = free_port()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    process = subprocess.Popen(
        [sys.executable, "-m", "vllm_obs", "run", "--file", str(tmp_path / "vllm.log"), "--host", "127.0.0.1", "--port", str(port)],
        stderr=subprocess.PIPE,
        preexec_fn=limit,  # noqa: PLW1509 - a resource limit for the child only
    )
    clients: list[socket.socket] = []
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        wait_for(lambda: urllib.request.urlopen(url, timeout=2).status == 200, 30, "the sidecar to serve")
        for _ in range(600):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        started = time.monotonic()
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).status == 200, 10, "a scrape past the slow clients")
        assert time.monotonic() - started < 5
        assert process.poll() is None
    finally:
        for client in clients:
            client.close()
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    assert stderr.count(b"cannot accept connections") <= 1  # said once, not once per attempt
