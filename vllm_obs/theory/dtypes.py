"""Bytes per weight and per KV element, and what each quantization scheme stores.

Pure data and arithmetic; no I/O. Every figure here is about *storage* (what occupies GPU memory
and what a decode step must read), not about compute precision, except `compute_precision`.
"""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1 << 30

# torch dtype names and the aliases vLLM's --dtype accepts (vllm/config/model.py _STR_DTYPE_TO_TORCH_DTYPE).
_DTYPE_BYTES = {
    "float16": 2, "half": 2, "fp16": 2,
    "bfloat16": 2, "bf16": 2,
    "float32": 4, "float": 4, "fp32": 4,
}
_CANONICAL = {"half": "float16", "fp16": "float16", "bf16": "bfloat16", "float": "float32", "fp32": "float32"}


class DtypeError(ValueError):
    """An unknown dtype / quantization / KV cache dtype name."""


def canonical_dtype(name: str) -> str:
    key = name.strip().lower().removeprefix("torch.")
    if key not in _DTYPE_BYTES:
        raise DtypeError(f"unknown dtype {name!r}; use one of auto, bfloat16, float16, float32")
    return _CANONICAL.get(key, key)


def resolve_model_dtype(flag: str | None, config_torch_dtype: str | None) -> str:
    """What vLLM runs the unquantized tensors in for `--dtype flag` (default "auto").

    vLLM (config/model.py `_get_and_verify_dtype`, 0.8.5 and 0.27.1): "auto" takes the config's
    torch_dtype, except that float32 checkpoints are served in 16 bits (bfloat16 on current
    versions). We do the same.
    """
    if flag and flag.strip().lower() != "auto":
        return canonical_dtype(flag)
    if not config_torch_dtype:
        return "bfloat16"
    dtype = canonical_dtype(config_torch_dtype)
    return "bfloat16" if dtype == "float32" else dtype


def dtype_bytes(name: str) -> int:
    return _DTYPE_BYTES[canonical_dtype(name)]


# --kv-cache-dtype values (vllm/config/cache.py CacheDType). "auto" = the model dtype.
_KV_BYTES = {"fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "fp8_inc": 1, "fp8_ds_mla": 1,
             "bfloat16": 2, "float16": 2, "half": 2, "float32": 4}


def kv_cache_dtype_bytes(kv_cache_dtype: str | None, model_dtype: str) -> int:
    key = (kv_cache_dtype or "auto").strip().lower()
    if key == "auto":
        return dtype_bytes(model_dtype)
    if key not in _KV_BYTES:
        raise DtypeError(
            f"unknown --kv-cache-dtype {kv_cache_dtype!r}; use auto, fp8, fp8_e4m3 or fp8_e5m2")
    return _KV_BYTES[key]


@dataclass(frozen=True)
class Quantization:
    """How the linear layers of the decoder blocks are stored.

    bytes per quantized parameter = bits/8 + (scale_bytes + zero_bits/8) / group_size.
    Embeddings, lm_head, norms and MoE router gates stay in the model dtype (vLLM builds them
    unquantized for AWQ/GPTQ/FP8/INT8 checkpoints of the families we ship).
    """

    name: str
    weight_bits: int
    group_size: int | None = None      # None: per-tensor/per-channel scales, negligible
    scale_bytes: float = 0.0           # per group
    zero_bits: int = 0                 # per group
    compute: str = "fp16"              # tensor-core path used by the matmuls: fp16 | fp8 | int8

    def bytes_per_param(self) -> float:
        extra = 0.0
        if self.group_size:
            extra = (self.scale_bytes + self.zero_bits / 8) / self.group_size
        return self.weight_bits / 8 + extra


def _int4(name: str, group_size: int = 128) -> Quantization:
    # AWQ: qweight int32 (8 x 4-bit), qzeros int32 (8 x 4-bit zeros per group), scales fp16 per group.
    # GPTQ stores the same plus a g_idx int32 per input row (negligible).
    # Compute stays fp16 (weights are dequantized in the Marlin/AWQ kernels: W4A16).
    return Quantization(name, 4, group_size, 2.0, 4, "fp16")


def _int8_w8a16(name: str, group_size: int = 128) -> Quantization:
    return Quantization(name, 8, group_size, 2.0, 8, "fp16")


# Names as vLLM's --quantization accepts them (and as the config line prints them).
QUANTIZATIONS = {
    "awq": _int4("awq"), "awq_marlin": _int4("awq_marlin"),
    "gptq": _int4("gptq"), "gptq_marlin": _int4("gptq_marlin"), "int4": _int4("int4"),
    "gptq_int8": _int8_w8a16("gptq_int8"),
    "fp8": Quantization("fp8", 8, None, 0.0, 0, "fp8"),
    "fbgemm_fp8": Quantization("fbgemm_fp8", 8, None, 0.0, 0, "fp8"),
    "int8": Quantization("int8", 8, None, 0.0, 0, "int8"),
    "w8a8": Quantization("w8a8", 8, None, 0.0, 0, "int8"),
    "compressed-tensors": Quantization("compressed-tensors", 8, None, 0.0, 0, "int8"),
    "bitsandbytes": Quantization("bitsandbytes", 4, 64, 4.0, 0, "fp16"),
    # NVFP4 (modelopt): 4-bit values + one fp8 scale per 16.
    "modelopt": Quantization("modelopt", 4, 16, 1.0, 0, "fp16"),
    "nvfp4": Quantization("nvfp4", 4, 16, 1.0, 0, "fp16"),
}
QUANTIZATION_ALIASES = {"none": None, "": None, "null": None}


def resolve_quantization(flag: str | None, config_quant: dict | None = None) -> Quantization | None:
    """The scheme from `--quantization` or, if absent, from config.json's quantization_config."""
    if flag is not None:
        key = flag.strip().lower()
        if key in QUANTIZATION_ALIASES:
            return None
        if key not in QUANTIZATIONS:
            known = ", ".join(sorted(QUANTIZATIONS))
            raise DtypeError(f"unknown --quantization {flag!r}; known: {known}")
        base = QUANTIZATIONS[key]
        if config_quant and base.group_size and config_quant.get("group_size"):
            return _with_config(base, config_quant)
        return base
    if not config_quant:
        return None
    method = str(config_quant.get("quant_method", "")).lower()
    if method in ("awq", "gptq"):
        bits = int(config_quant.get("bits", config_quant.get("w_bit", 4)))
        base = _int4(method) if bits == 4 else _int8_w8a16(f"{method}_int{bits}")
        return _with_config(base, config_quant)
    if method in QUANTIZATIONS:
        return QUANTIZATIONS[method]
    if method == "compressed-tensors":
        return QUANTIZATIONS["compressed-tensors"]
    raise DtypeError(f"config.json has quantization_config.quant_method {method!r}, which this "
                     "tool does not size; pass --quantization to choose the closest scheme")


def _with_config(base: Quantization, cfg: dict) -> Quantization:
    group = cfg.get("group_size", cfg.get("q_group_size", base.group_size))
    if group in (-1, None):  # per-channel: one scale per output row
        group = None
    return Quantization(base.name, base.weight_bits, group, base.scale_bytes, base.zero_bits, base.compute)


def guess_quantization_from_name(model_id: str) -> str | None:
    """Quantized repos usually say so in their name (…-AWQ, …-GPTQ-Int4, …-FP8, …-w8a8)."""
    low = model_id.lower()
    for needle, scheme in (("awq", "awq"), ("gptq-int8", "gptq_int8"), ("gptq", "gptq"),
                           ("-fp8", "fp8"), ("w8a8", "w8a8"), ("-int8", "w8a8"),
                           ("nvfp4", "nvfp4"), ("-int4", "awq")):
        if needle in low:
            return scheme
    return None
