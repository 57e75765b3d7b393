"""The sidecar's HTTP endpoint: /metrics (Prometheus text or OpenMetrics, as the scraper asks),
/healthz and /readyz.

Until `ready()` (every source read up to its end once) /metrics answers 503: a restarted sidecar
catching up on its logs would otherwise show counters far below their last value, which
Prometheus takes for a reset and counts twice. A failed scrape is recorded as `up 0`, nothing more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - scrapes every few seconds are not news
        pass


Check = Callable[[], tuple[bool, str]]


def _always() -> tuple[bool, str]:
    return True, "ok"


def make_app(registry: CollectorRegistry, healthy: Check, ready: Check = _always):
    metrics = make_wsgi_app(registry)

    def answer(start_response, check: Check):
        ok, text = check()
        start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
        return [text.encode() + b"\n"]

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path in ("/metrics", "/"):
            ok, text = ready()
            if not ok:
                return answer(start_response, lambda: (False, text))
            return metrics(environ, start_response)
        if path == "/healthz":
            return answer(start_response, healthy)
        if path == "/readyz":
            return answer(start_response, ready)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: try /metrics, /healthz or /readyz\n"]

    return app


class MetricsServer:
    def __init__(self, host: str, port: int, registry: CollectorRegistry, healthy: Check, ready: Check = _always) -> None:
        self._server = make_server(host, port, make_app(registry, healthy, ready), _ThreadingServer, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="vllm-obs-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
