"""Property tests: capacity is monotone in memory and utilisation; concurrency falls as context grows."""

from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_obs.theory import capacity as cap
from vllm_obs.theory.model_catalog import load_catalog, resolve_model
from vllm_obs.theory.dtypes import GiB
from vllm_obs.theory.gpus import custom_gpu, find_gpu
from vllm_obs.theory.models import ModelSpec, parameter_breakdown
from vllm_obs.theory.sizing import ServingConfig, build_report
from vllm_obs.theory.throughput import decode_step, roofline_inputs

SPECS = [ModelSpec.from_hf_config(e.config, name=e.repos[0]) for e in load_catalog().values()]
SMALL = [s for s in SPECS if parameter_breakdown(s).total < 20e9]
models = st.sampled_from(SMALL)
arith = st.sampled_from([cap.V0, cap.V1_LEGACY, cap.V1])
block_sizes = st.sampled_from([8, 16, 32, 64])


@settings(max_examples=60, deadline=None)
@given(models, st.floats(24, 200), st.floats(0, 60), st.floats(0.3, 0.98), st.floats(0, 0.02))
def test_capacity_monotone_in_memory_and_utilisation(spec, mem_gib, extra_gib, util, extra_util):
    # The scheduler defaults are held fixed: vLLM's own tiers (70 and, since 0.28, 160 GiB) profile
    # a larger batch on a larger card, which can cost more than the extra memory brings.
    fixed = {"max_model_len": 4096, "max_num_batched_tokens": 8192, "max_num_seqs": 256}
    cfg = ServingConfig(**fixed, gpu_memory_utilization=util)
    more_cfg = ServingConfig(**fixed, gpu_memory_utilization=min(util + extra_util, 1.0))
    base = build_report(spec, custom_gpu(mem_gib), cfg)
    more_mem = build_report(spec, custom_gpu(mem_gib + extra_gib), cfg)
    more_util = build_report(spec, custom_gpu(mem_gib), more_cfg)
    for bigger in (more_mem, more_util):
        assert bigger.gpu_blocks >= base.gpu_blocks
        assert bigger.kv_cache_tokens >= base.kv_cache_tokens
        assert bigger.max_concurrency >= base.max_concurrency


@settings(max_examples=80, deadline=None)
@given(models, st.integers(0, 200_000), block_sizes, arith,
       st.lists(st.integers(1, 131_072), min_size=2, max_size=6))
def test_concurrency_falls_as_context_grows(spec, blocks, block_size, arithmetic, lens):
    lens = sorted(lens)
    conc = [cap.max_concurrency(blocks, n, block_size, arithmetic, spec) for n in lens]
    assert all(a >= b for a, b in zip(conc, conc[1:]))
    needed = [cap.kv_bytes_for_request(spec, 2, n, block_size) for n in lens]
    assert all(a <= b for a, b in zip(needed, needed[1:]))


@settings(max_examples=60, deadline=None)
@given(models, st.floats(0.01, 80), block_sizes, st.sampled_from([1, 2, 4, 8]))
def test_largest_max_model_len_is_tight(spec, budget_gib, block_size, tp):
    if cap.parallel_layout_problem(spec, tp, 1):
        return
    budget = budget_gib * GiB
    longest = cap.largest_max_model_len(spec, 2, budget, block_size, tp, upper=10**7)
    if longest:
        assert cap.kv_bytes_for_request(spec, 2, longest, block_size, tp) <= budget
    if longest < 10**7:
        assert cap.kv_bytes_for_request(spec, 2, longest + 1, block_size, tp) > budget


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SPECS), st.integers(1, 8), st.integers(1, 4), st.sampled_from([2, 1]))
def test_weights_split_no_less_than_total_over_gpus(spec, tp, pp, kvb):
    if cap.parallel_layout_problem(spec, tp, pp):
        return
    w = cap.weight_bytes(spec, 2, None, tp, pp)
    assert w.per_gpu_bytes * tp * pp >= w.total_bytes
    assert cap.kv_bytes_per_token(spec, kvb, tp) * tp >= cap.kv_bytes_per_token(spec, kvb, 1)
    p = parameter_breakdown(spec)
    assert 0 < p.active <= p.total


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(SMALL), st.sampled_from(["H100-SXM", "A10", "L40S", "RTX-4090", "MI300X"]),
       st.integers(1, 512), st.integers(1, 512), st.integers(16, 32768))
def test_decode_ceiling_never_falls_with_batch(spec, gpu_name, b1, b2, ctx):
    gpu = find_gpu(gpu_name)
    w = cap.weight_bytes(spec, 2, None)
    r = roofline_inputs(spec, w.breakdown, w.per_gpu_bytes, 2.0, 2, gpu, "fp16")
    lo, hi = sorted((b1, b2))
    assert decode_step(r, hi, ctx).tokens_per_second >= decode_step(r, lo, ctx).tokens_per_second * (1 - 1e-9)


def test_scenario5_qwen15_7b_a100_needs_concurrency():
    """2298.89 tok/s (the authors' offline benchmark) is out of reach of one request at a time."""
    spec = resolve_model("Qwen/Qwen1.5-7B")[0]
    gpu = find_gpu("A100-80GB-SXM")
    report = build_report(spec, gpu, ServingConfig(max_model_len=2048, context_tokens=1024))
    by_batch = {r["batch"]: r["tokens_per_second"] for r in report.decode_ceiling_by_batch}
    assert by_batch[1] < 120            # ~2.0 TB/s x 0.8 / 15.4 GB of weights
    assert max(by_batch.values()) > 2298.89
    # MHA (32 KV heads, 512 KiB of KV per token): at 1k context the KV read per step rivals the
    # weights, so even 64 running requests stay below the benchmark figure; it takes ~100, close
    # to what the KV cache holds at this context.
    assert by_batch[64] < 2298.89
    assert max(by_batch) > 64


def test_sliding_window_caps_the_kv_read_per_step():
    mistral = resolve_model("mistralai/Mistral-7B-v0.1")[0]   # window 4096 on all layers
    dense = resolve_model("mistralai/Mistral-7B-Instruct-v0.2")[0]  # same shapes, no window
    gpu = find_gpu("A100-80GB-SXM")
    w = cap.weight_bytes(mistral, 2, None)
    r_sw = roofline_inputs(mistral, w.breakdown, w.per_gpu_bytes, 2.0, 2, gpu, "fp16")
    r_full = roofline_inputs(dense, w.breakdown, w.per_gpu_bytes, 2.0, 2, gpu, "fp16")
    assert decode_step(r_sw, 32, 4096).tokens_per_second == decode_step(r_full, 32, 4096).tokens_per_second
    assert decode_step(r_sw, 32, 16384).tokens_per_second == decode_step(r_sw, 32, 4096).tokens_per_second
    assert decode_step(r_full, 32, 16384).tokens_per_second < decode_step(r_sw, 32, 16384).tokens_per_second
