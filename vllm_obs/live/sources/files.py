"""Follow log files: read from the start, then follow appends, rotation and truncation.

Any watchdog event (or a 1 s tick, so a missed event costs at most a second) triggers one
`sync()` of every tracked file. Files are tracked by inode, which makes the cases one routine:

- append: read what is new; a last line without its newline waits in a buffer;
- rename rotation (`vllm.log` -> `vllm.log.1`, new `vllm.log`): the old inode is drained to
  its end (and kept open for `rotate_wait_seconds` for late writes), the new file is read from
  its start; a rotated file matching the glob is not read twice (its inode is known);
- copytruncate: size below our offset -> read again from 0;
- deletion and re-creation: drain the deleted inode, then read the new one from its start;
- a file that does not exist yet: picked up when it appears.

`--poll` uses watchdog's polling observer for filesystems where inotify sees nothing (some bind
mounts, network filesystems).
"""

from __future__ import annotations

import glob
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from vllm_obs.ingest.lines import LineSplitter

READ_CHUNK = 1 << 20


@dataclass
class TrackedFile:
    path: str
    source: str  # the label, fixed when the file is opened: it survives rotation renames
    key: tuple[int, int]  # (st_dev, st_ino)
    handle: object
    offset: int = 0
    lines: LineSplitter = field(default_factory=LineSplitter)
    retired_at: float | None = None  # rotated/deleted: drained until retired_at + rotate_wait


@dataclass
class FileFollower:
    patterns: list[str]
    emit: Callable[[str, list[str]], None]  # (source name, lines)
    source_name: Callable[[str], str] = os.path.abspath  # path -> source label (at open)
    poll: bool = False
    rotate_wait_seconds: float = 5.0
    tick_seconds: float = 1.0
    on_reconnect: Callable[[str], None] = lambda source: None
    syncs: int = 0  # completed sync() passes (tests wait on it instead of sleeping)
    _files: dict[tuple[int, int], TrackedFile] = field(default_factory=dict)
    _finished: dict[tuple[int, int], int] = field(default_factory=dict)  # closed inode -> final offset
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _observer: object | None = None

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
        self.sync()  # read what is there from the start, in this thread
        while not self._stop.is_set():
            self._wake.wait(self.tick_seconds)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - one bad file must not stop following the others
                time.sleep(self.tick_seconds)

    # -- the one routine ---------------------------------------------------------------------------

    def sync(self) -> None:
        now = time.monotonic()
        current: dict[str, tuple[int, int]] = {}
        for pattern in self.patterns:
            for path in glob.glob(pattern):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if os.path.isfile(path):
                    current[os.path.abspath(path)] = (st.st_dev, st.st_ino)
        # Files whose path now names another inode, or no longer exists: drain and retire.
        for tracked in list(self._files.values()):
            if current.get(tracked.path) != tracked.key and tracked.retired_at is None:
                moved_to = next((p for p, k in current.items() if k == tracked.key), None)
                if moved_to is not None and moved_to != tracked.path:
                    tracked.path = moved_to  # renamed onto another matching name: same file
                else:
                    tracked.retired_at = now
        # Read every tracked file (retired ones too: the writer may still append to them).
        for tracked in list(self._files.values()):
            self._read(tracked)
            if tracked.retired_at is not None and now - tracked.retired_at >= self.rotate_wait_seconds:
                self._close(tracked)
        # New inodes: read from the start (or from where a closed one ended).
        for path, key in current.items():
            if key not in self._files:
                self._open(path, key)
        self.syncs += 1

    def _open(self, path: str, key: tuple[int, int]) -> None:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed in _close
        except OSError:
            return
        offset = self._finished.pop(key, 0)
        if offset:
            handle.seek(offset)
        source = self.source_name(path)
        if any(t.source == source for t in self._files.values()) or offset:
            self.on_reconnect(source)  # the next file of a rotated log, or a re-created one
        tracked = TrackedFile(path, source, key, handle, offset)
        self._files[key] = tracked
        self._read(tracked)

    def _read(self, tracked: TrackedFile) -> None:
        handle = tracked.handle
        try:
            size = os.fstat(handle.fileno()).st_size
        except OSError:
            return
        if size < tracked.offset:  # copytruncate: start again from the top
            tail = tracked.lines.flush()
            if tail:
                self.emit(tracked.source, tail)
            handle.seek(0)
            tracked.offset = 0
            self.on_reconnect(tracked.source)
        while True:
            data = handle.read(READ_CHUNK)
            if not data:
                break
            tracked.offset += len(data)
            lines = tracked.lines.feed(data)
            if lines:
                self.emit(tracked.source, lines)

    def _close(self, tracked: TrackedFile) -> None:
        self._read(tracked)
        tail = tracked.lines.flush()  # the file is done: its unterminated last line is a line
        if tail:
            self.emit(tracked.source, tail)
        tracked.handle.close()
        self._files.pop(tracked.key, None)
        self._finished[tracked.key] = tracked.offset
        if len(self._finished) > 4096:  # forget the oldest
            self._finished.pop(next(iter(self._finished)))


class _Wake(FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake

    def on_any_event(self, event) -> None:  # noqa: ANN001
        self._wake.set()
