"""ModelSpec: the shapes that matter for memory and speed, read from a Hugging Face config.json.

`ModelSpec.from_hf_config(dict)` is pure. `parameter_breakdown(spec)` counts parameters from the
shapes (no checkpoint needed); the catalog tests hold it equal to the published totals.
Catalog lookup (the only I/O) lives in `catalog.py`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ModelConfigError(ValueError):
    """A config.json this tool cannot read (missing shapes, unsupported layout)."""


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    model_type: str = ""
    architectures: tuple[str, ...] = ()
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool = False
    max_position_embeddings: int
    torch_dtype: str | None = None
    qkv_bias: bool = False
    o_bias: bool = False
    qk_norm: bool = False
    # Mixture of experts (0 experts = dense).
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    shared_expert_gate: bool = False       # Qwen2-MoE: a sigmoid gate (h x 1) on the shared expert
    router_bias: bool = False              # DeepSeek-V3: e_score_correction_bias (E)
    dense_layers: tuple[int, ...] = ()     # layer indices that keep a dense MLP in an MoE model
    # Multi-head latent attention (DeepSeek-V2/V3): KV is one compressed latent per token.
    kv_lora_rank: int = 0
    q_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    # Sliding-window attention: window size and the layers it applies to.
    sliding_window: int | None = None
    sliding_window_layers: tuple[int, ...] = ()
    quantization_config: dict | None = None

    # ---- derived shapes ---------------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def use_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def num_moe_layers(self) -> int:
        return self.num_layers - len(self.dense_layers) if self.is_moe else 0

    @property
    def head_dim_naive(self) -> int:
        """hidden / heads: what many calculators assume (wrong for Qwen3-0.6B/4B/32B, Llama-3.2-1B...)."""
        return self.hidden_size // self.num_attention_heads

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def from_hf_config(cls, cfg: dict, name: str | None = None) -> "ModelSpec":
        if not isinstance(cfg, dict):
            raise ModelConfigError("config.json must be a JSON object")
        text = cfg.get("text_config")
        if isinstance(text, dict) and "num_hidden_layers" in text:  # multimodal wrapper
            merged = dict(text)
            merged.setdefault("architectures", cfg.get("architectures"))
            merged.setdefault("torch_dtype", cfg.get("torch_dtype"))
            merged.setdefault("quantization_config", cfg.get("quantization_config"))
            merged.setdefault("tie_word_embeddings", cfg.get("tie_word_embeddings", False))
            cfg = merged

        def need(*keys: str) -> int:
            for key in keys:
                if cfg.get(key) is not None:
                    return int(cfg[key])
            raise ModelConfigError(f"config.json has no {keys[0]!r}")

        model_type = str(cfg.get("model_type", ""))
        layers = need("num_hidden_layers", "n_layer", "num_layers")
        hidden = need("hidden_size", "n_embd", "d_model")
        heads = need("num_attention_heads", "n_head")
        # MHA models (Qwen1.5, Llama-2-7B) omit num_key_value_heads: it equals the query heads.
        kv_heads = int(cfg.get("num_key_value_heads") or cfg.get("num_kv_heads") or heads)
        if cfg.get("multi_query") is True:  # falcon-style MQA
            kv_heads = 1
        # An explicit head_dim always wins (Qwen3: 128 while hidden/heads is 64 or 80).
        head_dim = int(cfg.get("head_dim") or hidden // heads)
        intermediate = int(cfg.get("intermediate_size") or cfg.get("ffn_hidden_size") or 4 * hidden)
        vocab = need("vocab_size")
        max_pos = int(cfg.get("max_position_embeddings") or cfg.get("max_sequence_length")
                      or cfg.get("seq_length") or 2048)

        arch = tuple(cfg.get("architectures") or ())
        # Qwen2 (and Qwen1.5, which uses the same code) has q/k/v biases; Qwen3 replaced them by
        # per-head RMSNorms on q and k. Others say so with attention_bias.
        qkv_bias = bool(cfg.get("attention_bias", False)) or model_type in ("qwen2", "qwen2_moe")
        o_bias = bool(cfg.get("attention_bias", False)) and model_type not in ("qwen2", "qwen2_moe")
        qk_norm = model_type in ("qwen3", "qwen3_moe")

        fields: dict = dict(
            name=name or str(cfg.get("_name_or_path") or model_type or "model"),
            model_type=model_type, architectures=arch, num_layers=layers, hidden_size=hidden,
            num_attention_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim,
            intermediate_size=intermediate, vocab_size=vocab,
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            max_position_embeddings=max_pos, torch_dtype=cfg.get("torch_dtype") or cfg.get("dtype"),
            qkv_bias=qkv_bias, o_bias=o_bias, qk_norm=qk_norm,
            quantization_config=cfg.get("quantization_config"),
        )

        # --- MoE
        experts = int(cfg.get("num_experts") or cfg.get("num_local_experts") or cfg.get("n_routed_experts") or 0)
        if experts:
            fields["num_experts"] = experts
            fields["num_experts_per_tok"] = need("num_experts_per_tok", "moe_topk", "top_k")
            # Mixtral's experts use intermediate_size; Qwen/DeepSeek have a separate expert width.
            fields["moe_intermediate_size"] = int(cfg.get("moe_intermediate_size") or intermediate)
            if cfg.get("shared_expert_intermediate_size"):  # Qwen2-MoE
                fields["shared_expert_intermediate_size"] = int(cfg["shared_expert_intermediate_size"])
                fields["shared_expert_gate"] = True
            elif cfg.get("n_shared_experts"):  # DeepSeek: n_shared x expert width, one fused MLP
                fields["shared_expert_intermediate_size"] = (
                    int(cfg["n_shared_experts"]) * fields["moe_intermediate_size"])
            fields["router_bias"] = cfg.get("topk_method") == "noaux_tc"
            dense: set[int] = set(int(i) for i in (cfg.get("mlp_only_layers") or []))
            first_dense = int(cfg.get("first_k_dense_replace") or 0)
            dense.update(range(first_dense))
            step = int(cfg.get("decoder_sparse_step") or cfg.get("moe_layer_freq") or 1)
            if step > 1:
                dense.update(i for i in range(layers) if (i + 1) % step != 0)
            fields["dense_layers"] = tuple(sorted(i for i in dense if i < layers))

        # --- MLA (DeepSeek-V2/V3)
        if cfg.get("kv_lora_rank"):
            fields.update(
                kv_lora_rank=int(cfg["kv_lora_rank"]), q_lora_rank=int(cfg.get("q_lora_rank") or 0),
                qk_nope_head_dim=need("qk_nope_head_dim"), qk_rope_head_dim=need("qk_rope_head_dim"),
                v_head_dim=need("v_head_dim"),
            )
            fields["head_dim"] = fields["qk_nope_head_dim"] + fields["qk_rope_head_dim"]
            fields["num_kv_heads"] = heads  # MLA decompresses to per-head K/V; the cache is 1 latent

        # --- sliding window. Qwen2/Qwen3 configs carry a sliding_window that is off unless
        # use_sliding_window is true (vLLM ignores it then too); Mistral v0.1 uses it on all layers.
        window = cfg.get("sliding_window")
        enabled = window is not None and cfg.get("use_sliding_window", True) is not False
        if enabled and window is not None:
            layer_types = cfg.get("layer_types")
            if isinstance(layer_types, list) and len(layer_types) == layers:
                swl = tuple(i for i, t in enumerate(layer_types) if "sliding" in str(t))
            elif model_type in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe"):
                # Qwen: layers from max_window_layers on use the window.
                start = int(cfg.get("max_window_layers") or layers)
                swl = tuple(range(start, layers))
            else:
                swl = tuple(range(layers))
            if swl and int(window) < max_pos:
                fields["sliding_window"] = int(window)
                fields["sliding_window_layers"] = swl
        return cls(**fields)


class ParamBreakdown(BaseModel):
    """Parameter counts by role. `total` counts shared (tied) tensors once, like the published totals."""

    model_config = ConfigDict(frozen=True)

    embedding: int
    lm_head: int            # 0 when tied to the embedding
    attention: int          # all layers: q/k/v/o (+biases, q/k norms, MLA projections)
    kv_proj: int            # the k and v projections alone (replicated when TP > KV heads)
    dense_mlp: int          # dense MLP layers (all layers of a dense model)
    routed_experts: int     # all routed experts, all layers
    routed_expert_one: int  # one expert of one layer
    shared_experts: int
    router: int             # MoE gates (replicated on every TP rank in vLLM)
    norms: int
    total: int
    active: int             # per token: attention + dense + k routed experts + shared + router + emb + head + norms

    @property
    def linear_in_layers(self) -> int:
        """Parameters of the decoder-block matmuls (what AWQ/GPTQ/FP8/INT8 quantize)."""
        return self.attention + self.dense_mlp + self.routed_experts + self.shared_experts


def parameter_breakdown(spec: ModelSpec) -> ParamBreakdown:
    h, L = spec.hidden_size, spec.num_layers
    nq, nkv, d = spec.num_attention_heads, spec.num_kv_heads, spec.head_dim

    if spec.use_mla:
        qk_head = spec.qk_nope_head_dim + spec.qk_rope_head_dim
        if spec.q_lora_rank:
            q = h * spec.q_lora_rank + spec.q_lora_rank + spec.q_lora_rank * nq * qk_head
        else:
            q = h * nq * qk_head
        kv_a = h * (spec.kv_lora_rank + spec.qk_rope_head_dim) + spec.kv_lora_rank  # + its norm
        kv_b = spec.kv_lora_rank * nq * (spec.qk_nope_head_dim + spec.v_head_dim)
        o = nq * spec.v_head_dim * h
        attn_layer = q + kv_a + kv_b + o
        kv_layer = kv_a + kv_b
    else:
        q = h * nq * d
        kv_layer = 2 * h * nkv * d
        o = nq * d * h
        attn_layer = q + kv_layer + o
        if spec.qkv_bias:
            attn_layer += nq * d + 2 * nkv * d
        if spec.o_bias:
            attn_layer += h
        if spec.qk_norm:
            attn_layer += 2 * d

    gated = 3  # gate, up, down (SwiGLU) for every family we ship
    dense_one = gated * h * spec.intermediate_size
    n_dense = len(spec.dense_layers) if spec.is_moe else L
    expert_one = gated * h * spec.moe_intermediate_size if spec.is_moe else 0
    n_moe = spec.num_moe_layers
    routed = n_moe * spec.num_experts * expert_one
    shared = n_moe * gated * h * spec.shared_expert_intermediate_size
    router = n_moe * (h * spec.num_experts + (spec.num_experts if spec.router_bias else 0)
                      + (h if spec.shared_expert_gate else 0))

    embedding = spec.vocab_size * h
    lm_head = 0 if spec.tie_word_embeddings else spec.vocab_size * h
    norms = L * 2 * h + h
    attention = L * attn_layer
    total = embedding + lm_head + attention + n_dense * dense_one + routed + shared + router + norms
    active = (embedding + lm_head + attention + n_dense * dense_one
              + n_moe * spec.num_experts_per_tok * expert_one + shared + router + norms)
    return ParamBreakdown(
        embedding=embedding, lm_head=lm_head, attention=attention, kv_proj=L * kv_layer,
        dense_mlp=n_dense * dense_one, routed_experts=routed, routed_expert_one=expert_one,
        shared_experts=shared, router=router, norms=norms, total=total, active=active,
    )
