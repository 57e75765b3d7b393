"""Follow log files: read from the start, then follow appends, rotation and truncation.

Any watchdog event (or a 1 s tick, so a missed event costs at most a second) triggers one
`sync()` of every tracked file. Files are tracked by (dev, inode), and a tracked file's content
is checked by two fingerprints before each read, which makes the cases one routine:

- append: read what is new; a last line without its newline waits in a buffer;
- rename rotation (`vllm.log` -> `vllm.log.1`, new `vllm.log`): the old inode is drained to
  its end (and kept open for `rotate_wait_seconds` for late writes), the new file is read from
  its start; a rotated file matching the glob is not read twice (its inode is known);
- copytruncate: size below our offset -> read again from 0. A truncation followed by a rewrite
  past our offset before the next sync leaves the size above the offset, so the size alone
  cannot tell; the fingerprints can: `head` (the first FINGERPRINT_BYTES of the file) and
  `tail` (the FINGERPRINT_BYTES just before our offset). An append never changes bytes before
  the offset, so any difference proves a rewrite -> read again from 0;
- deletion and re-creation: drain the deleted inode, then read the new one from its start. A
  new file that reuses a freed inode is told apart from the old one by the same fingerprints
  (kept with the final offset of every closed inode);
- a file that does not exist yet: picked up when it appears (its source reported down,
  "missing", until then);
- at start, the rotated siblings of each followed file (`vllm.log.1`, `vllm.log.2`,
  `vllm.log-20261201`, the kubelet's `0.log.20261201-095900`) are read first: the newest within
  `rotated_files` / `rotated_bytes`, oldest first: a restarted sidecar counts
  what it had counted before a rotation again (see docs/operations.md, Restart semantics).

`--poll` uses watchdog's polling observer for filesystems where inotify sees nothing (some bind
mounts, network filesystems).
"""

from __future__ import annotations

import glob
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from vllm_obs.ingest.lines import LineSplitter

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 20
FINGERPRINT_BYTES = 256  # Vector's default checksum length
ROTATED_FILES = 2
ROTATED_BYTES = 256 << 20
FORGET_AFTER_SECONDS = 300.0
# Rotated names read back at start: logrotate's `F.1`, `F.2`, its dateext `F-20261201`, the
# kubelet's `0.log.20261201-095900`. Compressed ones (`.gz`) are not.
_ROTATED_SUFFIX = re.compile(r"[0-9][0-9-]*")


@dataclass
class TrackedFile:
    path: str
    source: str  # the label, fixed when the file is opened: it survives rotation renames
    key: tuple[int, int]  # (st_dev, st_ino)
    handle: BinaryIO
    offset: int = 0
    lines: LineSplitter = field(default_factory=LineSplitter)
    retired_at: float | None = None  # rotated/deleted: drained until retired_at + rotate_wait
    head: bytes = b""  # the file's first bytes, up to FINGERPRINT_BYTES
    tail: bytes = b""  # the bytes just before `offset`, up to FINGERPRINT_BYTES


@dataclass(frozen=True)
class _Closed:
    """What is remembered of a closed inode, to resume it or to tell a reused inode apart."""

    offset: int
    head: bytes
    tail: bytes


def _pread(fd: int, length: int, offset: int) -> bytes:
    return os.pread(fd, length, offset) if length else b""


def _same_content(fd: int, size: int, offset: int, head: bytes, tail: bytes) -> bool:
    """True when the bytes we read before `offset` are still there (a pure append)."""
    if size < offset:
        return False
    return _pread(fd, len(head), 0) == head and _pread(fd, len(tail), offset - len(tail)) == tail


def _permission_problem(path: str) -> str:
    """Name the permission problem: the file's mode and owner against our uid and groups."""
    try:
        st = os.stat(path)
    except OSError:
        return f"unreadable: {path}: permission denied"
    groups = sorted(set(os.getgroups()) | {os.getgid()})
    return (
        f"unreadable: {path}: permission denied (mode {st.st_mode & 0o777:04o}, owner uid {st.st_uid} gid {st.st_gid}; "
        f"running as uid {os.getuid()} groups {','.join(map(str, groups))})"
    )


@dataclass
class FileFollower:
    patterns: list[str]
    emit: Callable[[str, list[str]], None]  # (source name, lines)
    source_name: Callable[[str], str] = os.path.abspath  # path -> source label (at open)
    poll: bool = False
    rotate_wait_seconds: float = 5.0
    tick_seconds: float = 1.0
    on_reconnect: Callable[[str], None] = lambda source: None
    # (source, up, reason): attached, missing, unreadable, vanished. Called on changes only.
    on_status: Callable[[str, bool, str], None] = lambda source, up, reason: None
    # A source matched by a glob that vanished `forget_after_seconds` ago: drop its series.
    on_forget: Callable[[str], None] = lambda source: None
    # Called once, after the first sync read every file (and its rotated siblings) to its end.
    on_ready: Callable[[], None] = lambda: None
    forget_after_seconds: float = FORGET_AFTER_SECONDS
    rotated_files: int = ROTATED_FILES
    rotated_bytes: int = ROTATED_BYTES
    syncs: int = 0  # completed sync() passes (tests wait on it instead of sleeping)
    ready: bool = False
    failure: str | None = None  # why the follower thread ended, if it did
    _files: dict[tuple[int, int], TrackedFile] = field(default_factory=dict)
    _finished: dict[tuple[int, int], _Closed] = field(default_factory=dict)  # closed inodes
    _status: dict[str, tuple[bool, str]] = field(default_factory=dict)
    _down_since: dict[str, float] = field(default_factory=dict)
    _seen_up: set[str] = field(default_factory=set)
    _unreadable: dict[str, str] = field(default_factory=dict)  # path -> reason, this sync
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _observer: Any = None

    def start(self) -> None:
        observer = PollingObserver(timeout=self.tick_seconds) if self.poll else Observer()
        handler = _Wake(self._wake)
        for directory in self._watch_dirs():
            try:
                observer.schedule(handler, directory, recursive="**" in "".join(self.patterns) or self._deep())
            except OSError:
                continue  # the directory appears later: the tick's sync picks the files up
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._loop, name="vllm-obs-files", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
        if self._thread is not None:
            self._thread.join(5)
        for tracked in list(self._files.values()):
            self._close(tracked)

    def alive(self) -> tuple[bool, str]:
        """For /healthz: the follower thread (and the watchdog observer) still run."""
        if self._thread is not None and not self._thread.is_alive() and not self._stop.is_set():
            return False, f"file follower thread died: {self.failure or 'unknown reason'}"
        observer = self._observer
        if observer is not None and not observer.is_alive() and not self._stop.is_set():
            return False, "file watch observer thread died"
        return True, "ok"

    def _deep(self) -> bool:
        # A glob with wildcards in directory parts (Kubernetes: /var/log/pods/*/*/*.log) needs a
        # recursive watch from its first fixed directory.
        return any(glob.has_magic(os.path.dirname(p)) for p in self.patterns)

    def _watch_dirs(self) -> set[str]:
        dirs = set()
        for pattern in self.patterns:
            directory = os.path.dirname(os.path.abspath(pattern))
            while glob.has_magic(directory):
                directory = os.path.dirname(directory)
            while directory and not os.path.isdir(directory):
                directory = os.path.dirname(directory)
            dirs.add(directory or "/")
        return dirs

    def _loop(self) -> None:
        try:
            self._first_sync()
            while not self._stop.is_set():
                self._wake.wait(self.tick_seconds)
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    self.sync()
                except Exception:  # one bad pass must not stop following: log it, retry
                    log.exception("file sync failed; retrying")
                    self._stop.wait(self.tick_seconds)
        except BaseException as exc:  # noqa: BLE001 - recorded for /healthz, then re-raised
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("file follower stopped")
            raise

    def _first_sync(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync(first=True)  # read what is there (rotations first), in this thread
                break
            except Exception:
                log.exception("first file sync failed; retrying")
                self._stop.wait(self.tick_seconds)
        self.ready = True
        self.on_ready()

    # -- the one routine ---------------------------------------------------------------------------

    def _current(self) -> dict[str, tuple[int, int]]:
        current: dict[str, tuple[int, int]] = {}
        for pattern in self.patterns:
            for path in glob.glob(pattern):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if os.path.isfile(path):
                    current[os.path.abspath(path)] = (st.st_dev, st.st_ino)
        return current

    def sync(self, first: bool = False) -> None:
        now = time.monotonic()
        current = self._current()
        self._unreadable = {}
        # Files whose path now names another inode, or no longer exists: drain and retire.
        for tracked in list(self._files.values()):
            if current.get(tracked.path) != tracked.key and tracked.retired_at is None:
                moved_to = next((p for p, k in current.items() if k == tracked.key), None)
                if moved_to is not None and moved_to != tracked.path:
                    tracked.path = moved_to  # renamed onto another matching name: same file
                else:
                    tracked.retired_at = now
                    log.info("file %s (source %s): rotated or deleted; draining it", tracked.path, tracked.source)
        # Read every tracked file (retired ones too: the writer may still append to them).
        for tracked in list(self._files.values()):
            self._read(tracked)
            if tracked.retired_at is not None and now - tracked.retired_at >= self.rotate_wait_seconds:
                self._close(tracked)
                log.info("file %s (source %s): detached", tracked.path, tracked.source)
        # New inodes: read from the start (or from where a closed one ended).
        for path, key in current.items():
            if key not in self._files:
                if first:
                    self._read_rotated(path, set(current.values()))
                self._open(path, key, reconnect=not first)
        self._update_status(now, current)
        self.syncs += 1

    def _read_rotated(self, path: str, matched: set[tuple[int, int]]) -> None:
        """At start: read the newest rotated siblings of `path` (within the bounds), oldest first."""
        siblings = []
        for candidate in glob.glob(glob.escape(path) + ".*") + glob.glob(glob.escape(path) + "-*"):
            suffix = candidate[len(path) + 1:]
            if not _ROTATED_SUFFIX.fullmatch(suffix):
                continue  # compressed (.gz) and other names are not read back
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in matched or key in self._files:
                continue  # the glob matches it: it is a source of its own
            # Newest first: by modification time, then .1 before .2 (logrotate's numbering).
            siblings.append((-st.st_mtime_ns, int(suffix.replace("-", "")[:18] or 0), st.st_size, candidate, key))
        chosen: list[tuple[str, tuple[int, int]]] = []
        total = 0
        for _, _, size, candidate, key in sorted(siblings):
            if len(chosen) >= self.rotated_files or total + size > self.rotated_bytes:
                break
            chosen.append((candidate, key))
            total += size
        for candidate, key in reversed(chosen):
            log.info("file %s: reading its rotated file %s first", path, candidate)
            self._open(candidate, key, source=self.source_name(path), retired=True, reconnect=False)

    def _open(self, path: str, key: tuple[int, int], source: str | None = None, retired: bool = False, reconnect: bool = True) -> None:
        source = source or self.source_name(path)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed in _close
        except PermissionError:
            self._unreadable[source] = _permission_problem(path)
            return
        except OSError as exc:
            self._unreadable[source] = f"unreadable: {path}: {exc.strerror or exc}"
            return
        tracked = TrackedFile(path, source, key, handle, retired_at=time.monotonic() if retired else None)
        closed = self._finished.pop(key, None)
        if closed is not None:
            size = os.fstat(handle.fileno()).st_size
            if _same_content(handle.fileno(), size, closed.offset, closed.head, closed.tail):
                tracked.offset, tracked.head, tracked.tail = closed.offset, closed.head, closed.tail
                handle.seek(closed.offset)
            else:
                log.info("file %s: a new file on a reused inode; reading it from its start", path)
        if reconnect and (any(t.source == source for t in self._files.values()) or tracked.offset):
            self.on_reconnect(source)  # the next file of a rotated log, or a re-created one
        if not retired:
            log.info("file %s (source %s): attached at offset %d", path, source, tracked.offset)
        self._files[key] = tracked
        self._read(tracked)

    def _read(self, tracked: TrackedFile) -> None:
        handle = tracked.handle
        try:
            fd = handle.fileno()
            size = os.fstat(fd).st_size
            rewritten = tracked.offset > 0 and not _same_content(fd, size, tracked.offset, tracked.head, tracked.tail)
        except OSError:
            return
        if rewritten:  # copytruncate (perhaps already rewritten past our offset): from the top
            self._from_start(tracked, f"size {size}, offset {tracked.offset}")
        while True:
            data = handle.read(READ_CHUNK)
            if not data:
                break
            if tracked.head and _pread(fd, len(tracked.head), 0) != tracked.head:
                # Rewritten between the check and this read: these bytes may be the new content
                # at the old offsets. Drop them and read the new content from its start.
                self._from_start(tracked, "rewritten while being read")
                continue
            if len(tracked.head) < FINGERPRINT_BYTES:
                tracked.head = (tracked.head + data)[:FINGERPRINT_BYTES]
            tracked.tail = (tracked.tail + data[-FINGERPRINT_BYTES:])[-FINGERPRINT_BYTES:]
            tracked.offset += len(data)
            lines = tracked.lines.feed(data)
            if lines:
                self.emit(tracked.source, lines)

    def _from_start(self, tracked: TrackedFile, why: str) -> None:
        log.info("file %s (source %s): truncated or rewritten (%s); reading it from its start", tracked.path, tracked.source, why)
        tail = tracked.lines.flush()
        if tail:
            self.emit(tracked.source, tail)
        tracked.handle.seek(0)
        tracked.offset = 0
        tracked.head = tracked.tail = b""
        self.on_reconnect(tracked.source)

    def _close(self, tracked: TrackedFile) -> None:
        self._read(tracked)
        tail = tracked.lines.flush()  # the file is done: its unterminated last line is a line
        if tail:
            self.emit(tracked.source, tail)
        tracked.handle.close()
        self._files.pop(tracked.key, None)
        self._finished[tracked.key] = _Closed(tracked.offset, tracked.head, tracked.tail)
        if len(self._finished) > 4096:  # forget the oldest
            self._finished.pop(next(iter(self._finished)))

    # -- source status -------------------------------------------------------------------------------

    def _fixed_sources(self) -> dict[str, str]:
        """Source label -> path, for the patterns that name one file (not a glob)."""
        return {self.source_name(os.path.abspath(p)): os.path.abspath(p) for p in self.patterns if not glob.has_magic(p)}

    def _update_status(self, now: float, current: dict[str, tuple[int, int]]) -> None:
        # A file still draining (rotated or deleted, within rotate_wait) keeps its source up: a
        # rename rotation must not flap source_up while the writer creates the next file.
        active = {t.source for t in self._files.values()}
        fixed = self._fixed_sources()
        status: dict[str, tuple[bool, str]] = {source: (True, "") for source in active}
        for source, reason in self._unreadable.items():
            status.setdefault(source, (False, reason))
        for source, path in fixed.items():
            status.setdefault(source, (False, "vanished: the file was deleted" if source in self._seen_up else f"missing: {path}: no such file"))
        for source in self._status:
            status.setdefault(source, (False, "vanished: the file was deleted"))
        for source, (up, reason) in status.items():
            if self._status.get(source) == (up, reason):
                continue
            if up:
                self._down_since.pop(source, None)
                self._seen_up.add(source)
            else:
                self._down_since.setdefault(source, now)
                (log.warning if reason.startswith("unreadable") else log.info)("source %s: %s", source, reason)
            self._status[source] = (up, reason)
            self.on_status(source, up, reason)
        for source, since in list(self._down_since.items()):
            if source not in fixed and now - since >= self.forget_after_seconds and source not in active:
                log.info("source %s: gone for %.0f s; its series are dropped", source, now - since)
                del self._down_since[source]
                self._status.pop(source, None)
                self._seen_up.discard(source)
                self.on_forget(source)


class _Wake(FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake

    def on_any_event(self, event) -> None:  # noqa: ANN001
        self._wake.set()
