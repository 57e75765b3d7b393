"""theory_for_summary: theory beside real logged summaries (samples/real-logs expected.json)."""

import json
from pathlib import Path

import pytest

from vllm_obs.theory.join import theory_for_summary

REAL = Path(__file__).resolve().parent.parent / "samples" / "real-logs"  # the project's own copies


def load(case: str) -> dict:
    hits = sorted(REAL.glob(f"{case}*/expected.json"))
    assert hits, f"real-log case {case} missing from samples/real-logs"
    return json.loads(hits[0].read_text())


def test_case060_as_logged_matches_and_single_request_near_ceiling():
    t = theory_for_summary(load("060"), model="Qwen/Qwen3-8B", gpu="H100-SXM")
    ovt = t["observed_vs_theory"]
    assert ovt["model_weights_gib"]["ratio"] == pytest.approx(1.0, abs=0.001)
    assert ovt["kv_cache_tokens"]["ratio"] == pytest.approx(1.0, abs=0.0005)
    assert ovt["max_concurrency"]["ratio"] == 1.0
    # Predicted from 79.18 GiB x 0.9 with estimated overheads: within 2 % of the logged 54.34 GiB.
    assert ovt["kv_cache_memory_gib"]["ratio"] == pytest.approx(1.0, abs=0.02)
    assert t["predicted"]["usable_memory_gib_per_gpu"] == pytest.approx(71.26, abs=0.01)
    # The best rate per request (147.7 tok/s at 1 running): 91 % of the ceiling, at the estimate.
    gen = ovt["generation_tokens_per_second"]
    assert gen["theory_is"] == "roofline ceiling" and gen["observed"] == 147.7
    assert 0.85 < gen["ratio"] <= 1.0 and 1 <= gen["ceiling_running"] < 1.1
    assert gen["observed_vs_estimate"] == pytest.approx(1.0, abs=0.05)
    assert gen["average_running_inferred"] == pytest.approx(1.0, abs=0.1)
    assert t["inputs"]["max_model_len"] == {"value": 8192, "source": "log"}
    assert t["inputs"]["block_size"]["source"] == "default of vLLM 0.27"
    assert t["vllm_rules"]["version"] == "0.27.1" and t["vllm_rules"]["model_runner"] == "v2"
    assert t["vllm_rules"]["cuda_graphs_subtracted"] is False
    assert not any("KV capacity" in e for e in t["explanations"])


def test_case060_path_is_not_in_catalog_and_no_gpu_gives_arithmetic_only():
    summary = load("060")
    assert theory_for_summary(summary) is None  # /tmp/qwen3-8b-random: unknown model
    t = theory_for_summary(summary, model="Qwen/Qwen3-8B")
    assert t["gpu"] is None and "predicted" not in t
    assert t["max_concurrency"] == 48.3


def test_case010_v0_blocks_and_budget_explained():
    t = theory_for_summary(load("010"), model="meta-llama/Llama-3.1-8B-Instruct")
    ovt = t["observed_vs_theory"]
    assert ovt["gpu_blocks"]["observed"] == 1478 and abs(ovt["gpu_blocks"]["theory"] - 1478) <= 1
    assert ovt["max_concurrency"]["ratio"] == 1.0
    assert ovt["model_weights_gib"]["ratio"] == 1.0
    assert t["arithmetic"] == "v0"
    assert t["fits"] is False and t["kv_cache_gib_needed_for_max_model_len"] == pytest.approx(3.54, abs=0.01)


def test_case008_qwen3_06b_exact_and_overheads_flagged():
    t = theory_for_summary(load("008"), model="Qwen/Qwen3-0.6B")
    ovt = t["observed_vs_theory"]
    assert ovt["gpu_blocks"]["ratio"] == pytest.approx(1.0, abs=0.0001)
    assert ovt["kv_cache_memory_gib"]["ratio"] == pytest.approx(1.0, abs=0.01)
    assert ovt["kv_cache_memory_gib"]["inside_range"] is True
    # No version in this V0 log: the V0 rules are assumed, and graphs are not subtracted.
    assert t["vllm_rules"]["rules"] == "< 0.8" and t["vllm_rules"]["cuda_graphs_subtracted"] is False
    assert any(e.startswith("CUDA graph memory") for e in t["explanations"])


def test_case022_negative_budget_is_explained_in_gib():
    t = theory_for_summary(load("022"), model="Qwen/Qwen2.5-7B-Instruct-AWQ")
    assert t["inputs"]["quantization"] == {"value": "awq", "source": "model name"}
    assert t["observed_vs_theory"]["model_weights_gib"]["ratio"] == pytest.approx(1.0, abs=0.005)
    assert t["observed_vs_theory"]["kv_cache_memory_gib"]["ratio"] is None
    budget_lines = [e for e in t["explanations"] if e.startswith("KV budget -1.05 GiB")]
    assert budget_lines and "activation peak" in budget_lines[0]


def test_other_memory_holder_is_named():
    # A synthetic start: theory expects ~54 GiB of KV on an H100 but the log says 45 GiB.
    summary = {"model": "Qwen/Qwen3-8B", "engine": "v1", "vllm_version": "0.27.1", "max_model_len": 8192,
               "gpu_memory_utilization": 0.9, "total_gpu_memory_gib": 79.18, "model_weights_gib": 15.27,
               "kv_cache_memory_gib": 45.0}
    t = theory_for_summary(summary)
    line = next(e for e in t["explanations"] if e.startswith("KV capacity"))
    assert "below theory" in line and "something else holds" in line
    assert t["inputs"]["gpu"]["value"] == "H100-SXM"   # recognised from the logged total


def test_unknown_or_insufficient():
    assert theory_for_summary({"model": "facebook/opt-125m", "kv_cache_memory_gib": 3.0}) is None
    assert theory_for_summary({"model": "Qwen/Qwen3-8B"}) is None  # no GPU, no memory, no budget
    assert theory_for_summary({"model": "Qwen/Qwen3-8B"}, gpu="A100-80GB-SXM") is not None


def test_scenario4_summary_gives_573():
    summary = {"vllm_version": "0.8.5", "engine": "v0", "model": "/models/Qwen3-30B-A3B", "dtype": "float16",
               "tensor_parallel_size": 4, "max_model_len": 32768, "gpu_memory_utilization": 0.93,
               "total_gpu_memory_gib": 21.66, "model_weights_gib": 14.25, "non_torch_memory_gib": 0.20,
               "activation_peak_gib": 1.40, "kv_cache_memory_gib": 4.30, "max_concurrency": 5.73,
               "block_size": 32}
    t = theory_for_summary(summary)
    assert f"{t['max_concurrency']:.2f}" == "5.73"
    assert t["observed_vs_theory"]["max_concurrency"]["ratio"] == 1.0
    assert t["observed_vs_theory"]["model_weights_gib"]["ratio"] == pytest.approx(1.0, abs=0.001)


def test_ceiling_uses_the_running_count_the_interval_must_have_had():
    # Issue 13: a 10 s interval averaged ~60 running requests but ended with 8; the ceiling at 8
    # (about 1,150 tok/s on an H100) is below what was observed. The ceiling must be taken at the
    # fewest requests that can produce the observed rate, so the ratio stays <= 1.
    summary = dict(load("060"))
    summary["stats"] = summary["stats"] + [{"prompt_tps": 6200.0, "generation_tps": 6000.0, "running": 8, "waiting": 0,
                         "gpu_kv_usage_pct": 0.8, "engine": 0}]
    t = theory_for_summary(summary, model="Qwen/Qwen3-8B", gpu="H100-SXM")
    gen = t["observed_vs_theory"]["generation_tokens_per_second"]
    # The estimate infers ~60 requests on average from the throughput and the per-request rate,
    # and the ceiling is taken there.
    assert 40 < gen["average_running_inferred"] < 80
    assert gen["average_running_basis"] == "throughput / per-request rate of the estimate"
    assert gen["ratio"] <= 1.0 and gen["ceiling_running"] == gen["average_running_inferred"]
    assert gen["ceiling_running_basis"].startswith("the interval's average running")
    # The estimate beside it is for the line's own running count.
    assert gen["estimate_running"] == 8 and gen["estimate"] < 1300
