"""Fault suite: every way a log file changes under the sidecar, each counted against the truth.

Real files under a real watchdog observer feed the real pipeline and State (files.py ->
pipeline.py -> state.py); each case writes vLLM-format lines (uvicorn access lines from varying
client ports, and V1 stats lines with their timestamps, as a busy server prints them) and
asserts that the State counted every line exactly once: the exact total, reached and then kept
over further sync passes (0 lost, 0 counted twice). The two cases the issue measured as losses
(a new file on a reused inode, copytruncate regrown past the old offset before the next sync)
are also reproduced deterministically with explicit `sync()` passes. Restarts through a real
Prometheus and Docker faults are in test_faults_restart.py and test_faults_docker.py.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from realparts import wait_for
from vllm_obs.ingest.lines import LineSplitter
from vllm_obs.ingest.reader import MAX_LINE_CHARS, iter_lines
from vllm_obs.live.pipeline import Pipeline
from vllm_obs.live.sources.files import FileFollower
from vllm_obs.live.state import State

ACCESS = '(APIServer pid=1) INFO:     172.17.0.{a}:{port} - "POST /v1/chat/completions HTTP/1.1" 200 OK\n'
STATS = (
    "(APIServer pid=1) INFO 12-01 {h:02d}:{m:02d}:{s:02d} [loggers.py:271] Engine 000: Avg prompt throughput: 12.0 tokens/s, "
    "Avg generation throughput: 40.0 tokens/s, Running: {running} reqs, Waiting: 0 reqs, GPU KV cache usage: 3.5%, "
    "Prefix cache hit rate: 0.0%\n"
)


class Log:
    """Writes real-format lines and keeps the true counts."""

    def __init__(self) -> None:
        self.seq = 0
        self.lines = 0
        self.requests = 0

    def text(self, n: int) -> str:
        out = []
        for _ in range(n):
            self.seq += 1
            if self.seq % 50 == 0:  # one stats line per 50 lines, as every 10 s under load
                t = self.seq // 50
                out.append(STATS.format(h=t // 3600 % 24, m=t // 60 % 60, s=t % 60, running=self.seq % 97))
            else:
                out.append(ACCESS.format(a=self.seq % 200, port=1024 + self.seq % 60000))
                self.requests += 1
            self.lines += 1
        return "".join(out)

    def append(self, path: Path, n: int) -> None:
        with open(path, "a") as f:
            f.write(self.text(n))


class Harness:
    def __init__(self, *patterns: str, start: bool = True, poll: bool = False, **kwargs) -> None:
        self.state = State()
        self.pipeline = Pipeline(self.state)
        self.pipeline.start()
        self.follower = FileFollower(
            list(patterns), self.pipeline.lines, poll=poll, tick_seconds=0.2, rotate_wait_seconds=0.5,
            on_reconnect=self.state.reconnected, on_status=self.state.set_up, on_forget=self.state.forget, **kwargs,
        )
        if start:
            self.follower.start()

    def counts(self) -> tuple[int, int]:
        self.pipeline.wait_idle(5)
        lines = requests = 0
        for source in self.state.snapshot():
            lines += sum(source.lines[k] for k in ("matched", "unmatched"))
            requests += sum(source.http.values())
        return lines, requests

    def expect(self, log: Log) -> None:
        """Exactly the true counts, and still exactly them after three more sync passes."""
        want = (log.lines, log.requests)
        try:
            wait_for(lambda: self.counts() == want, 15, f"{want} lines/requests")
        except TimeoutError:
            raise AssertionError(f"counted {self.counts()}, true {want}") from None
        syncs = self.follower.syncs
        wait_for(lambda: self.follower.syncs >= syncs + 3, 10, "three more syncs")
        assert self.counts() == want

    def close(self) -> None:
        self.follower.stop()
        self.pipeline.stop()


@pytest.fixture
def harness():
    made: list[Harness] = []

    def make(*patterns: str, **kwargs) -> Harness:
        made.append(Harness(*patterns, **kwargs))
        return made[-1]

    yield make
    for h in made:
        h.close()


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "poll"])
def test_rename_rotation_while_writing(harness, tmp_path: Path, poll: bool) -> None:
    path, log = tmp_path / "vllm.log", Log()
    log.append(path, 1000)
    h = harness(str(path), poll=poll)
    h.expect(log)
    for n in range(3):
        writer = open(path, "a")  # noqa: SIM115 - the writer keeps its handle across the rename
        writer.write(log.text(300))
        os.rename(path, tmp_path / f"vllm.log.{n + 1}")
        writer.write(log.text(200))  # late lines into the rotated file
        writer.close()
        log.append(path, 700)
        h.expect(log)


def test_copytruncate_regrown_past_the_offset_within_one_sync(harness, tmp_path: Path) -> None:
    # Deterministic: the follower is driven pass by pass, so the truncation and the rewrite past
    # the old size both happen between two passes (the measured 50,065 of 66,782 lost).
    path, log = tmp_path / "vllm.log", Log()
    log.append(path, 1000)
    h = harness(str(path), start=False)
    h.follower.sync()
    assert h.counts() == (log.lines, log.requests)
    for n in range(3):
        shutil.copy(path, tmp_path / "vllm.log.1")
        size = path.stat().st_size
        with open(path, "r+") as f:
            f.truncate(0)
        log.append(path, 2000 * (n + 1))
        assert path.stat().st_size > size  # regrown past the offset: the size cannot tell
        h.follower.sync()
        assert h.counts() == (log.lines, log.requests)


def test_copytruncate_with_regrowth_under_the_observer(harness, tmp_path: Path) -> None:
    path, log = tmp_path / "vllm.log", Log()
    log.append(path, 1000)
    h = harness(str(path))
    h.expect(log)
    for _ in range(5):
        shutil.copy(path, tmp_path / "vllm.log.1")
        with open(path, "r+") as f:
            f.truncate(0)
            f.write(log.text(3000))  # within microseconds of the truncation
        h.expect(log)


def test_new_file_on_a_reused_inode(harness, tmp_path: Path) -> None:
    # The deleted file's inode is closed (rotate wait over); the new file gets the same inode and
    # is already larger than the old offset (the measured 1,000 of 2,000 lost).
    path, log = tmp_path / "vllm.log", Log()
    log.append(path, 1000)
    h = harness(str(path), start=False)
    h.follower.rotate_wait_seconds = 0.0
    h.follower.sync()
    old_inode = path.stat().st_ino
    path.unlink()
    h.follower.sync()  # retires and closes the deleted inode
    assert not h.follower._files
    log.append(path, 2000)
    if path.stat().st_ino != old_inode:
        pytest.skip("this filesystem did not reuse the freed inode")
    h.follower.sync()
    assert h.counts() == (log.lines, log.requests)


def test_delete_and_recreate_under_the_observer(harness, tmp_path: Path) -> None:
    path, log = tmp_path / "vllm.log", Log()
    log.append(path, 1000)
    h = harness(str(path))
    h.expect(log)
    for _ in range(3):
        path.unlink()
        wait_for(lambda: not h.follower._files, 10, "the deleted file to be closed")
        log.append(path, 2000)
        h.expect(log)
    assert h.state.snapshot()[0].up


def test_partial_lines_cut_anywhere(harness, tmp_path: Path) -> None:
    path, log = tmp_path / "vllm.log", Log()
    h = harness(str(path))
    data = log.text(3000).encode()
    steps = (1, 7, 13, 101, 997, 4093)  # pieces that end mid-line, mid-prefix, mid-quote
    with open(path, "ab") as f:
        cut = i = 0
        while cut < len(data):
            end = min(len(data), cut + steps[i % len(steps)])
            f.write(data[cut:end])
            f.flush()
            cut, i = end, i + 1
            if i % 50 == 0:
                time.sleep(0.005)  # let the observer read some pieces on their own
    h.expect(log)


def test_many_small_appends_race_the_reader(harness, tmp_path: Path) -> None:
    path, log = tmp_path / "vllm.log", Log()
    h = harness(str(path))
    stop = threading.Event()

    def write() -> None:
        with open(path, "a") as f:
            while not stop.is_set() and log.lines < 20000:
                f.write(log.text(37))
                f.flush()

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(60)
    stop.set()
    h.expect(log)


def test_source_status_missing_attached_vanished_forgotten(harness, tmp_path: Path) -> None:
    fixed, log = tmp_path / "vllm.log", Log()
    h = harness(str(fixed), str(tmp_path / "pods" / "*.log"), forget_after_seconds=0.5)
    by_source = lambda: {s.name: (s.up, s.down_detail) for s in h.state.snapshot()}  # noqa: E731
    wait_for(lambda: by_source().get(str(fixed), (True,))[0] is False, 10, "the missing file reported down")
    assert by_source()[str(fixed)][1] == f"missing: {fixed}: no such file"
    log.append(fixed, 100)
    (tmp_path / "pods").mkdir()
    pod = tmp_path / "pods" / "a.log"
    log.append(pod, 100)
    h.expect(log)
    assert by_source() == {str(fixed): (True, ""), str(pod): (True, "")}
    pod.unlink()
    fixed.unlink()
    wait_for(lambda: str(pod) not in by_source(), 10, "the vanished glob match forgotten")
    # A configured file is never forgotten: it stays, down, for "log missing" alerts.
    assert by_source() == {str(fixed): (False, "vanished: the file was deleted")}


def test_unreadable_file_names_the_permission_problem(tmp_path: Path) -> None:
    """A pod log the sidecar may not read (root-owned 0640 vs a non-root sidecar, here: another
    owner vs root without CAP_DAC_OVERRIDE): source_up 0, the problem named in its log, and
    read in full once the permission is fixed."""
    import subprocess
    import sys

    from realparts import free_port

    path, log = tmp_path / "vllm.log", Log()
    log.append(path, 300)
    path.chmod(0o640)
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) is needed to drop root's file-access capabilities")
        os.chown(path, 1, 1)
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    else:
        path.chmod(0)
        prefix = []
    port = free_port()
    stderr = tmp_path / "sidecar.err"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen([*prefix, sys.executable, "-m", "vllm_obs", "run", "--host", "127.0.0.1", "--port", str(port), "--file", str(path)],
                                stdout=err, stderr=err)
    try:
        import urllib.request

        def metric(name: str) -> float | None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith(name + "{"):
                        return float(line.rsplit(" ", 1)[1])
            return None

        wait_for(lambda: metric("vllm_obs_source_up") == 0, 30, "source_up 0")
        text = stderr.read_text()
        assert f"unreadable: {path}: permission denied (mode 0" in text and "; running as uid" in text, text
        path.chmod(0o644)
        wait_for(lambda: metric("vllm_obs_source_up") == 1, 30, "source_up 1 once readable")
        wait_for(lambda: metric("vllm_obs_http_requests_total") == log.requests, 30, "the whole file")
    finally:
        proc.terminate()
        proc.wait(10)


# -- over-long lines: truncated once, counted once --------------------------------------------------


def test_ten_megabyte_line_counts_as_one_line_in_the_live_path(harness, tmp_path: Path) -> None:
    path, log = tmp_path / "vllm.log", Log()
    h = harness(str(path))
    log.append(path, 100)
    with open(path, "a") as f:
        f.write("x" * (10 * 10**6) + "\n")  # written in one go: the follower reads it in 1 MiB chunks
    log.lines += 1
    log.append(path, 100)
    h.expect(log)


def test_line_splitter_cuts_an_over_long_line_once() -> None:
    splitter = LineSplitter()
    out: list[str] = []
    piece = b"y" * 65536
    out += splitter.feed(b"first\n")
    for _ in range(160):  # 10 MiB in Docker-sized pieces, no newline until the end
        out += splitter.feed(piece)
    out += splitter.feed(b"tail of the long line\nnext line\n")
    assert [len(line) for line in out] == [5, 1 << 20, 9]
    assert out[2] == "next line" and splitter.truncated == 1
    assert len(splitter.pending) == 0


def test_archive_reader_keeps_the_line_after_a_four_mib_line(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    long_line = "z" * (4 << 20)
    path.write_text("before\n" + long_line + "\nafter the long line\nlast\n")
    lines = list(iter_lines(str(path)))
    assert lines == ["before", long_line[:MAX_LINE_CHARS], "after the long line", "last"]


def test_cri_partial_line_of_ten_megabytes_counts_once() -> None:
    # The kubelet splits a long line into 16 KiB "P" entries and ends it with an "F" entry.
    from vllm_obs.parse.parser import LineParser

    parser = LineParser("ns/pod/vllm")
    piece = "2026-12-01T09:00:00.000000000Z stdout P " + "q" * 16384
    access = "2026-12-01T09:00:01.000000000Z stdout F " + ACCESS.format(a=1, port=5000).rstrip("\n")
    lines = [piece] * 640 + ["2026-12-01T09:00:00.100000000Z stdout F end of the long line", access]
    counts: dict = {}
    parser.scan(lines, lambda context, record: None, lambda c: counts.update(c))
    assert parser.counts["matched"] + parser.counts["unmatched"] == 2  # the 10 MiB line, the access line
    assert sum(counts.values()) == 1


def test_start_reads_the_newest_rotations_first_within_the_bound(harness, tmp_path: Path) -> None:
    path = tmp_path / "vllm.log"
    oldest, log = Log(), Log()
    oldest.append(tmp_path / "vllm.log.3", 500)  # beyond the bound of 2 rotated files: not read
    log.append(tmp_path / "vllm.log.2", 500)
    log.append(tmp_path / "vllm.log.1", 500)
    log.append(path, 500)
    (tmp_path / "vllm.log.4.gz").write_bytes(b"\x1f\x8b not read")
    order: list[str] = []
    h = harness(str(path), start=False)
    emit = h.follower.emit
    h.follower.emit = lambda source, lines: (order.extend(lines), emit(source, lines))
    h.follower.start()
    h.expect(log)
    assert [s.name for s in h.state.snapshot()] == [str(path)]  # one source: the rotations are its past
    ports = [int(line.split(' - "')[0].rsplit(":", 1)[1]) for line in order if "POST" in line]
    assert ports == sorted(ports) and len(ports) == log.requests  # .2, then .1, then the current file


def test_start_reads_the_kubelets_rotated_pod_log(harness, tmp_path: Path) -> None:
    from vllm_obs.live.sources.kubernetes import source_from_pod_log_path

    container_dir = tmp_path / "pods" / "default_vllm-0_0a1b2c" / "vllm"
    container_dir.mkdir(parents=True)
    log = Log()
    log.append(container_dir / "0.log.20261201-095900", 400)  # the kubelet's rotation of 0.log
    (container_dir / "0.log.20261201-085900.gz").write_bytes(b"\x1f\x8b older, compressed: not read")
    log.append(container_dir / "0.log", 400)
    h = harness(str(tmp_path / "pods" / "*" / "*" / "*.log"), source_name=source_from_pod_log_path)
    h.expect(log)
    assert [s.name for s in h.state.snapshot()] == ["default/vllm-0/vllm"]


def test_line_splitter_cuts_a_complete_over_long_line_once() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a" * 900_000) == []  # under the limit: waits for its newline
    out = splitter.feed(b"b" * 900_000 + b"\nnext\n")  # now complete, and 1.8 MB long
    assert [len(line) for line in out] == [1 << 20, 4] and out[1] == "next"
    assert splitter.truncated == 1
