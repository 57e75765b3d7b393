"""scripts/vllm-coverage on a small fixture tree (fake vllm/*.py written for this test), not on
real wheels: it finds the logger calls in scope, renders them and classifies each."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "vllm_coverage"
sys.path.insert(0, str(ROOT / "tools"))

import vllm_coverage  # noqa: E402


def test_the_fixture_messages_are_found_rendered_and_classified() -> None:
    messages = vllm_coverage.scan(str(FIXTURE))
    status = {re.sub(r"\d+(?:[.,]\d+)*", "N", m.template)[:40]: (m.family, m.status, m.kinds) for m in messages}
    assert status == {
        "GPU KV cache size: N tokens, Maximum con": ("kv", "captured", ("kv_cache_size",)),
        "ValueError: Cannot auto-fit max_model_le": ("kv", "captured", ("error",)),
        "Auto-fit max_model_len: reduced from N t": ("kv", "captured", ("model_info",)),
        "CUDA graph pool memory: N GiB (actual), ": ("graphs", "partial", ("cuda_graph_memory",)),
        "Model loading took N GiB of weights, in ": ("weights", "missed", ()),
        "Engine N: Avg prompt throughput: N token": ("stats", "captured", ("stats",)),
    }, status
    stats = next(m for m in messages if m.family == "stats")
    # The parts appended after the list was built are in the rendered line, in order.
    assert re.sub(r"\d+(?:[.,]\d+)*", "N", stats.template) == (
        "Engine N: Avg prompt throughput: N tokens/s, Avg generation throughput: N tokens/s, Running: N reqs, Waiting: N reqs, GPU KV cache usage: N%"
    )
    assert len(set(stats.figures)) == 5  # each placeholder got its own figure, and all came back
    assert stats.path == "vllm/v1/metrics/loggers.py" and stats.level == "INFO"


def test_a_wheel_gives_the_same_as_its_tree(tmp_path: Path) -> None:
    wheel = tmp_path / "vllm-9.9.9-cp38-abi3-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path in (FIXTURE / "vllm").rglob("*.py"):
            z.write(path, path.relative_to(FIXTURE).as_posix())
    assert vllm_coverage.version_of(str(wheel)) == "9.9.9"
    from_wheel = [(m.path, m.lineno, m.status) for m in vllm_coverage.scan(str(wheel))]
    from_tree = [(m.path, m.lineno, m.status) for m in vllm_coverage.scan(str(FIXTURE))]
    assert sorted(from_wheel) == sorted(from_tree) and len(from_tree) == 6


def test_the_command_line_table_and_bad_usage(tmp_path: Path) -> None:
    script = str(ROOT / "scripts" / "vllm-coverage")
    out = subprocess.run([script, "--markdown", str(FIXTURE)], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "| vllm_coverage | 6 | 4 | 1 | 1 |" in out
    assert "| weights | Model loading took N GiB of weights, in a wording from the future |  | M |" in out
    missed = subprocess.run([script, "--status", "missed", str(FIXTURE)], capture_output=True, text=True, timeout=120, check=True).stdout
    assert missed.splitlines() == [line for line in missed.splitlines() if line.startswith("missed")] and len(missed.splitlines()) == 1
    bad = subprocess.run([script, str(tmp_path / "nope.whl")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("vllm-coverage: no such wheel or directory") and "Traceback" not in bad.stderr
