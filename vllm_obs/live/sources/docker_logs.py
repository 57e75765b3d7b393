"""Follow containers through the Docker Engine API (the `docker` SDK; `DOCKER_HOST` honoured).

- On start, each target container's log is read from its beginning (vLLM prints its startup
  facts once: a sidecar that starts late must still see them), then followed.
- A follow stream ends when the container stops or restarts. On the Docker `start` event the
  sidecar re-attaches: for a restart of the same container it reads from the new run's start
  time (the json-file log still holds the previous run), for a re-created container (same name,
  new id) from its beginning; both are a new engine start for the state.
- When the daemon goes away, sources are reported down (`vllm_obs_source_up 0`) and the
  sidecar retries with exponential backoff; on reconnect it resumes each container from the last
  line it read.

Lines are requested with `timestamps=True`, so every line carries Docker's RFC 3339 time, which
the parser prefers to vLLM's yearless one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import docker
from docker.errors import DockerException, NotFound
from requests.exceptions import RequestException

from vllm_obs.ingest.lines import LineSplitter
from vllm_obs.ingest.timestamps import parse_outer_time

log = logging.getLogger(__name__)

BACKOFF_START_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0


def _run_started(container) -> str | None:
    """StartedAt of the container's current run (inspect data; list data has a bare string)."""
    state = container.attrs.get("State")
    return state.get("StartedAt") if isinstance(state, dict) else None


def _started_at(container) -> float | None:
    """The container's current run start as a Unix time."""
    return parse_outer_time(_run_started(container) or "")


class DockerFollower:
    def __init__(
        self,
        names: list[str],
        labels: list[str],
        emit: Callable[[str, list[str]], None],
        on_restart: Callable[[str], None] = lambda source: None,
        on_reconnect: Callable[[str], None] = lambda source: None,
        on_status: Callable[[str, bool, str], None] = lambda source, up, reason: None,
        client_factory: Callable[[], Any] = docker.from_env,
        on_ready: Callable[[], None] = lambda: None,
    ) -> None:
        # The same callbacks as every source (live/sources/__init__.py).
        self.names = {n.lstrip("/") for n in names}
        self.labels = list(labels)
        self.emit = emit
        self.on_restart = on_restart
        self.on_reconnect = on_reconnect
        self.on_status = on_status
        self.client_factory = client_factory
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._streams: dict[str, threading.Thread] = {}  # container id -> follow thread
        self._last_line_at: dict[str, float] = {}  # container id -> Docker time just after the last line read
        self._known: dict[str, str] = {}  # container id -> source name, for every container followed
        self._runs: dict[str, str | None] = {}  # container id -> StartedAt of the run being followed
        self._thread = threading.Thread(target=self._supervise, name="vllm-obs-docker", daemon=True)
        self._client = None
        self._events: Any = None  # the daemon's event stream (a generator) while connected
        # Readiness: called once the first connection's running containers were read to their end
        # (or the daemon could not be reached at all: there is nothing to wait for).
        self.on_ready = on_ready
        # What readiness waits for: None (the first listing), then the ids of the containers whose
        # initial read is still running; None once ready was called.
        self._initial: set[str | None] | None = {None}
        self._ready_lock = threading.Lock()  # not _lock: _attach holds that while joining a thread
        self.failure: str | None = None

    def alive(self) -> tuple[bool, str]:
        if self._thread.ident is not None and not self._thread.is_alive() and not self._stop.is_set():
            return False, f"docker supervisor thread died: {self.failure or 'unknown reason'}"
        return True, "ok"

    def _initial_done(self, cid: str | None) -> None:
        with self._ready_lock:
            if self._initial is None:
                return
            self._initial.discard(cid)
            if self._initial:
                return
            self._initial = None
        self.on_ready()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        events = self._events
        if events is not None:
            try:
                events.close()
            except Exception:  # noqa: BLE001 - closing a dead stream
                pass
        self._thread.join(5)

    # -- which containers -------------------------------------------------------------------------

    def _matches(self, container) -> bool:
        if container.name in self.names or container.id in self.names or container.short_id in self.names:
            return True
        if any(container.id.startswith(n) for n in self.names if len(n) >= 12):
            return True
        container_labels = container.labels or {}
        for item in self.labels:
            key, _, value = item.partition("=")
            if container_labels.get(key) == value:
                return True
        return False

    def _targets(self, client) -> list:
        found = {}
        for name in self.names:
            try:
                c = client.containers.get(name)
                found[c.id] = c
            except NotFound:
                continue
        for item in self.labels:
            for c in client.containers.list(all=True, filters={"label": item}):
                found[c.id] = c
        return list(found.values())

    # -- supervision --------------------------------------------------------------------------------

    def _supervise(self) -> None:
        try:
            self._supervise_loop()
        except BaseException as exc:  # noqa: BLE001 - recorded for /healthz, then re-raised
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("docker supervisor stopped")
            raise

    def _supervise_loop(self) -> None:
        backoff = BACKOFF_START_SECONDS
        connected_before = False
        first = True
        while not self._stop.is_set():
            try:
                client = self.client_factory()
                client.ping()
                self._client = client
                # Subscribe first, then list: a start between the two is not missed.
                self._events = client.events(decode=True, filters={"type": "container"}, since=int(time.time()))
                if connected_before:
                    log.info("docker: reconnected to the daemon")
                    for source in set(self._known.values()):
                        self.on_reconnect(source)
                connected_before = True
                targets = self._targets(client)
                running = [c for c in targets if c.status == "running"]
                if first:
                    with self._ready_lock:
                        if self._initial is not None:
                            self._initial |= {c.id for c in running}
                for container in targets:
                    if container.status == "running":
                        self._attach(container, since=self._last_line_at.get(container.id), initial=first)
                    else:
                        self.on_status(container.name, False, f"container {container.status}")
                if first:
                    first = False
                    self._initial_done(None)
                backoff = BACKOFF_START_SECONDS
                for event in self._events:
                    if self._stop.is_set():
                        break
                    self._on_event(client, event)
            except (DockerException, RequestException, OSError, ValueError) as exc:
                if not self._stop.is_set():
                    log.warning("docker: daemon unreachable or stream ended (%s); retrying in %.1f s", exc, backoff)
            if self._stop.is_set():
                break
            if first:  # never connected: nothing to catch up on, do not hold /metrics back
                first = False
                self._initial_done(None)
            for source in set(self._known.values()) | self.names:
                self.on_status(source, False, "docker daemon unreachable")
            self._stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    def _on_event(self, client, event: dict) -> None:
        action = event.get("Action") or event.get("status")
        if action != "start":
            return
        cid = event.get("id") or (event.get("Actor") or {}).get("ID")
        if not cid:
            return
        try:
            container = client.containers.get(cid)
        except NotFound:
            return
        if not self._matches(container):
            return
        source = container.name
        run = _run_started(container)
        if self._runs.get(cid) == run:
            return  # a run we already follow (the subscription can replay its start event)
        if cid in self._known:
            # The same container restarted: read only the new run (its log keeps the old one).
            # Resume just after the last line read: Docker stamps a run's first lines slightly
            # before the StartedAt it reports, so StartedAt would lose them.
            self.on_restart(source)
            since = self._last_line_at.get(cid) or _started_at(container)
            self._attach(container, since=since, restart=True)
        elif source in self._known.values():
            # Re-created under the same name: a new container, read from its beginning.
            self.on_restart(source)
            self._attach(container, since=None)
        else:
            self._attach(container, since=None)

    def _attach(self, container, since: float | None, restart: bool = False, initial: bool = False) -> None:
        with self._lock:
            running = self._streams.get(container.id)
            if running is not None and running.is_alive():
                if not restart:
                    return
                # A restart: the old run's stream ends with its container; let it finish first
                # so its last lines are not interleaved with the new run's.
                running.join(10)
            self._known[container.id] = container.name
            self._runs[container.id] = _run_started(container)
            thread = threading.Thread(target=self._follow, args=(container, since, initial), name=f"vllm-obs-docker-{container.name}", daemon=True)
            self._streams[container.id] = thread
        self.on_status(container.name, True, "")
        log.info("docker: attached to container %s (%s)", container.name, container.short_id)
        thread.start()

    def _read_existing(self, container, since: float | None, splitter: LineSplitter) -> float | None:
        """The initial read: the log up to now (not followed), so readiness knows its end."""
        self._stream(container, since, splitter, follow=False)
        return self._last_line_at.get(container.id, since)

    def _stream(self, container, since: float | None, splitter: LineSplitter, follow: bool) -> None:
        """Read the container's log from `since` (timestamped), emitting complete lines."""
        kwargs: dict[str, Any] = {"stream": True, "follow": follow, "timestamps": True}
        if since:
            kwargs["since"] = since
        for chunk in container.logs(**kwargs):
            if self._stop.is_set():
                break
            self._emit(container, splitter.feed(chunk))

    def _emit(self, container, lines: list[str]) -> None:
        if not lines:
            return
        last = parse_outer_time(lines[-1].split(" ", 1)[0])
        if last is not None:  # resume just after it if the daemon goes away
            self._last_line_at[container.id] = last + 1e-6
        self.emit(container.name, lines)

    def _follow(self, container, since: float | None, initial: bool = False) -> None:
        source = container.name
        splitter = LineSplitter()
        try:
            if initial:
                try:
                    since = self._read_existing(container, since, splitter)
                    # A piece without its newline will be sent again by the follow from `since`.
                    splitter = LineSplitter()
                finally:
                    self._initial_done(container.id)
            self._stream(container, since, splitter, follow=True)
            self.emit(source, splitter.flush())
        except (DockerException, RequestException, OSError, ValueError) as exc:
            log.info("docker: log stream of %s ended (%s)", source, exc)
        finally:
            # The stream ends when the container stops; a `start` event re-attaches.
            log.info("docker: detached from container %s", source)
            self.on_status(source, False, "container stopped")
