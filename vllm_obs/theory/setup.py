"""What a serving config resolves to under its vLLM release: the flags (ServingConfig), the
release's defaults applied to them (resolve), and the start-up overheads as ranges."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import capacity as cap
from . import overheads as oh
from .dtypes import Quantization, dtype_bytes, kv_cache_dtype_bytes, resolve_model_dtype, resolve_quantization
from .gpus import GpuSpec
from .models import ModelSpec
from .versions import AppliedRules, graphs_subtracted, rules_for, uses_v2_model_runner
from .versions import default_scheduler_limits as rules_scheduler_limits


class ServingConfig(BaseModel):
    """The vLLM flags that decide memory, plus what a log or the user measured."""

    model_config = ConfigDict(frozen=True)

    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    num_gpus: int | None = None
    max_model_len: int | None = None           # None: the model's max_position_embeddings (vLLM's default)
    gpu_memory_utilization: float | None = None  # None: the release's default (0.9, or 0.92 since 0.20)
    dtype: str = "auto"
    quantization: str | None = None
    kv_cache_dtype: str = "auto"
    block_size: int | None = None              # None: the release's default (16)
    kv_cache_memory_gib: float | None = None   # per-GPU KV budget as vLLM logged it
    gpu_memory_used_gib: float = 0.0           # held by other processes before vLLM starts
    model_weights_gib: float | None = None     # per GPU, as logged
    activation_peak_gib: float | None = None
    non_torch_memory_gib: float | None = None
    cuda_graph_gib: float | None = None
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    engine: str | None = None                  # "v0" / "v1"; None: the release's engine
    vllm_version: str | None = None            # None: the newest release versions.py knows
    v2_model_runner: bool | None = None        # None: the release's default for this model
    context_tokens: int | None = None          # context each running request holds, for decode ceilings
    bandwidth_efficiency: float | None = None
    matmul_efficiency: float | None = None
    prompt_tokens: int | None = None           # closed-loop workload for the throughput estimate
    output_tokens: int | None = None
    concurrency: tuple[int, ...] | None = None
    sources: dict[str, str] = Field(default_factory=dict)  # input name -> "log" / "flag" / "default"


class Problem(BaseModel):
    kind: str         # layout | weights_do_not_fit | kv_too_small | free_memory | max_model_len
    message: str
    suggestion: str | None = None


class Setup(BaseModel):
    """What a config resolves to under its vLLM release (shared by the report and the ceilings)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    applied: Any
    arithmetic: str
    model_dtype: str
    weight_dtype_bytes: int
    quant: Any
    kv_dtype_bytes: int
    max_model_len: int
    block_size: int
    utilization: float
    max_num_batched_tokens: int
    max_num_seqs: int
    v2_runner: bool
    graphs_subtracted: bool


def resolve(spec: ModelSpec, gpu: GpuSpec, cfg: ServingConfig) -> Setup:
    """Apply the release's rules and defaults to a config (raises versions.VersionError)."""
    version, version_src = cfg.vllm_version, cfg.sources.get("vllm_version", "flag")
    if version is None and cfg.engine == "v0":
        version, version_src = "0.7.3", "assumed from engine V0 (no version given)"  # the last V0-only release
    applied: AppliedRules = rules_for(version, version_src)
    rules = applied.rules
    model_dtype = resolve_model_dtype(cfg.dtype, spec.torch_dtype)
    wbytes = dtype_bytes(model_dtype)
    quant: Quantization | None = resolve_quantization(cfg.quantization, spec.quantization_config)
    if quant is not None and spec.quantization_config and cfg.dtype == "auto" and quant.weight_bits == 4:
        model_dtype, wbytes = "float16", 2  # AWQ/GPTQ kernels run fp16 (vLLM forces it)
    arithmetic = cap.arithmetic_for(cfg.engine, version)
    max_len = cfg.max_model_len or spec.max_position_embeddings
    mnbt_default, seqs_default = rules_scheduler_limits(rules, gpu.total_memory_gib or None, gpu.name)
    if arithmetic == cap.V0:
        mnbt_default, seqs_default = max(max_len, 2048), 256  # V0 without chunked prefill
    v2 = cfg.v2_model_runner
    if v2 is None:
        v2 = arithmetic == cap.V1 and uses_v2_model_runner(rules, spec.architectures, spec.is_moe, quant is not None)
    return Setup(
        applied=applied, arithmetic=arithmetic, model_dtype=model_dtype, weight_dtype_bytes=wbytes, quant=quant,
        kv_dtype_bytes=kv_cache_dtype_bytes(cfg.kv_cache_dtype, model_dtype), max_model_len=max_len,
        block_size=cfg.block_size or rules.default_block_size,
        utilization=cfg.gpu_memory_utilization or rules.default_gpu_memory_utilization,
        max_num_batched_tokens=cfg.max_num_batched_tokens or mnbt_default,
        max_num_seqs=cfg.max_num_seqs or seqs_default, v2_runner=v2,
        graphs_subtracted=graphs_subtracted(rules, v2) if arithmetic == cap.V1 else False)


def overhead_terms(spec: ModelSpec, cfg: ServingConfig, s: Setup, tp: int) -> list[oh.Term]:
    """Activation peak, non-torch and CUDA graphs for this setup, as ranges (a value given or
    logged collapses its range)."""
    src = cfg.sources
    formula = cap.estimate_activation_peak_bytes(spec, s.weight_dtype_bytes, tp, s.max_num_batched_tokens,
                                                 s.max_num_seqs)
    acc = s.applied.rules.accounting
    era = acc if s.arithmetic == cap.V1 else "legacy"
    return [
        oh.activation_term(formula, era, cfg.activation_peak_gib, src.get("activation_peak_gib", "flag"),
                           is_moe=spec.is_moe),
        oh.non_torch_term(acc, tp * cfg.pipeline_parallel_size > 1, cfg.non_torch_memory_gib,
                          src.get("non_torch_memory_gib", "flag")),
        oh.graph_term(spec.num_layers, s.graphs_subtracted, cfg.cuda_graph_gib, src.get("cuda_graph_gib", "flag")),
    ]
