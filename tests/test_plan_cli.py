"""`vllm-obs plan` through the real CLI entry point."""

import json
import subprocess
import sys

import pytest

from vllm_obs.cli import main

JSON_KEYS = {
    "model_weights_gib", "model_weights_gib_per_gpu", "kv_cache_bytes_per_token",
    "kv_cache_bytes_per_token_per_gpu", "kv_cache_memory_gib_per_gpu", "gpu_blocks", "kv_cache_tokens",
    "max_concurrency", "kv_cache_gib_needed_for_max_model_len", "concurrency_by_context",
    "decode_ceiling_by_batch", "prefill_tokens_per_second_ceiling",
}


def plan_json(capsys, *argv):
    code = main(["plan", *argv, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_json_contract_keys_and_scenario4(capsys):
    code, d = plan_json(capsys, "--model", "/models/qwen3-30b-a3b", "--gpu-memory-gib", "21.66",
                        "--tensor-parallel-size", "4", "--max-model-len", "32768", "--block-size", "32",
                        "--gpu-memory-utilization", "0.93", "--dtype", "half", "--engine", "v0",
                        "--kv-cache-memory-gib", "4.30")
    assert code == 0
    assert JSON_KEYS <= set(d)
    assert f"{d['max_concurrency']:.2f}" == "5.73"
    assert d["gpu_blocks"] == 5870 and d["kv_cache_tokens"] == 5870 * 32
    assert d["kv_cache_bytes_per_token"] == 98_304 and d["kv_cache_bytes_per_token_per_gpu"] == 24_576
    assert f"{d['model_weights_gib_per_gpu']:.2f}" == "14.25"
    ctx = [c["context_tokens"] for c in d["concurrency_by_context"]]
    assert ctx[0] == 512 and ctx[-1] == 32768
    assert d["decode_ceiling_by_batch"] == [] and d["prefill_tokens_per_second_ceiling"] is None


def test_scenario3_default_max_len_does_not_fit(capsys):
    code, d = plan_json(capsys, "--model", "Qwen/Qwen3-4B", "--gpu-memory-gib", "23.55",
                        "--gpu-memory-utilization", "0.5", "--kv-cache-memory-gib", "2.39")
    assert code == 1
    assert d["max_model_len"] == 40960
    assert f"{d['kv_cache_gib_needed_for_max_model_len']:.2f}" == "5.62"
    problem = d["problems"][0]
    assert problem["kind"] == "kv_too_small" and "5.62 GiB" in problem["message"]
    assert "--max-model-len 17392" in problem["suggestion"]


def test_case060_with_logged_budget(capsys):
    code, d = plan_json(capsys, "--model", "Qwen/Qwen3-8B", "--gpu", "H100-SXM", "--max-model-len", "8192",
                        "--kv-cache-memory-gib", "54.34")
    assert code == 0
    assert abs(d["kv_cache_tokens"] - 395_712) <= 16 * 3   # rounded logged budget: within 3 blocks
    assert f"{d['max_concurrency']:.2f}" == "48.30"
    # Theory alone (no logged budget) lands within 2 % of the logged 54.34 GiB.
    code, t = plan_json(capsys, "--model", "Qwen/Qwen3-8B", "--gpu", "H100-SXM", "--max-model-len", "8192")
    assert t["kv_cache_memory_gib_per_gpu"] == pytest.approx(54.34, rel=0.02)
    batches = [r["batch"] for r in t["decode_ceiling_by_batch"]]
    assert batches[:3] == [1, 2, 4]
    tps = [r["tokens_per_second"] for r in t["decode_ceiling_by_batch"]]
    assert tps == sorted(tps)
    # Batch 1 is bound by reading ~15.3 GiB per token at 0.8 x 3.35 TB/s: ~160 tok/s.
    assert 140 < tps[0] < 180
    assert t["prefill_tokens_per_second_ceiling"] > tps[-1]


def test_weights_do_not_fit_suggests_tp(capsys):
    code, d = plan_json(capsys, "--model", "Qwen/Qwen3-32B", "--gpu", "A10")
    assert code == 1
    p = d["problems"][0]
    assert p["kind"] == "weights_do_not_fit"
    assert "--tensor-parallel-size 4" in p["suggestion"]


def test_scenario2_qwen3_32b_int4_on_8_a10(capsys):
    code, d = plan_json(capsys, "--model", "Qwen/Qwen3-32B", "--quantization", "awq", "--gpu", "A10",
                        "--num-gpus", "8", "--max-model-len", "4096")
    assert code == 0 and d["tensor_parallel_size"] == 8
    assert 17.5 < d["model_weights_gib"] < 18.5  # not "16-20 GB + 20 GB framework reserve"
    assert d["kv_cache_bytes_per_token"] == 64 * 2 * 8 * 128 * 2  # 256 KiB (fp16 KV of an AWQ model)
    assert d["kv_cache_bytes_per_token_per_gpu"] == 64 * 2 * 1 * 128 * 2


def test_tp_not_dividing_heads_exit_1_with_nearest(capsys):
    code = main(["plan", "--model", "Qwen/Qwen3-8B", "--gpu", "A10", "--tensor-parallel-size", "3"])
    err = capsys.readouterr().err
    assert code == 1
    assert "does not divide the 32 attention heads" in err and "--tensor-parallel-size 2, 4" in err


def test_other_processes_holding_memory(capsys):
    # Scenario 1: 2 x L20 with ~41 GiB of 44.5 GiB already in use.
    code, d = plan_json(capsys, "--model", "Qwen/Qwen3-1.7B", "--gpu", "L20", "--num-gpus", "2",
                        "--gpu-memory-used-gib", "41")
    assert code == 1
    assert d["problems"][0]["kind"] == "free_memory"
    # 0.07 of the card (what is free) cannot even hold the 3.2 GiB of weights: the advice is to
    # free memory, with the amount one max-length request needs.
    suggestion = d["problems"][0]["suggestion"]
    needed = (d["model_weights_gib_per_gpu"] + d["activation_peak_gib"] + d["non_torch_memory_gib"]
              + d["cuda_graph_gib"] + d["kv_cache_gib_needed_for_max_model_len"])
    short = needed - (d["gpu_total_memory_gib"] - 41)
    assert suggestion.startswith(f"free at least {short:.1f} GiB more on each GPU")
    assert f"needs {needed:.1f} GiB" in suggestion and 4.5 < needed < 6.5
    # With 30 GiB held by others, what is free is enough: a lower utilization is the advice.
    code, d = plan_json(capsys, "--model", "Qwen/Qwen3-1.7B", "--gpu", "L20", "--gpu-memory-used-gib", "30")
    assert code == 1 and "--gpu-memory-utilization 0.32" in d["problems"][0]["suggestion"]


@pytest.mark.parametrize("argv, needle", [
    (["--model", "Qwen/Qwen3-7B", "--gpu", "H100"], "Qwen/Qwen3-8B"),
    (["--model", "Qwen/Qwen3-8B", "--gpu", "H1000"], "--gpu-memory-gib"),
    (["--gpu", "H100"], "--model"),
    (["--model", "Qwen/Qwen3-8B", "--gpu", "H100", "--gpu-memory-utilization", "1.5"], "(0, 1]"),
    (["--model", "Qwen/Qwen3-8B", "--gpu", "H100", "--kv-cache-dtype", "int3"], "--kv-cache-dtype"),
    (["--model", "Qwen/Qwen3-8B", "--gpu", "H100", "--quantization", "magic"], "--quantization"),
    (["--model", "Qwen/Qwen3-8B", "--gpu", "H100", "--num-gpus", "2", "-tp", "4"], "fewer than"),
])
def test_bad_usage_is_one_line_exit_2(capsys, argv, needle):
    code = main(["plan", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_table_and_markdown_render(capsys):
    assert main(["plan", "--model", "Qwen/Qwen3-8B", "--gpu", "H100-SXM", "--max-model-len", "32768"]) == 0
    out = capsys.readouterr().out
    for needle in ("weights per GPU", "KV per token", "GiB", "tok/s", "max concurrency at 32,768", "CEILINGS"):
        assert needle in out
    assert main(["plan", "--model", "Qwen/Qwen3-8B", "--gpu", "H100-SXM", "--format", "markdown"]) == 0
    assert "| KV budget per GPU |" in capsys.readouterr().out


def test_help_teaches_by_example():
    proc = subprocess.run([sys.executable, "-m", "vllm_obs", "plan", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for needle in ("examples:", "--kv-cache-memory-gib", "--gpu-memory-used-gib", "0.92 since 0.20", "--vllm-version",
                   "--prompt-tokens", "exit codes"):
        assert needle in " ".join(proc.stdout.split())  # argparse wraps lines


def _run_quiet(argv):
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["Qwen/Qwen3-8B", "Qwen/Qwen3-30B-A3B", "mistralai/Mistral-7B-v0.1",
                        "deepseek-ai/DeepSeek-V2-Lite", "Qwen/Qwen1.5-7B"]),
       st.sampled_from(["H100-SXM", "A10", "L4", "MI300X"]),
       st.integers(-1, 9), st.integers(0, 3), st.integers(-5, 300_000),
       st.sampled_from(["8", "16", "0", "32"]), st.sampled_from(["0.9", "0.05", "1.2", "0"]),
       st.sampled_from(["auto", "fp8", "bogus"]))
def test_plan_never_tracebacks(model, gpu, tp, pp, max_len, block, util, kv):
    code, _out, err = _run_quiet(["plan", "--model", model, "--gpu", gpu, "-tp", str(tp), "-pp", str(pp),
                                  "--max-model-len", str(max_len), "--block-size", block,
                                  "--gpu-memory-utilization", util, "--kv-cache-dtype", kv,
                                  "--format", "json"])
    assert code in (0, 1, 2)
    assert "Traceback" not in err
    if code == 2:
        assert len(err.strip().splitlines()) == 1
