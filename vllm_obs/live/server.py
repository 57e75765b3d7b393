"""The sidecar's HTTP endpoint: /metrics (Prometheus text or OpenMetrics, as the scraper asks),
/healthz and /readyz; GET and HEAD only. /metrics answers 503 until `ready()` (every source read
up to its end once), so a restart never shows Prometheus a counter reset.

Bounded under load: a listen backlog sized for many scrapers, a fixed pool of handler threads,
and one acceptor thread that does the TLS handshake and reads each request's head without
blocking (selectors), handing a request to the pool only once its head is complete. A client
that connects and sends nothing, or trickles its headers, holds a file descriptor, never a
thread, and is closed at its deadline. Optional TLS and basic auth come from an exporter-toolkit
web config file (vllm_obs.live.webconfig).
"""

from __future__ import annotations

import gzip
import logging
import queue
import resource
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted

from vllm_obs.live.shared_render import SharedRenders
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
MAX_WAITING_CONNECTIONS = 4096  # connected, head not complete yet (and at most half the fd limit); beyond, the oldest are closed
SHARE_SECONDS = 0.02  # scrapes this close in time share one render (see SharedRenders)
MAX_HEAD_BYTES = 16384  # request line and headers; a GET to these endpoints needs a few hundred
_TEXT = [("Content-Type", "text/plain; charset=utf-8")]


def _answer(start_response: StartResponse, status: str, text: str, headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    start_response(status, [*_TEXT, *headers])
    return [text.encode() + b"\n"]


def route(path: str) -> str | None:
    """The endpoint a request is for, or None (404). Kept as one small function so that new
    endpoints are one line each."""
    if path == "/":
        return "/metrics"  # Prometheus' default is /metrics; a bare host:port works too
    return path if path in ENDPOINTS else None


def make_app(
    registry: CollectorRegistry, healthy: Check, ready: Check, web: WebConfig | None = None, share_seconds: float = SHARE_SECONDS
) -> Callable[[Environ, StartResponse], list[bytes]]:
    def render(key: tuple[str, tuple[str, ...], bool]) -> bytes:
        accept, names, compress = key
        encoder, _ = choose_encoder(accept)
        output: bytes = encoder(registry.restricted_registry(names) if names else registry)
        return gzip.compress(output) if compress else output

    shared = SharedRenders(render, share_seconds)

    def metrics(environ: Environ, start_response: StartResponse) -> list[bytes]:
        # As prometheus_client's make_wsgi_app: text or OpenMetrics as the Accept header asks,
        # gzip when accepted, ?name[]= to select families.
        accept = environ.get("HTTP_ACCEPT") or ""
        compress = gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING") or "")
        names = tuple(parse_qs(environ.get("QUERY_STRING", "")).get("name[]", ()))
        body = shared.get((accept, names, compress))
        start_response("200 OK", [("Content-Type", choose_encoder(accept)[1]), *([("Content-Encoding", "gzip")] if compress else [])])
        return [body]

    checks = {"/healthz": healthy, "/readyz": ready}

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        endpoint = route(environ.get("PATH_INFO", "/"))
        if endpoint is None:
            return _answer(start_response, "404 Not Found", "not found: try " + ", ".join(ENDPOINTS))
        if method not in METHODS:
            return _answer(start_response, "405 Method Not Allowed", f"{method} not allowed", [("Allow", ", ".join(METHODS))])
        # Probes carry no credentials (kubelet, Docker HEALTHCHECK): /healthz and /readyz answer
        # without basic auth; they say only whether the sidecar works.
        if endpoint == "/metrics" and web is not None and web.users and not web.authorized(environ.get("HTTP_AUTHORIZATION")):
            return _answer(start_response, "401 Unauthorized", "unauthorized", [("WWW-Authenticate", 'Basic realm="vllm-obs"')])
        if endpoint == "/metrics":
            # Until every source was read up to its end once, /metrics answers 503: a restarted
            # sidecar catching up would otherwise show counters far below their last value, which
            # Prometheus takes for a reset and counts twice. A failed scrape is only `up 0`.
            ok, text = ready()
            if not ok:
                return _answer(start_response, "503 Service Unavailable", text)
            body: list[bytes] = metrics(environ, start_response)
        else:
            ok, text = checks[endpoint]()
            body = _answer(start_response, "200 OK" if ok else "503 Service Unavailable", text)
        return body  # respond() sends HEAD's headers only

    return app


def _environ(head: bytes, address: Any) -> Environ | None:
    """The WSGI environ of a complete request head (None when it is not HTTP/1.x)."""
    lines = head.decode("latin-1").split("\n")
    parts = lines[0].strip().split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    path, _, query = parts[1].partition("?")
    environ: Environ = {
        "REQUEST_METHOD": parts[0],
        "PATH_INFO": unquote(path),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": parts[2],
        "REMOTE_ADDR": address[0] if address else "",
    }
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            environ["HTTP_" + name.strip().upper().replace("-", "_")] = value.strip()
    return environ


def respond(head: bytes, address: Any, app: Callable[[Environ, StartResponse], list[bytes]]) -> bytes:
    """The whole answer to one request whose head was read, to be sent in one write before the
    connection is closed (no keep-alive: a scraper opens one connection per scrape, and no
    idle connection is left for a client to hold)."""
    environ = _environ(head, address)
    answer: list[Any] = ["400 Bad Request", _TEXT]
    if environ is None:
        body = b"bad request\n"
    else:
        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            answer[:] = [status, headers]

        body = b"".join(app(environ, start_response))
    status, headers = answer
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close", *(f"{k}: {v}" for k, v in headers)]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data if environ is not None and environ["REQUEST_METHOD"] == "HEAD" else data + body


class _Pending:
    """A connection whose request head is still arriving."""

    __slots__ = ("address", "deadline", "handshaken", "head")

    def __init__(self, address: Any, deadline: float, handshaken: bool) -> None:
        self.address = address
        self.deadline = deadline
        self.head = bytearray()
        self.handshaken = handshaken


class MetricsServer:
    """Serves the app on host:port with a bounded number of threads.

    The acceptor thread accepts, completes TLS handshakes and reads request heads for every
    connection at once (non-blocking, one selector); a complete head goes to one of `threads`
    workers through a queue. Each connection has a total deadline of `timeout_seconds` from its
    accept: one still incomplete is closed by the acceptor, one being answered past it (a client
    that does not read) is shut down under its worker, which then moves on.

    `healthy` and `ready` return (ok, reason) and may be called from the acceptor thread:
    they must answer at once (read a flag or a timestamp; never wait on a lock held for long).
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
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
        self._app = make_app(registry, healthy, ready or healthy, web)
        self.port: int = self._listener.getsockname()[1]
        self._tls = web.ssl_context() if web is not None else None
        # Answered by the acceptor itself only without TLS and basic auth: a bcrypt check of a
        # wrong password takes ~0.2 s by design and must not stall every other connection.
        self._inline = self._tls is None and not (web is not None and web.users)
        # Leave file descriptors for the sources and the answers: at most half of the limit waits.
        self._max_waiting = min(MAX_WAITING_CONNECTIONS, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2)
        self._last_accept_warning = -1e9
        self._timeout = timeout_seconds
        self._serving: dict[int, float] = {}  # file descriptor -> deadline, while a worker has it
        self._lock = threading.Lock()
        self._work: queue.Queue[tuple[socket.socket, Any, float, bytes, bytes | None] | None] = queue.Queue()
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
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept_loop(self) -> None:
        listener = self._listener
        listener.setblocking(False)
        pending: dict[socket.socket, _Pending] = {}  # oldest first (insertion order = accept order)
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                with self._lock:
                    deadlines = list(self._serving.values())
                if pending:
                    deadlines.append(next(iter(pending.values())).deadline)
                timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                for key, _ in selector.select(timeout):
                    if key.fileobj is listener:
                        self._accept_some(listener, selector, pending)
                    elif key.fileobj is not self._wake_r:
                        conn = key.fileobj
                        assert isinstance(conn, socket.socket)
                        state = pending.get(conn)
                        if state is not None:  # else closed earlier in this round (out of descriptors)
                            self._read_head(conn, state, selector, pending)
                now = time.monotonic()
                while pending:
                    conn, state = next(iter(pending.items()))
                    if state.deadline > now and len(pending) <= self._max_waiting:
                        break
                    self._drop(conn, selector, pending)
                self._shut_overdue(now)
            for conn in list(pending):
                self._drop(conn, selector, pending)

    def _accept_some(self, listener: socket.socket, selector: selectors.BaseSelector, pending: dict[socket.socket, _Pending]) -> None:
        for _ in range(64):  # take a burst of connections, then look at the others again
            try:
                conn, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors (EMFILE): make room, the rest wait in the backlog
                now = time.monotonic()
                if now - self._last_accept_warning > 60:
                    self._last_accept_warning = now
                    logger.warning("cannot accept connections: %s (%d waiting for their request; closing the oldest)", exc.strerror or exc, len(pending))
                if pending:
                    self._drop(next(iter(pending)), selector, pending)  # slow clients are the likely cause
                else:
                    time.sleep(0.01)  # no connection of ours to close: do not spin on a readable listener
                return
            conn.setblocking(False)
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            pending[conn] = _Pending(address, time.monotonic() + self._timeout, handshaken=self._tls is None)
            selector.register(conn, selectors.EVENT_READ)
            if self._tls is None:
                self._read_head(conn, pending[conn], selector, pending)  # the request has often arrived already

    def _read_head(self, conn: socket.socket, state: _Pending, selector: selectors.BaseSelector, pending: dict[socket.socket, _Pending]) -> None:
        """Advance one connection without blocking: handshake, then read until the blank line."""
        try:
            if not state.handshaken:
                conn.do_handshake()  # type: ignore[attr-defined]
                state.handshaken = True
            while True:  # drain: TLS may hold decrypted bytes the selector cannot see
                chunk = conn.recv(4096)
                if not chunk:
                    self._drop(conn, selector, pending)  # closed before a complete head
                    return
                state.head += chunk
                if b"\r\n\r\n" in state.head or b"\n\n" in state.head:
                    break
                if len(state.head) > MAX_HEAD_BYTES:
                    self._drop(conn, selector, pending)
                    return
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return  # more to come
        except (OSError, ssl.SSLError) as exc:  # resets, failed handshakes (e.g. plain HTTP to TLS)
            logger.debug("connection from %s: %s", state.address[0] if state.address else "?", exc)
            self._drop(conn, selector, pending)
            return
        selector.unregister(conn)
        del pending[conn]
        rest: bytes | None = None
        if self._inline:
            # Plain HTTP: answer here when the whole answer fits the socket buffer (the rule for
            # a few KB on a fresh connection); a thread hand-off would cost more than the write.
            try:
                rest = respond(bytes(state.head), state.address, self._app)
                rest = rest[conn.send(rest) :]
            except BlockingIOError:
                pass
            except OSError as exc:
                logger.debug("connection from %s: %s", state.address[0] if state.address else "?", exc)
                rest = b""
            except Exception:
                logger.exception("error while answering %s", state.address[0] if state.address else "?")
                rest = b""
            if not rest:
                self._finish(conn)
                return
        with self._lock:
            self._serving[conn.fileno()] = state.deadline
        self._work.put((conn, state.address, state.deadline, bytes(state.head), rest))

    @staticmethod
    def _drop(conn: socket.socket, selector: selectors.BaseSelector, pending: dict[socket.socket, _Pending]) -> None:
        selector.unregister(conn)
        del pending[conn]
        conn.close()

    def _shut_overdue(self, now: float) -> None:
        """Shut down (not close: the worker owns the descriptor) connections past their deadline;
        the worker's blocked write then returns at once."""
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
            conn, address, deadline, head, rest = item
            fd = conn.fileno()
            try:
                conn.settimeout(max(0.05, deadline - time.monotonic()))
                conn.sendall(respond(head, address, self._app) if rest is None else rest)
            except (OSError, ssl.SSLError) as exc:  # timeouts and resets: the client's problem
                logger.debug("connection from %s: %s", address[0] if address else "?", exc)
            except Exception:
                logger.exception("error while answering %s", address[0] if address else "?")
            finally:
                with self._lock:
                    self._serving.pop(fd, None)
                    self._finish(conn)

    @staticmethod
    def _finish(conn: socket.socket) -> None:
        try:
            conn.shutdown(socket.SHUT_WR)  # FIN after the answer, then close
        except OSError:
            pass
        conn.close()
