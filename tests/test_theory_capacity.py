"""vLLM's KV arithmetic against numbers vLLM printed (scenarios.md, real-logs/*, anchors.md).

Logged budgets are rounded to 0.01 GiB, so a logged block count is checked to lie in the range the
rounded budget allows, and derived figures are compared at vLLM's printed precision.
"""

import pytest

from vllm_obs.theory import capacity as cap
from vllm_obs.theory.model_catalog import resolve_model
from vllm_obs.theory.dtypes import GiB, resolve_quantization

QWEN3_4B = resolve_model("Qwen/Qwen3-4B")[0]
QWEN3_8B = resolve_model("Qwen/Qwen3-8B")[0]
QWEN3_30B = resolve_model("/models/qwen3-30b-a3b")[0]
QWEN3_06B = resolve_model("Qwen/Qwen3-0.6B")[0]
LLAMA31_8B = resolve_model("meta-llama/Llama-3.1-8B-Instruct")[0]
LLAMA3_8B = resolve_model("meta-llama/Meta-Llama-3-8B")[0]


def blocks_range(spec, budget_gib_printed, block_size, tp=1, kv_bytes=2):
    per_block = cap.block_bytes(spec, kv_bytes, block_size, tp)
    lo = cap.num_gpu_blocks((budget_gib_printed - 0.005) * GiB, per_block)
    hi = cap.num_gpu_blocks((budget_gib_printed + 0.005) * GiB, per_block)
    return lo, hi


# ---- Scenario 3: Qwen3-4B, max len 40960 -> "5.62 GiB KV cache is needed" -------------------
def test_scenario3_kv_needed_for_max_len_at_vllm_precision():
    needed = cap.kv_bytes_for_request(QWEN3_4B, 2, 40960, 16)
    assert needed == 36 * 2 * 8 * 128 * 2 * 40960  # 6,039,797,760 B = 5.625 GiB exactly
    assert cap.format_gib_like_vllm(needed) == "5.62"   # vLLM rounds half to even here


def test_scenario3_kv_tokens_fit_the_logged_budget():
    # At 0.5 utilization one run logged 17,440 tokens (max len 10000) and the other run's error said
    # 2.39 GiB available: 17,440 tokens are 1,090 blocks of 2,359,296 B = 2.395 GiB, the same budget
    # to within one block (the two runs profiled different max lengths).
    assert 17_440 % 16 == 0
    assert (17_440 // 16) * cap.block_bytes(QWEN3_4B, 2, 16) / GiB == pytest.approx(2.39, abs=0.01)
    assert cap.largest_max_model_len(QWEN3_4B, 2, 2.39 * GiB, 16) == 17_392  # what vLLM's estimate would say
    weights = cap.weight_bytes(QWEN3_4B, 2, None).per_gpu_bytes / GiB
    assert weights == pytest.approx(7.552, rel=0.01)  # logged 7.552 GiB


# ---- Scenario 4: Qwen3-30B-A3B, TP 4, block 32, 32768, KV 4.30 GiB -> 5.73x (vLLM 0.8.5, V0) --
def test_scenario4_max_concurrency_573():
    assert cap.kv_heads_per_rank(4, 4) == 1
    assert cap.kv_bytes_per_token(QWEN3_30B, 2, tp=4) == 48 * 2 * 1 * 128 * 2  # 24,576 B
    c = cap.kv_capacity(QWEN3_30B, 2, 4.30 * GiB, 32768, 32, tp=4, arithmetic=cap.V0)
    assert f"{c.max_concurrency:.2f}" == "5.73"
    lo, hi = blocks_range(QWEN3_30B, 4.30, 32, tp=4)
    assert {f"{b * 32 / 32768:.2f}" for b in (lo, hi)} <= {"5.72", "5.73", "5.74"}


def test_scenario4_weights_per_gpu_and_budget_identity():
    w = cap.weight_bytes(QWEN3_30B, 2, None, tp=4)
    assert f"{w.per_gpu_bytes / GiB:.2f}" == "14.25"  # logged "model weights take 14.25GiB"
    # total x util - weights - non-torch - activation = logged KV budget (worker.py:287 line).
    budget = cap.kv_budget_bytes(21.66 * GiB, 0.93, 14.25 * GiB, 1.40 * GiB, 0.20 * GiB, 0)
    assert budget / GiB == pytest.approx(4.30, abs=0.01)


# ---- Case 060: Qwen3-8B shapes, H100 79.18 GiB, 0.9, vLLM 0.27.1 -------------------------------
def test_case060_weights_blocks_tokens_concurrency():
    w = cap.weight_bytes(QWEN3_8B, 2, None)
    assert f"{w.per_gpu_bytes / GiB:.2f}" == "15.27"  # "Model loading took 15.27 GiB"
    lo, hi = blocks_range(QWEN3_8B, 54.34, 16)
    logged_tokens = 395_712
    assert lo * 16 <= logged_tokens <= hi * 16
    blocks = logged_tokens // 16
    assert f"{cap.max_concurrency(blocks, 8192, 16, cap.V1, QWEN3_8B):.2f}" == "48.30"
    assert cap.kv_cache_tokens(blocks, 8192, 16, cap.V1, QWEN3_8B) == logged_tokens
    # usable = 79.18 x 0.9 = 71.26 GiB; weights + KV = 69.61 -> 1.65 GiB for activations,
    # non-torch and the 0.54 GiB CUDA-graph estimate.
    assert 79.18 * 0.9 - 15.27 - 54.34 == pytest.approx(1.65, abs=0.01)


# ---- Case 010: Llama-3.1-8B on an RTX 3090, max len 29000, V0 ----------------------------------
def test_case010_v0_blocks_and_concurrency():
    w = cap.weight_bytes(LLAMA31_8B, 2, None)
    assert f"{w.per_gpu_bytes / GiB:.4f}" == "14.9888"  # "Loading model weights took 14.9888 GB"
    lo, hi = blocks_range(LLAMA31_8B, 2.89, 16)
    assert lo <= 1478 <= hi
    assert f"{cap.max_concurrency(1478, 29000, 16, cap.V0):.2f}" == "0.82"
    assert 1478 * 16 == 23_648  # "maximum number of tokens that can be stored in KV cache (23648)"
    assert not cap.kv_capacity(LLAMA31_8B, 2, 2.89 * GiB, 29000, 16, arithmetic=cap.V0).fits


# ---- Case 008: 0.6B model (Qwen3-0.6B shapes), 80 GB card, V0, 8192 -----------------------------
def test_case008_qwen3_06b_shapes():
    assert f"{cap.weight_bytes(QWEN3_06B, 2, None).per_gpu_bytes / GiB:.2f}" == "1.12"
    lo, hi = blocks_range(QWEN3_06B, 61.84, 16)
    assert lo <= 36_184 <= hi
    assert f"{cap.max_concurrency(36_184, 8192, 16, cap.V0):.2f}" == "70.67"


# ---- Case 006 (Llama-3-8B) and 022 (Qwen2.5-7B AWQ) weights ------------------------------------
def test_logged_weights_other_cases():
    assert f"{cap.weight_bytes(LLAMA3_8B, 2, None).per_gpu_bytes / GiB:.2f}" == "14.96"
    qwen25 = resolve_model("Qwen/Qwen2.5-7B-Instruct-AWQ")[0]
    awq = cap.weight_bytes(qwen25, 2, resolve_quantization("awq")).per_gpu_bytes / GiB
    assert awq == pytest.approx(5.2032, rel=0.005)  # "Loading model weights took 5.2032 GB"


# ---- vLLM-internal identities --------------------------------------------------------------------
def test_kv_heads_replicated_when_tp_exceeds_them():
    qwen235 = resolve_model("Qwen/Qwen3-235B-A22B")[0]
    assert cap.kv_bytes_per_token(qwen235, 2, tp=8) == cap.kv_bytes_per_token(qwen235, 2, tp=4)
    assert cap.kv_bytes_per_token(qwen235, 2, tp=8) * 4 == cap.kv_bytes_per_token(qwen235, 2, tp=1)


def test_v1_concurrency_uses_whole_blocks_per_request():
    # max_model_len 10000 = 625 blocks of 16 exactly; 10001 needs 626.
    assert cap.max_concurrency(1250, 10001, 16, cap.V1, QWEN3_4B) == 1250 / 626
    assert cap.max_concurrency(1250, 10001, 16, cap.V0) == 1250 * 16 / 10001
    assert cap.kv_cache_tokens(1250, 10001, 16, cap.V1, QWEN3_4B) == int(1250 / 626 * 10001)


def test_mla_cache_is_one_latent_not_split_by_tp():
    ds = resolve_model("deepseek-ai/DeepSeek-V2-Lite")[0]
    assert cap.kv_bytes_per_token(ds, 2, tp=1) == 27 * (512 + 64) * 2
    assert cap.kv_bytes_per_token(ds, 2, tp=4) == cap.kv_bytes_per_token(ds, 2, tp=1)


def test_fp8_kv_and_int4_weights():
    assert cap.kv_bytes_per_token(QWEN3_8B, 1) * 2 == cap.kv_bytes_per_token(QWEN3_8B, 2)
    q32 = resolve_model("Qwen/Qwen3-32B")[0]
    awq = cap.weight_bytes(q32, 2, resolve_quantization("awq")).total_bytes / GiB
    assert 17.5 < awq < 18.5  # linear layers at 4.16 bits, embeddings and lm_head 16-bit


def test_pp_partition_follows_vllm():
    assert cap.pp_layer_partition(94, 4) == [23, 24, 24, 23]  # remainder to the middle stages
    assert cap.pp_layer_partition(36, 2) == [18, 18]
    assert cap.pp_layer_partition(5, 3) == [2, 2, 1]


def test_layout_rules():
    assert cap.parallel_layout_problem(QWEN3_8B, 3, 1)            # 32 heads
    assert cap.parallel_layout_problem(QWEN3_30B, 8, 1) is None   # 4 KV heads replicated
    assert cap.parallel_layout_problem(QWEN3_8B, 1, 40)           # more stages than layers


def test_v1_refuses_when_other_processes_hold_memory():
    # Scenario 1: L20s with ~44 of 49 GB already in use: 0.9 cannot be requested.
    ok = cap.free_memory_problem(44.53 * GiB, 41 * GiB, 0.9)
    assert ok is not None and ok < 0.08
    assert cap.free_memory_problem(44.53 * GiB, 1 * GiB, 0.9) is None


def test_arithmetic_by_version():
    assert cap.arithmetic_for("v0", "0.8.5") == cap.V0
    assert cap.arithmetic_for(None, "0.6.3") == cap.V0
    assert cap.arithmetic_for("v1", "0.8.5") == cap.V1_LEGACY
    assert cap.arithmetic_for("v1", "0.27.1") == cap.V1
    assert cap.arithmetic_for(None, None) == cap.V1
