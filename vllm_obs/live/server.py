"""The sidecar's HTTP endpoint: /metrics (Prometheus text or OpenMetrics, as the scraper asks),
/healthz and /readyz; GET and HEAD only.

Bounded under load: a listen backlog sized for many scrapers, a fixed pool of handler threads,
and an acceptor that hands a connection to the pool only once its first bytes have arrived (a
client that connects and sends nothing holds a file descriptor, never a thread). Every
connection has a total deadline; idle ones are closed after it. Optional TLS and basic auth come
from an exporter-toolkit web config file (vllm_obs.live.webconfig).
"""

from __future__ import annotations

import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry, make_wsgi_app

from vllm_obs.live.webconfig import WebConfig

logger = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, str]]
StartResponse = Callable[..., Any]
Environ = dict[str, Any]

ENDPOINTS = ("/metrics", "/healthz", "/readyz")
METHODS = ("GET", "HEAD")
LISTEN_BACKLOG = 1024  # the kernel caps it at net.core.somaxconn (4096 on current kernels)
HANDLER_THREADS = 8  # a scrape takes about a millisecond: eight threads serve hundreds of scrapers
REQUEST_TIMEOUT_SECONDS = 10.0  # from accept to the last byte of the answer
MAX_WAITING_CONNECTIONS = 4096  # connected but silent; beyond this the oldest are closed
_TEXT = [("Content-Type", "text/plain; charset=utf-8")]


def _answer(start_response: StartResponse, status: str, text: str, headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    start_response(status, [*_TEXT, *headers])
    return [text.encode() + b"\n"]


def route(method: str, path: str) -> str | None:
    """The endpoint a request is for, or None (404). Kept as one small function so that new
    endpoints are one line each."""
    if path == "/":
        return "/metrics"  # Prometheus' default is /metrics; a bare host:port works too
    return path if path in ENDPOINTS else None


def make_app(registry: CollectorRegistry, healthy: Check, ready: Check, web: WebConfig | None = None) -> Callable[[Environ, StartResponse], list[bytes]]:
    metrics = make_wsgi_app(registry)  # does the OpenMetrics negotiation and gzip
    checks = {"/healthz": healthy, "/readyz": ready}

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        endpoint = route(method, environ.get("PATH_INFO", "/"))
        if endpoint is None:
            return _answer(start_response, "404 Not Found", "not found: try " + ", ".join(ENDPOINTS))
        if method not in METHODS:
            return _answer(start_response, "405 Method Not Allowed", f"{method} not allowed", [("Allow", ", ".join(METHODS))])
        # Probes carry no credentials (kubelet, Docker HEALTHCHECK): /healthz and /readyz answer
        # without basic auth; they say only whether the sidecar works.
        if endpoint == "/metrics" and web is not None and web.users and not web.authorized(environ.get("HTTP_AUTHORIZATION")):
            return _answer(start_response, "401 Unauthorized", "unauthorized", [("WWW-Authenticate", 'Basic realm="vllm-obs"')])
        if endpoint == "/metrics":
            body: list[bytes] = metrics(environ, start_response)
        else:
            ok, text = checks[endpoint]()
            body = _answer(start_response, "200 OK" if ok else "503 Service Unavailable", text)
        return [] if method == "HEAD" else body

    return app


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - scrapes every few seconds are not news
        pass


class _Server(WSGIServer):
    request_queue_size = LISTEN_BACKLOG
    allow_reuse_address = True


class MetricsServer:
    """Serves the app on host:port with a bounded number of threads.

    One acceptor thread waits (selector) for new connections and for their first bytes; ready
    connections go to `threads` workers through a queue. Each connection has a total deadline
    of `timeout_seconds` from its accept: a silent one is closed by the acceptor, one being
    served past it is shut down under its worker (which then moves on), so a client trickling
    its headers holds a worker for at most that long.
    """

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        healthy: Check,
        ready: Check | None = None,
        web: WebConfig | None = None,
        threads: int = HANDLER_THREADS,
        timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.set_app(make_app(registry, healthy, ready or healthy, web))
        self.port: int = self._server.server_port
        self._tls = web.ssl_context() if web is not None else None
        self._timeout = timeout_seconds
        self._serving: dict[int, float] = {}  # file descriptor -> deadline, while a worker has it
        self._lock = threading.Lock()
        self._work: queue.Queue[tuple[socket.socket, Any, float] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._threads = [threading.Thread(target=self._accept_loop, name="vllm-obs-http-accept", daemon=True)]
        self._threads += [threading.Thread(target=self._work_loop, name=f"vllm-obs-http-{i}", daemon=True) for i in range(threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake_w.send(b"x")
        for _ in self._threads[1:]:
            self._work.put(None)
        for thread in self._threads:
            thread.join(5)
        self._server.server_close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept_loop(self) -> None:
        listener = self._server.socket
        listener.setblocking(False)
        waiting: dict[socket.socket, tuple[Any, float]] = {}  # silent connections: address, deadline (oldest first)
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                with self._lock:
                    deadlines = list(self._serving.values())
                if waiting:
                    deadlines.append(next(iter(waiting.values()))[1])
                timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                for key, _ in selector.select(timeout):
                    if key.fileobj is listener:
                        self._accept_some(listener, selector, waiting)
                    elif key.fileobj is not self._wake_r:
                        conn = key.fileobj
                        assert isinstance(conn, socket.socket)
                        selector.unregister(conn)
                        address, deadline = waiting.pop(conn)
                        with self._lock:
                            self._serving[conn.fileno()] = deadline
                        self._work.put((conn, address, deadline))
                now = time.monotonic()
                while waiting:
                    conn, (_, deadline) = next(iter(waiting.items()))
                    if deadline > now and len(waiting) <= MAX_WAITING_CONNECTIONS:
                        break
                    selector.unregister(conn)
                    del waiting[conn]
                    conn.close()
                self._shut_overdue(now)
            for conn in waiting:
                conn.close()

    def _accept_some(self, listener: socket.socket, selector: selectors.BaseSelector, waiting: dict[socket.socket, tuple[Any, float]]) -> None:
        for _ in range(64):  # drain a burst of connections, then look at the others again
            try:
                conn, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors: the rest stay in the backlog
                logger.warning("cannot accept a connection: %s", exc)
                return
            conn.setblocking(True)
            waiting[conn] = (address, time.monotonic() + self._timeout)
            selector.register(conn, selectors.EVENT_READ)

    def _shut_overdue(self, now: float) -> None:
        """Shut down (not close: the worker owns the descriptor) connections past their deadline;
        the worker's blocked read or write then returns at once."""
        with self._lock:  # held so that a worker cannot close and reuse the descriptor meanwhile
            for fd, deadline in list(self._serving.items()):
                if deadline <= now:
                    del self._serving[fd]
                    raw = socket.socket(fileno=fd)
                    try:
                        raw.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    finally:
                        raw.detach()

    def _work_loop(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            conn, address, deadline = item
            fd = conn.fileno()
            served: socket.socket = conn
            try:
                conn.settimeout(max(0.05, deadline - time.monotonic()))
                if self._tls is not None:
                    served = self._tls.wrap_socket(conn, server_side=True)  # same descriptor
                self._server.finish_request(served, address)
            except (OSError, ssl.SSLError) as exc:  # timeouts, resets, failed handshakes: the client's problem
                logger.debug("connection from %s: %s", address[0] if address else "?", exc)
            except Exception:  # noqa: BLE001 - one bad request must not end a worker
                logger.exception("error while answering %s", address[0] if address else "?")
            finally:
                with self._lock:
                    self._serving.pop(fd, None)
                    self._server.shutdown_request(served)  # FIN after the answer, then close
