"""ModelSpec from config.json, the shipped catalog, parameter counts vs published totals."""

import json

import pytest

from vllm_obs.theory.model_catalog import UnknownModelError, find_entry, load_catalog, resolve_model, suggest
from vllm_obs.theory.models import ModelConfigError, ModelSpec, parameter_breakdown

CATALOG = load_catalog()


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_parameter_count_from_shapes_equals_published_total(key):
    entry = CATALOG[key]
    spec = ModelSpec.from_hf_config(entry.config, name=entry.repos[0])
    assert parameter_breakdown(spec).total == entry.published_params, entry.published_params_source


def test_catalog_covers_the_families_the_issue_names():
    repos = {r.lower() for e in CATALOG.values() for r in e.repos}
    for needed in ("qwen/qwen3-0.6b", "qwen/qwen3-4b", "qwen/qwen3-30b-a3b", "qwen/qwen3-235b-a22b",
                   "qwen/qwen2.5-7b-instruct", "qwen/qwen1.5-7b", "meta-llama/llama-3.1-8b-instruct",
                   "meta-llama/llama-3.3-70b-instruct", "mistralai/mistral-7b-instruct-v0.3",
                   "mistralai/mixtral-8x7b-instruct-v0.1", "deepseek-ai/deepseek-r1-distill-qwen-7b",
                   "deepseek-ai/deepseek-r1-distill-llama-70b"):
        assert needed in repos
    for entry in CATALOG.values():
        assert entry.source_url.startswith("https://huggingface.co/")


def test_moe_active_parameters():
    # Qwen3-30B-A3B: "3.3B activated" (keras-hub); Qwen3-235B-A22B: 22B; Mixtral 8x7B: 12.9B.
    assert round(parameter_breakdown(resolve_model("Qwen/Qwen3-30B-A3B")[0]).active / 1e9, 2) == 3.35
    assert round(parameter_breakdown(resolve_model("Qwen/Qwen3-235B-A22B")[0]).active / 1e9, 1) == 22.2
    assert round(parameter_breakdown(resolve_model("mistralai/Mixtral-8x7B-v0.1")[0]).active / 1e9, 1) == 12.9
    # DeepSeek-V2-Lite: 2.4B activated excluding the input embedding (its paper).
    p = parameter_breakdown(resolve_model("deepseek-ai/DeepSeek-V2-Lite")[0])
    assert 2.4e9 <= p.active - p.embedding < 2.5e9


def test_explicit_head_dim_wins_over_hidden_over_heads():
    spec = resolve_model("Qwen/Qwen3-4B")[0]
    assert spec.head_dim == 128 and spec.head_dim_naive == 80
    assert resolve_model("Qwen/Qwen3-0.6B")[0].head_dim == 128  # naive: 64
    assert resolve_model("meta-llama/Llama-3.2-1B")[0].head_dim == 64


def test_attention_variants_and_ties():
    qwen15 = resolve_model("Qwen/Qwen1.5-7B")[0]
    assert qwen15.num_kv_heads == 32 and qwen15.qkv_bias  # MHA with q/k/v bias
    mqa = ModelSpec.from_hf_config({"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 8,
                                    "num_key_value_heads": 1, "vocab_size": 100, "intermediate_size": 128})
    assert mqa.num_kv_heads == 1 and mqa.head_dim == 8
    assert resolve_model("Qwen/Qwen3-4B")[0].tie_word_embeddings
    assert parameter_breakdown(resolve_model("Qwen/Qwen3-4B")[0]).lm_head == 0
    assert not resolve_model("Qwen/Qwen3-8B")[0].tie_word_embeddings


def test_sliding_window_only_where_the_config_enables_it():
    assert resolve_model("mistralai/Mistral-7B-v0.1")[0].sliding_window == 4096
    assert len(resolve_model("mistralai/Mistral-7B-v0.1")[0].sliding_window_layers) == 32
    # Qwen2/2.5 and the R1 distills carry sliding_window but use_sliding_window is false.
    assert resolve_model("Qwen/Qwen2.5-7B-Instruct")[0].sliding_window is None
    assert resolve_model("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")[0].sliding_window is None
    hybrid = ModelSpec.from_hf_config({
        "model_type": "qwen2", "num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 4,
        "vocab_size": 10, "use_sliding_window": True, "sliding_window": 256, "max_window_layers": 2,
        "max_position_embeddings": 4096})
    assert hybrid.sliding_window_layers == (2, 3)


def test_deepseek_style_shared_experts_and_mla():
    spec = resolve_model("deepseek-ai/DeepSeek-V2-Lite")[0]
    assert spec.use_mla and spec.kv_lora_rank == 512 and spec.qk_rope_head_dim == 64
    assert spec.shared_expert_intermediate_size == 2 * 1408
    assert spec.dense_layers == (0,)


def test_lookup_by_repo_id_case_insensitive_and_path_basename():
    assert find_entry("qwen/QWEN3-4b").repos[0] == "Qwen/Qwen3-4B"
    assert find_entry("/models/qwen3-30b-a3b").repos[0] == "Qwen/Qwen3-30B-A3B"
    assert find_entry("/root/.cache/huggingface/hub/models--Qwen--Qwen3-8B/snapshots/abc").repos[0] == "Qwen/Qwen3-8B"
    assert find_entry("Qwen/Qwen2.5-7B-Instruct-AWQ").repos[0] == "Qwen/Qwen2.5-7B-Instruct"
    assert find_entry("/tmp/qwen3-8b-random") is None


def test_unknown_model_suggests_close_names_and_model_config():
    with pytest.raises(UnknownModelError) as err:
        resolve_model("Qwen/Qwen3-7B")
    msg = str(err.value)
    assert "Qwen/Qwen3-8B" in msg and "--model-config" in msg
    assert "Qwen/Qwen3-8B" in suggest("qwen3-8b-instruct")


def test_model_config_file_and_directory(tmp_path):
    cfg = CATALOG["qwen3-8b"].config
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    by_dir, _ = resolve_model(model_config=str(tmp_path))
    by_file, _ = resolve_model(model_config=str(tmp_path / "config.json"))
    assert parameter_breakdown(by_dir).total == parameter_breakdown(by_file).total == 8_190_735_360
    local, source = resolve_model(str(tmp_path))  # --model pointing at a directory
    assert "config file" in source and local.num_layers == 36


def test_bad_config_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelConfigError):
        resolve_model(model_config=str(tmp_path))
    with pytest.raises(ModelConfigError):
        ModelSpec.from_hf_config({"hidden_size": 64})
