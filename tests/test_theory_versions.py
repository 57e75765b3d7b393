"""vLLM's rules by release (versions.py) and `plan --vllm-version` against real 0.26.0 / 0.27.1 servers.

The logged numbers: case 073 (H200, vLLM 0.26.0, Qwen3-8B shapes, log line 50: "Desired GPU memory
utilization is (0.2, 27.96 GiB). Actual usage is 15.27 GiB for weight, 1.29 GiB for peak
activation, 0.22 GiB for non-torch memory, and 1.0 GiB for CUDAGraph memory ... Current kv cache
memory in use is 11.18 GiB", then 81,424 tokens, 1.99x at 40,960) and issue 13's two runs of the
same server at --max-model-len 8192: the default utilization (814,368 tokens, 99.41x) and 0.1396
(23,600 tokens, a warm compile: activation 0.78 GiB).
"""

import json
from pathlib import Path

import pytest

from vllm_obs.cli import main
from vllm_obs.theory.versions import (
    TABLE,
    VersionError,
    graphs_subtracted,
    parse_version,
    rules_for,
    uses_v2_model_runner,
)

QWEN3_8B_CONFIG = str(Path(__file__).resolve().parent.parent / "vllm_obs" / "data" / "models" / "qwen3-8b.json")
QWEN3 = ("Qwen3ForCausalLM",)


def plan(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["plan", *argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("version, util", [("0.6.3", 0.9), ("0.8.5", 0.9), ("0.11.2", 0.9), ("0.19.0", 0.9),
                                           ("0.20.0", 0.92), ("0.26.0", 0.92), ("0.33.0", 0.92)])
def test_default_utilization_by_release(version, util):
    # config/cache.py gpu_memory_utilization default: 0.9 up to 0.19.0, 0.92 from 0.20.0.
    assert rules_for(version).rules.default_gpu_memory_utilization == util


def test_graph_subtraction_follows_the_model_runner():
    # 0.21: V1 runner, estimate subtracted; 0.26.0 / 0.27.1: Qwen3 gets the V2 runner, whose
    # profile_cudagraph_memory returns 0; 0.29+: the V2 runner measures graphs.
    r21, r26, r33 = (rules_for(v).rules for v in ("0.21.0", "0.26.0", "0.33.0"))
    assert not uses_v2_model_runner(r21, QWEN3, False, False) and graphs_subtracted(r21, False)
    assert uses_v2_model_runner(r26, QWEN3, False, False) and not graphs_subtracted(r26, True)
    assert not uses_v2_model_runner(r26, ("Qwen3MoeForCausalLM",), True, False)  # MoE stays on V1
    assert graphs_subtracted(r26, False)                                        # ...and subtracts
    assert uses_v2_model_runner(r33, ("Qwen3MoeForCausalLM",), True, False) and graphs_subtracted(r33, True)
    assert not graphs_subtracted(rules_for("0.19.0").rules, False)  # estimate off by default then


def test_versions_parse_strictly_and_rows_are_ordered():
    assert parse_version("v0.8.5.post1") == (0, 8, 5)
    assert parse_version("0.6.4.dev123+g1234abc") == (0, 6, 4)
    for bad in ("banana", "0", "latest", "1.x"):
        with pytest.raises(VersionError):
            parse_version(bad)
    assert [row.since for row in TABLE] == sorted(row.since for row in TABLE)
    assert rules_for("0.40.0").note and "newer than 0.33.0" in rules_for("0.40.0").note


def test_done_when_default_utilization_within_half_a_percent(capsys):
    code, d = plan(capsys, "--vllm-version", "0.26.0", "--gpu", "H200", "--model-config", QWEN3_8B_CONFIG,
                   "--max-model-len", "8192")
    assert code == 0
    assert d["gpu_memory_utilization"] == 0.92 and d["inputs"]["gpu_memory_utilization"] == "default of this vLLM"
    assert d["vllm_rules"]["rules"] == "0.25-0.26" and d["vllm_rules"]["model_runner"] == "v2"
    assert d["vllm_rules"]["cuda_graphs_subtracted"] is False and d["cuda_graph_gib"] == 0
    assert d["kv_cache_tokens"] == pytest.approx(814_368, rel=0.005)
    rng = d["kv_capacity_range"]
    assert rng["low"]["kv_cache_tokens"] <= 814_368 <= rng["high"]["kv_cache_tokens"]
    assert rng["dominant_term"] == "activation_peak"


def test_done_when_low_utilization_inside_the_range(capsys):
    code, d = plan(capsys, "--vllm-version", "0.26.0", "--gpu", "H200", "--model-config", QWEN3_8B_CONFIG,
                   "--max-model-len", "8192", "--gpu-memory-utilization", "0.1396")
    assert code == 0
    rng = d["kv_capacity_range"]
    assert rng["low"]["kv_cache_tokens"] <= 23_600 <= rng["high"]["kv_cache_tokens"]
    # The range is honest about its width: here the activation peak decides a quarter of the KV.
    assert rng["high"]["kv_cache_tokens"] / rng["low"]["kv_cache_tokens"] < 1.5


def test_logged_overheads_reproduce_vllm_026_exactly(capsys):
    # 0.26.0's arithmetic (gpu_worker.py determine_available_memory, no graph term under the V2
    # runner): 139.8 x 0.92 - 15.27 - 1.29 - 0.22 GiB -> 814,384 tokens, 99.41x (issue 13).
    code, d = plan(capsys, "--vllm-version", "0.26.0", "--gpu", "H200", "--model-config", QWEN3_8B_CONFIG,
                   "--max-model-len", "8192", "--activation-peak-gib", "1.29", "--non-torch-gib", "0.22")
    assert code == 0
    assert d["kv_cache_tokens"] == pytest.approx(814_368, abs=64) and f"{d['max_concurrency']:.2f}" == "99.41"
    assert d["kv_capacity_range"]["low"] == d["kv_capacity_range"]["high"]  # nothing left to guess
    # Case 073 itself: utilization 0.2, the full 40,960 context.
    code, d = plan(capsys, "--vllm-version", "0.26.0", "--gpu", "H200", "--model-config", QWEN3_8B_CONFIG,
                   "--gpu-memory-utilization", "0.2", "--activation-peak-gib", "1.29", "--non-torch-gib", "0.22")
    assert f"{d['kv_cache_memory_gib_per_gpu']:.2f}" == "11.18" and f"{d['max_concurrency']:.2f}" == "1.99"
    assert d["kv_cache_tokens"] == pytest.approx(81_424, abs=32)


def test_same_flags_under_0_21_subtract_graphs(capsys):
    # The V1 runner of 0.20-0.21 subtracts its graph estimate: fewer tokens than 0.26.0.
    _, new = plan(capsys, "--vllm-version", "0.26.0", "--gpu", "H200", "--model", "Qwen/Qwen3-8B",
                  "--max-model-len", "8192")
    _, old = plan(capsys, "--vllm-version", "0.21.0", "--gpu", "H200", "--model", "Qwen/Qwen3-8B",
                  "--max-model-len", "8192")
    assert old["vllm_rules"]["model_runner"] == "v1" and old["cuda_graph_gib"] > 0.4
    assert old["kv_cache_tokens"] < new["kv_cache_tokens"]
    # VLLM_USE_V2_MODEL_RUNNER=0 on 0.26.0: the V1 runner, whose graph estimate is subtracted.
    _, forced = plan(capsys, "--vllm-version", "0.26.0", "--gpu", "H200", "--model", "Qwen/Qwen3-8B",
                     "--max-model-len", "8192", "--model-runner", "v1")
    assert forced["vllm_rules"]["model_runner"] == "v1" and forced["vllm_rules"]["cuda_graphs_subtracted"]
    assert forced["kv_cache_tokens"] < new["kv_cache_tokens"]


def test_case060_h100_0271_kv_from_the_expected_overheads(capsys):
    # 0.27.1 charges consumed memory (weights + 0.90 GiB) and a 0.75 GiB transient peak: 54.34 GiB.
    code, d = plan(capsys, "--vllm-version", "0.27.1", "--gpu", "H100-SXM", "--model", "Qwen/Qwen3-8B",
                   "--max-model-len", "8192", "--gpu-memory-utilization", "0.9")
    assert d["kv_cache_tokens"] == pytest.approx(395_712, rel=0.005)
    rng = d["kv_capacity_range"]
    assert rng["low"]["kv_cache_memory_gib"] <= 54.34 <= rng["high"]["kv_cache_memory_gib"]


def test_no_gpu_answers_what_the_kv_budget_allows(capsys):
    code, d = plan(capsys, "--model", "Qwen/Qwen3-8B", "--max-model-len", "8192", "--kv-cache-memory-gib", "54.34")
    assert code == 0
    assert d["gpu"] is None and d["usable_memory_gib_per_gpu"] is None
    assert f"{d['max_concurrency']:.2f}" == "48.30" and d["kv_cache_bytes_per_token_per_gpu"] == 147_456
    assert d["concurrency_by_context"][-1]["context_tokens"] == 8192
    assert d["sections"]["ceilings"]["missing"] == ["--gpu NAME (bandwidth and FLOPS)"]
    assert d["sections"]["kv_capacity"]["missing"] == []
    # Without any budget: weights and KV per token, and the sections say what is missing.
    code, d = plan(capsys, "--model", "Qwen/Qwen3-8B")
    assert code == 0 and d["kv_cache_tokens"] is None and d["fits"] is None
    assert f"{d['model_weights_gib_per_gpu']:.2f}" == "15.27"
    assert "--gpu or --gpu-memory-gib (total memory)" in d["sections"]["kv_budget"]["missing"]


@pytest.mark.parametrize("argv, needle", [
    (["--vllm-version", "banana"], "is not a vLLM version"),
    (["--gpu", "H100-SXM", "--block-size", "7"], "not a multiple of 16"),
    (["--gpu", "H100-SXM", "--vllm-version", "0.8.5", "--block-size", "256"], "choices: 1, 8, 16, 32, 64, 128"),
    (["--gpu", "H100-SXM", "--kv-cache-memory-gib", "-1"], "cannot be negative"),
    (["--gpu", "H100-SXM", "--gpu-memory-used-gib", "100"], "not below the GPU's 79.18 GiB total"),
    (["--prompt-tokens", "256"], "both --prompt-tokens and --output-tokens"),
    (["--gpu", "H100-SXM", "--vllm-version", "0.26.0", "--engine", "v0"], "no V0 engine since 0.11"),
    (["--gpu", "H100-SXM", "--prompt-tokens", "9", "--output-tokens", "9", "--concurrency", "1,x"], "whole numbers"),
])
def test_questionable_flags_are_one_line_errors(capsys, argv, needle):
    code = main(["plan", "--model", "Qwen/Qwen3-8B", *argv])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_too_long_max_model_len_gets_one_suggestion(capsys):
    code, d = plan(capsys, "--model", "Qwen/Qwen3-8B", "--gpu", "H100-SXM", "--max-model-len", "10000000")
    assert code == 1
    assert [p["kind"] for p in d["problems"]] == ["max_model_len"]
    assert d["problems"][0]["suggestion"] == "--max-model-len 40960"
