"""Overhead ranges (overheads.py) hold what vLLM logged, across eras (scenarios.md, real logs)."""

import json

from vllm_obs.cli import main


def plan(capsys, *argv: str) -> dict:
    assert main(["plan", *argv, "--format", "json"]) in (0, 1)
    return json.loads(capsys.readouterr().out)


def test_scenario4_moe_on_085_range_holds_the_logged_budget(capsys):
    # Logged (worker.py:287, 0.8.5): 20.15 GiB usable, weights 14.25, non-torch 0.20, activation
    # 1.40 -> 4.30 GiB, 5.73x at 32,768. The MoE activation peak is the widest term.
    argv = ["--model", "/models/qwen3-30b-a3b", "--gpu-memory-gib", "21.66", "-tp", "4", "--max-model-len",
            "32768", "--block-size", "32", "--gpu-memory-utilization", "0.93", "--dtype", "half",
            "--vllm-version", "0.8.5", "--engine", "v0", "--max-num-batched-tokens", "4096"]
    d = plan(capsys, *argv)
    rng = d["kv_capacity_range"]
    assert rng["low"]["kv_cache_memory_gib"] <= 4.30 <= rng["high"]["kv_cache_memory_gib"]
    assert rng["low"]["max_concurrency"] <= 5.73 <= rng["high"]["max_concurrency"]
    assert rng["dominant_term"] == "activation_peak" and "fused-MoE" in rng["why"]
    # The logged values collapse it to vLLM's own figure.
    d = plan(capsys, *argv, "--activation-peak-gib", "1.40", "--non-torch-gib", "0.20")
    assert f"{d['max_concurrency']:.2f}" == "5.73" and d["kv_capacity_range"]["low"] == d["kv_capacity_range"]["high"]


def test_scenario3_range_holds_the_logged_tokens(capsys):
    # Logged at --gpu-memory-utilization 0.5, --max-model-len 10000 on a 24 GB card: 17,440 tokens.
    d = plan(capsys, "--model", "Qwen/Qwen3-4B", "--gpu", "RTX-4090", "--gpu-memory-utilization", "0.5",
             "--max-model-len", "10000")
    rng = d["kv_capacity_range"]
    assert rng["low"]["kv_cache_tokens"] <= 17_440 <= rng["high"]["kv_cache_tokens"]
    names = [t["name"] for t in rng["terms"]]
    assert names == ["activation_peak", "non_torch", "cuda_graphs"]
    assert all(t["low_gib"] <= t["expected_gib"] <= t["high_gib"] for t in rng["terms"])


def test_case008_v0_range_holds_the_logged_budget(capsys):
    # Case 008 (samples/real-logs): Qwen3-0.6B, V0, 79.19 GiB x 0.8, logged budget 61.84 GiB.
    d = plan(capsys, "--model", "Qwen/Qwen3-0.6B", "--gpu-memory-gib", "79.19", "--gpu-memory-utilization", "0.8",
             "--engine", "v0", "--max-model-len", "8192")
    rng = d["kv_capacity_range"]
    assert d["vllm_rules"]["rules"] == "< 0.8"
    assert rng["low"]["kv_cache_memory_gib"] <= 61.84 <= rng["high"]["kv_cache_memory_gib"]
