"""Kubernetes node mode: CRI log files under a pods directory, labels from the path."""

from __future__ import annotations

from pathlib import Path

from realparts import Sidecar, wait_for
from vllm_obs.live.sources.kubernetes import source_from_pod_log_path

LOG = Path(__file__).resolve().parent.parent / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"


def cri(lines: list[str], split_long: bool = True, day: int = 21) -> str:
    """Lines as the kubelet writes them (time moving forward); long ones split into P partials
    plus an F end."""
    out = []
    for i, line in enumerate(lines):
        stamp = f"2026-11-{day:02d}T16:{25 + i // 600:02d}:{i // 10 % 60:02d}.{i % 10:09d}Z"
        if split_long and len(line) > 200:
            for start in range(0, len(line) - 200, 200):
                out.append(f"{stamp} stdout P {line[start:start + 200]}")
            out.append(f"{stamp} stdout F {line[len(line) - (len(line) - 1) % 200 - 1:]}")
        else:
            out.append(f"{stamp} stdout F {line}")
    return "\n".join(out) + "\n"


def test_source_names_from_pod_paths() -> None:
    path = "/var/log/pods/llm_vllm-qwen3-0_5f2c9a1e-1111-2222-3333-444455556666/vllm/0.log"
    assert source_from_pod_log_path(path) == "llm/vllm-qwen3-0/vllm"
    assert source_from_pod_log_path("/tmp/x.log") == "/tmp/x.log"


def test_node_mode_follows_cri_files_with_partials_and_restarts(tmp_path: Path) -> None:
    lines = LOG.read_text().splitlines()
    container_dir = tmp_path / "pods" / "llm_vllm-0_0a1b2c3d-0000-0000-0000-000000000000" / "vllm"
    container_dir.mkdir(parents=True)
    (container_dir / "0.log").write_text(cri(lines))
    sidecar = Sidecar("--kubernetes", "--kubernetes-glob", str(tmp_path / "pods" / "*" / "*" / "*.log"))
    try:
        source = {"source": "llm/vllm-0/vllm"}
        wait_for(lambda: sidecar.value("vllm_obs_log_lines_total", result="matched", **source) == 2501, 30, "the CRI log")
        assert sidecar.value("vllm_obs_kv_cache_capacity_tokens", **source) == 395712
        assert sidecar.value("vllm_obs_model_weights_bytes", **source) == 15.27 * 2**30
        # The kubelet starts 1.log when the container restarts: same source, a new engine start.
        (container_dir / "1.log").write_text(cri(lines, day=22))
        wait_for(lambda: sidecar.value("vllm_obs_engine_starts_total", **source) == 2, 30, "the restart")
        wait_for(lambda: sidecar.value("vllm_obs_log_lines_total", result="matched", **source) == 2 * 2501, 30, "the second file")
    finally:
        sidecar.close()
