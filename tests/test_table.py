"""analyze's table for people: when first, then the findings, then the facts per engine start;
failures collapsed by kind; values rounded as vLLM prints them; a hint when theory is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASE_060 = ROOT / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"
OOM_LOG = ROOT / "samples" / "constructed" / "v0.8" / "l40s-qwen25-14b-oom-restart-docker-timestamps.log"


def table(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "vllm_obs", "analyze", *args], capture_output=True, text=True,
                            env=dict(os.environ, COLUMNS="220"), timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_real_h100_log_reads_in_order_with_rounded_values_and_a_hint() -> None:
    out = table(str(CASE_060))
    lines = out.splitlines()
    # 16:25:43 (first line) to 16:29:32 (its shutdown lines) of the real run.
    assert re.match(r"\d{4}-11-21 16:25:43 to 16:29:32 UTC \(3 min 49 s\) · 1 engine start, 15 stats lines$", lines[0]), lines[0]
    assert lines[1] == "Findings" and lines[2] == "  - KV cache usage peaked at 32.1%: it never stayed above 95%."
    assert out.index("Findings") < out.index("vLLM startup facts") < out.index("Load (15 stats lines)")
    # vLLM printed "4.142544 seconds" and "15.2683 GiB": shown as people read them.
    assert re.search(r"model load time +│ +4\.14 s │", out) and "4.142544" not in out
    assert re.search(r"model weights \(per GPU\) +│ +15\.27 GiB │", out) and "15.2683" not in out
    assert re.search(r"peak generation throughput +│ +12,424\.0 tokens/s │", out)
    # The model is a local path: say how to get theory.
    assert "hint: the log's model /tmp/qwen3-8b-random is not in the catalog: add --model NAME (vllm-obs catalog models) " \
           "or --model-config PATH/config.json for theory" in out
    assert "GPU is not known" not in out  # its device memory report names the H100 (79.18 GiB measured)
    with_theory = table(str(CASE_060), "--model", "Qwen/Qwen3-8B", "--gpu", "H100-SXM")
    assert "hint:" not in with_theory
    assert re.search(r"KV cache budget \(per GPU\) +│ +54\.34 GiB │ +54\.35 GiB │ +1\.00 │", with_theory)
    assert re.search(r"decode per request +│ +147\.7 tokens/s │ +167\.4 tokens/s \(ceiling\) │ +0\.88 │", with_theory)
    assert "gib" not in with_theory.replace("GiB", "")  # no raw key names


def test_restarts_side_by_side_and_repeated_failures_collapsed() -> None:
    out = table(str(OOM_LOG), "--gpu", "L40S")
    assert out.index("Findings") < out.index("Facts per engine start") < out.index("Failures and warnings")
    head = next(line for line in out.splitlines() if "start 1" in line)
    assert "start 2" in head  # one column per engine start
    preemption = [line for line in out.splitlines() if "preemption x" in line]
    assert len(preemption) == 1, preemption  # V0 warned several times: one row
    assert re.search(r"preemption x\d+ +│ 05-11 \d\d:\d\d-\d\d:\d\d │ Sequence group", preemption[0])
