"""The file follower on real files under a real watchdog observer (inotify, and polling).

Every test writes real lines and asserts that each is delivered exactly once, in order.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from realparts import wait_for
from vllm_obs.live.sources.files import FileFollower


class Received:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.reconnects = 0
        self._lock = threading.Lock()

    def emit(self, source: str, lines: list[str]) -> None:
        with self._lock:
            self.lines.extend((source, line) for line in lines)

    def reconnect(self, source: str) -> None:
        self.reconnects += 1

    def texts(self) -> list[str]:
        with self._lock:
            return [line for _, line in self.lines]


@pytest.fixture(params=[False, True], ids=["inotify", "poll"])
def follow(request, tmp_path: Path):
    followers = []
    received = Received()

    def start(*patterns: str, **kwargs) -> Received:
        follower = FileFollower(list(patterns), received.emit, poll=request.param, tick_seconds=0.2,
                                rotate_wait_seconds=0.6, on_reconnect=received.reconnect, **kwargs)
        follower.start()
        followers.append(follower)
        received.follower = follower
        return received

    yield start
    for follower in followers:
        follower.stop()


def write(path: Path, text: str, mode: str = "a") -> None:
    with open(path, mode) as f:
        f.write(text)
        f.flush()


def lines(prefix: str, n: int) -> list[str]:
    return [f"{prefix} {i}" for i in range(n)]


def test_file_created_later_and_partial_lines(follow, tmp_path: Path) -> None:
    path = tmp_path / "vllm.log"
    received = follow(str(path))
    write(path, "".join(f"{x}\n" for x in lines("a", 50)))
    wait_for(lambda: len(received.texts()) == 50, 10, "50 lines")
    write(path, "half a li")  # no newline yet: nothing is delivered
    assert len(received.texts()) == 50
    write(path, "ne\nlast\n")
    wait_for(lambda: len(received.texts()) == 52, 10, "the completed line")
    assert received.texts() == lines("a", 50) + ["half a line", "last"]
    assert {source for source, _ in received.lines} == {str(path)}


def test_rename_rotation_with_late_writes(follow, tmp_path: Path) -> None:
    path = tmp_path / "vllm.log"
    write(path, "".join(f"{x}\n" for x in lines("old", 100)))
    received = follow(str(path))
    wait_for(lambda: len(received.texts()) == 100, 10, "the first file")
    writer = open(path, "a")  # the writer keeps its handle across the rename
    os.rename(path, tmp_path / "vllm.log.1")
    writer.write("".join(f"{x}\n" for x in lines("late", 10)))
    writer.flush()
    writer.close()
    write(path, "".join(f"{x}\n" for x in lines("new", 100)))
    wait_for(lambda: len(received.texts()) == 210, 10, "late and new lines")
    texts = received.texts()
    assert sorted(texts) == sorted(lines("old", 100) + lines("late", 10) + lines("new", 100))
    assert texts[:100] == lines("old", 100)
    assert [t for t in texts if t.startswith("new")] == lines("new", 100)


def test_rotated_name_matching_the_glob_is_not_read_twice(follow, tmp_path: Path) -> None:
    path = tmp_path / "vllm.log"
    write(path, "".join(f"{x}\n" for x in lines("old", 20)))
    received = follow(str(tmp_path / "vllm.log*"))
    wait_for(lambda: len(received.texts()) == 20, 10, "the first file")
    os.rename(path, tmp_path / "vllm.log.1")
    write(path, "".join(f"{x}\n" for x in lines("new", 20)))
    wait_for(lambda: len(received.texts()) == 40, 10, "the new file")
    follower = received.follower
    syncs = follower.syncs
    wait_for(lambda: follower.syncs >= syncs + 3, 10, "three more syncs")  # they must not re-read vllm.log.1
    assert received.texts() == lines("old", 20) + lines("new", 20)


def test_copytruncate(follow, tmp_path: Path) -> None:
    path = tmp_path / "vllm.log"
    write(path, "".join(f"{x}\n" for x in lines("before", 100)))
    received = follow(str(path))
    wait_for(lambda: len(received.texts()) == 100, 10, "the file")
    shutil.copy(path, tmp_path / "vllm.log.1")
    with open(path, "r+") as f:
        f.truncate(0)
    wait_for(lambda: received.reconnects == 1, 10, "the truncation to be seen")
    write(path, "".join(f"{x}\n" for x in lines("after", 50)))
    wait_for(lambda: len(received.texts()) == 150, 10, "the lines after truncation")
    assert received.texts() == lines("before", 100) + lines("after", 50)


def test_deletion_and_recreation(follow, tmp_path: Path) -> None:
    path = tmp_path / "vllm.log"
    write(path, "".join(f"{x}\n" for x in lines("first", 30)))
    received = follow(str(path))
    wait_for(lambda: len(received.texts()) == 30, 10, "the first file")
    path.unlink()
    write(path, "".join(f"{x}\n" for x in lines("second", 30)))
    wait_for(lambda: len(received.texts()) == 60, 10, "the re-created file")
    assert received.texts() == lines("first", 30) + lines("second", 30)


def test_unterminated_last_line_of_a_rotated_file_is_delivered(follow, tmp_path: Path) -> None:
    path = tmp_path / "vllm.log"
    write(path, "one\ntwo without newline")
    received = follow(str(path))
    wait_for(lambda: len(received.texts()) == 1, 10, "the first line")
    os.rename(path, tmp_path / "gone.log")
    wait_for(lambda: len(received.texts()) == 2, 10, "the unterminated line after the rotate wait")
    assert received.texts() == ["one", "two without newline"]
