"""The sidecar follows a real container through a real dockerd (Debian docker.io).

A busybox container prints case 060's real vLLM 0.27.1 log over time; the sidecar (a real
`vllm-obs run --container` process) must expose its values, count a restart as a new engine
start without re-reading the previous run, and report the source down while the daemon is away.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from realparts import TEST_IMAGE, Dockerd, Sidecar, wait_for

LOG = Path(__file__).resolve().parent.parent / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"
# The container prints the startup part at once, then the serving part in slices, then idles.
SCRIPT = """trap "exit 0" TERM
cat /log/startup.log
for part in /log/serving.*; do cat "$part"; sleep 0.2; done
while true; do sleep 1; done
"""



@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    lines = [line + b"\n" for line in LOG.read_bytes().split(b"\n")[:-1]]  # "\r" stays inside lines
    start = next(i for i, line in enumerate(lines) if b"Application startup complete" in line) + 1
    (tmp_path / "startup.log").write_bytes(b"".join(lines[:start]))
    serving = lines[start:]
    for n in range(0, len(serving), 400):
        (tmp_path / f"serving.{n // 400:03d}").write_bytes(b"".join(serving[n : n + 400]))
    (tmp_path / "run.sh").write_text(SCRIPT)
    return tmp_path


def _run_container(dockerd: Dockerd, log_dir: Path, name: str):
    return dockerd.client.containers.run(
        TEST_IMAGE,
        ["/bin/sh", "/log/run.sh"],
        name=name,
        detach=True,
        network_mode="none",
        volumes={str(log_dir): {"bind": "/log", "mode": "ro"}},
        labels={"app": "vllm-test"},
    )


def test_follow_restart_and_daemon_outage(dockerd: Dockerd, log_dir: Path) -> None:
    total_lines = LOG.read_bytes().count(b"\n")  # 2579
    container = _run_container(dockerd, log_dir, "vllm-a")
    sidecar = Sidecar("--container", "vllm-a", env={"DOCKER_HOST": dockerd.url})
    try:
        source = {"source": "vllm-a"}
        wait_for(lambda: sidecar.value("vllm_obs_log_lines_total", result="matched", **source) == 2501, 60, "the whole log to be read")
        assert sidecar.value("vllm_obs_kv_cache_capacity_tokens", **source) == 395712
        assert sidecar.value("vllm_obs_model_weights_bytes", **source) == 15.27 * 2**30
        assert sidecar.value("vllm_obs_max_concurrency_requests", **source) == 48.3
        assert sidecar.value("vllm_obs_engine_starts_total", **source) == 1
        assert sidecar.value("vllm_obs_source_up", **source) == 1
        assert sidecar.value("vllm_obs_http_requests_total", method="POST", status="200", path="/v1/completions", **source) == 2451
        lines = lambda: sum(sidecar.value("vllm_obs_log_lines_total", result=r, **source) or 0 for r in ("matched", "unmatched", "error"))  # noqa: E731
        assert lines() == total_lines

        # A restart prints the whole log again: read once more (not the old run), a new start.
        container.restart(timeout=5)
        wait_for(lambda: lines() == 2 * total_lines, 60, "the restarted run to be read")
        assert sidecar.value("vllm_obs_engine_starts_total", **source) == 2
        assert sidecar.value("vllm_obs_http_requests_total", method="POST", status="200", path="/v1/completions", **source) == 2 * 2451
        assert sidecar.value("vllm_obs_kv_cache_capacity_tokens", **source) == 395712

        # The daemon goes away: the source is reported down; it comes back: up again, no re-read.
        dockerd.stop_daemon()
        wait_for(lambda: sidecar.value("vllm_obs_source_up", **source) == 0, 30, "source_up 0")
        dockerd.start()
        dockerd.client.containers.get("vllm-a").start()
        wait_for(lambda: sidecar.value("vllm_obs_source_up", **source) == 1, 60, "source_up 1 again")
        wait_for(lambda: lines() == 3 * total_lines, 60, "the run after the daemon restart to be read")
        assert sidecar.value("vllm_obs_source_reconnects_total", **source) >= 1
    finally:
        assert sidecar.close() == 0  # clean shutdown on SIGTERM


def test_label_selection_and_recreation(dockerd: Dockerd, log_dir: Path) -> None:
    first = _run_container(dockerd, log_dir, "vllm-b")
    sidecar = Sidecar("--label", "app=vllm-test", env={"DOCKER_HOST": dockerd.url})
    try:
        source = {"source": "vllm-b"}
        wait_for(lambda: sidecar.value("vllm_obs_log_lines_total", result="matched", **source) == 2501, 60, "vllm-b to be read")
        # Re-created under the same name: a new container, read from its beginning.
        first.remove(force=True)
        _run_container(dockerd, log_dir, "vllm-b")
        wait_for(lambda: sidecar.value("vllm_obs_log_lines_total", result="matched", **source) == 2 * 2501, 60, "the new vllm-b to be read")
        assert sidecar.value("vllm_obs_engine_starts_total", **source) == 2
    finally:
        sidecar.close()
        for c in dockerd.client.containers.list(all=True):
            c.remove(force=True)
