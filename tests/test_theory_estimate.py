"""The closed-loop throughput estimate (estimate.py) against measured runs.

Calibration run, case 060 (samples/real-logs/060-*: H100 80GB HBM3, vLLM 0.27.1, Triton attention,
Qwen3-8B shapes, bf16, 256 prompt / 256 output tokens, random prompts). Client-side generation
throughput measured by the load generator: 147.0 / 1,088.7 / 6,433.2 / 12,328.2 tok/s at
concurrency 1 / 8 / 64 / 256 (source.txt; the server's own 10 s averages agree: 147.7, 1,097.5,
6,429.7, 12,424.0).
Unseen GPU, case 073 (H200, vLLM 0.26.0, same shapes and workload, concurrency 8): the server's
full-interval average is 1,381.8 tok/s (log line 191); the terms were not fitted to it.
"""

import json

import pytest

from vllm_obs.cli import main

MEASURED_060 = {1: 147.0, 8: 1088.7, 64: 6433.2, 256: 12328.2}


def estimate(capsys, *argv: str) -> dict:
    assert main(["plan", "--model", "Qwen/Qwen3-8B", "--max-model-len", "8192", *argv, "--format", "json"]) in (0, 1)
    return json.loads(capsys.readouterr().out)


def test_h100_case060_within_15_percent_at_every_concurrency(capsys):
    d = estimate(capsys, "--gpu", "H100-SXM", "--vllm-version", "0.27.1", "--gpu-memory-utilization", "0.9",
                 "--prompt-tokens", "256", "--output-tokens", "256", "--concurrency", "1,8,64,256")
    rows = {row["concurrency"]: row for row in d["throughput_estimate"]}
    assert set(rows) == set(MEASURED_060)
    for c, measured in MEASURED_060.items():
        assert rows[c]["generation_tokens_per_second"] == pytest.approx(measured, rel=0.15), c
        # Equal prompt and output lengths: the client pushes as many prompt tokens as it gets back.
        assert rows[c]["prompt_tokens_per_second"] == rows[c]["generation_tokens_per_second"]
        assert rows[c]["bound"] in ("memory", "compute") and rows[c]["running_limited_by"] is None
    # Never above the roofline ceiling for the same batch, taken at the mean context (256 + 256 / 2).
    assert d["decode_context_tokens"] == 384
    ceilings = {c["batch"]: c["tokens_per_second"] for c in d["decode_ceiling_by_batch"]}
    for c in (1, 8, 64, 256):
        assert rows[c]["generation_tokens_per_second"] < ceilings[c]


def test_unseen_h200_case073_concurrency_8(capsys):
    d = estimate(capsys, "--gpu", "H200", "--vllm-version", "0.26.0", "--gpu-memory-utilization", "0.2",
                 "--prompt-tokens", "256", "--output-tokens", "256", "--concurrency", "8")
    assert d["throughput_estimate"][0]["generation_tokens_per_second"] == pytest.approx(1381.8, rel=0.15)


def test_kv_capacity_bounds_long_requests_on_a_small_card(capsys):
    # Qwen3-8B on an L4 keeps ~23k KV tokens: 64 clients of 8,192-token requests mostly wait.
    d = estimate(capsys, "--gpu", "L4", "--prompt-tokens", "4096", "--output-tokens", "4096",
                 "--concurrency", "1,64")
    one, many = d["throughput_estimate"]
    assert many["bound"] == "kv_capacity" and many["running_limited_by"] == "kv_capacity"
    assert many["running_per_replica"] == d["gpu_blocks"] // (8192 // d["block_size"])
    assert one["bound"] == "memory"
    assert many["generation_tokens_per_second"] < 3 * one["generation_tokens_per_second"]


def test_long_prompts_fill_the_token_budget_and_turn_compute_bound(capsys):
    d = estimate(capsys, "--gpu", "H100-SXM", "--prompt-tokens", "2048", "--output-tokens", "16",
                 "--concurrency", "256")
    row = d["throughput_estimate"][0]
    # 8,192 tokens per step are nearly all prefill: compute decides, not the KV limit.
    assert row["bound"] == "compute"
    assert row["prompt_tokens_per_second"] == pytest.approx(row["generation_tokens_per_second"] * 128, rel=1e-3)


def test_estimate_needs_a_gpu_with_speeds(capsys):
    d = estimate(capsys, "--kv-cache-memory-gib", "54.34", "--prompt-tokens", "256", "--output-tokens", "256")
    assert d["throughput_estimate"] is None
    assert "--gpu NAME" in d["sections"]["throughput_estimate"]["missing"]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from vllm_obs.theory import find_gpu, resolve_model  # noqa: E402
from vllm_obs.theory.estimate import generation_estimate, interval_running  # noqa: E402
from vllm_obs.theory.sizing import ServingConfig, roofline_for  # noqa: E402
from vllm_obs.theory.throughput import decode_step  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["Qwen/Qwen3-8B", "Qwen/Qwen3-30B-A3B", "mistralai/Mistral-7B-v0.1",
                        "deepseek-ai/DeepSeek-V2-Lite", "Qwen/Qwen1.5-7B"]),
       st.sampled_from(["H100-SXM", "A10", "L4", "MI300X", "H200"]),
       st.integers(1, 512), st.floats(1, 50_000), st.integers(1, 16_384), st.floats(0, 8))
def test_interval_ceiling_is_never_below_the_observed_rate(model, gpu, end_running, observed, context, ratio):
    # Issue 13's rule: observed / ceiling > 1 only when no batch up to the limit could produce it.
    spec, _ = resolve_model(model, None)
    r = roofline_for(spec, find_gpu(gpu), ServingConfig(max_model_len=16_384))
    assert r is not None
    n, basis, avg = interval_running(r, observed, context, end_running, ratio, upper=1024)
    assert n >= end_running
    if not basis.startswith("the largest batch"):
        assert decode_step(r, n, context).tokens_per_second >= observed * (1 - 1e-9)
    if avg is not None:  # the inferred average reproduces the rate at the estimate's per-request rate
        assert generation_estimate(r, avg, context, ratio) >= observed * (1 - 1e-6)
        assert generation_estimate(r, avg, context, ratio) <= decode_step(r, avg, context).tokens_per_second
