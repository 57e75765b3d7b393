"""What vLLM measures at start-up and a plan cannot know: activation peak, non-torch memory,
CUDA-graph memory, each as a low / expected / high range.

The ranges are calibrated on real logs (docs/theory.md, "Ranges"):
- case 060, H100, vLLM 0.27.1, Qwen3-8B shapes, max_num_batched_tokens 8192: transient peak
  0.75 GiB, consumed beyond weights ("non-torch" in the consumed accounting) 16.17 - 15.27 = 0.90
  GiB, graphs 0.54 GiB (not subtracted: V2 runner).
- case 073, H200, vLLM 0.26.0, same shapes and batch: activation 1.29 GiB on a cold compile, 0.78
  GiB warm (the 0.1396-utilization run of issue 13), non-torch 0.22 GiB, graphs 1.00 GiB.
- earlier single-GPU logs (0.6-0.11): non-torch 0.03-0.16 GiB; TP=4: 0.20 GiB.
The activation formula (capacity.estimate_activation_peak_bytes: 1.49 GiB for that case) is the
scale; the factors below place the logged values inside [low, high]. A logged or given value
replaces its range by that single value.
"""

from __future__ import annotations

from dataclasses import dataclass

from .dtypes import GiB
from .versions import CONSUMED

# Activation peak as a fraction of the formula (low, expected, high), by era:
# - V0 and V1 before 0.10 ("legacy"): logged / formula = 0.56 (case 008), 1.13 (006, Llama-3-8B),
#   2.0 (022, an AWQ model at 4,096 tokens).
# - V1 0.10-0.26 ("split"): 0.52 (0.78/1.49, warm 0.26.0) and 0.87 (1.29/1.49, cold compile).
# - V1 since 0.27 ("consumed", the transient headroom only): 0.50 (0.75/1.49, case 060).
# MoE models: the high end is 6x in every era (scenario 4, Qwen3-30B-A3B at TP 4 on 0.8.5:
# 1.40 GiB logged, 5.6x the formula); the formula models fused-MoE workspaces worst.
ACTIVATION_FACTORS = {"legacy": (0.5, 1.0, 2.0), "split": (0.5, 0.7, 1.0), "consumed": (0.45, 0.5, 0.9)}
MOE_ACTIVATION_HIGH_FACTOR = 6.0
# Non-torch GiB (single GPU, with TP/PP peers). Under the consumed accounting (>= 0.27) it holds
# the runner's persistent buffers too: 0.90 GiB logged in case 060.
NON_TORCH_GIB = {
    ("split", False): (0.05, 0.2, 0.3), ("split", True): (0.15, 0.3, 0.5),
    ("consumed", False): (0.6, 0.9, 1.1), ("consumed", True): (0.7, 1.0, 1.4),
}
# CUDA-graph pool per decoder layer (51 capture sizes, FULL_AND_PIECEWISE): 15.4 MiB (0.54 GiB /
# 36 layers, H100 0.27.1), 28.4 MiB (1.00 GiB / 36, H200 0.26.0).
GRAPH_MIB_PER_LAYER = (12.0, 20.0, 30.0)


@dataclass(frozen=True)
class Term:
    name: str            # activation_peak / non_torch / cuda_graphs
    low_bytes: float
    expected_bytes: float
    high_bytes: float
    source: str          # "estimate" / "flag" / "log"
    why: str             # what it depends on

    @property
    def spread_bytes(self) -> float:
        return self.high_bytes - self.low_bytes

    def as_dict(self) -> dict:
        return {"name": self.name, "low_gib": round(self.low_bytes / GiB, 3),
                "expected_gib": round(self.expected_bytes / GiB, 3),
                "high_gib": round(self.high_bytes / GiB, 3), "source": self.source, "depends_on": self.why}


def _fixed(name: str, value_bytes: float, source: str, why: str) -> Term:
    return Term(name, value_bytes, value_bytes, value_bytes, source, why)


def activation_term(formula_bytes: float, era: str, given_gib: float | None, source: str = "flag",
                    is_moe: bool = False) -> Term:
    """`era`: "legacy" (V0, V1 < 0.10), "split" (V1 0.10-0.26) or "consumed" (V1 >= 0.27)."""
    why = ("the profiling forward pass of max_num_batched_tokens tokens: kernels, torch.compile "
           "(a cold compile peaks higher than a cached one)" + (", fused-MoE workspaces" if is_moe else "")
           + " and the sampler")
    if given_gib is not None:
        return _fixed("activation_peak", given_gib * GiB, source, why)
    lo, ex, hi = ACTIVATION_FACTORS[era]
    if is_moe:
        hi = MOE_ACTIVATION_HIGH_FACTOR
    return Term("activation_peak", lo * formula_bytes, ex * formula_bytes, hi * formula_bytes, "estimate", why)


def non_torch_term(accounting: str, multi_gpu: bool, given_gib: float | None, source: str = "flag") -> Term:
    why = ("CUDA context, cuBLAS/NCCL workspaces, custom all-reduce buffers"
           + ("; since 0.27 also the runner's persistent buffers" if accounting == CONSUMED else ""))
    if given_gib is not None:
        return _fixed("non_torch", given_gib * GiB, source, why)
    lo, ex, hi = NON_TORCH_GIB[(CONSUMED if accounting == CONSUMED else "split", multi_gpu)]
    return Term("non_torch", lo * GiB, ex * GiB, hi * GiB, "estimate", why)


def graph_term(num_layers: int, subtracted: bool, given_gib: float | None, source: str = "flag") -> Term:
    why = "capture sizes, cudagraph_mode and the attention backend"
    if not subtracted:
        return _fixed("cuda_graphs", 0.0, "not subtracted by this vLLM", why)
    if given_gib is not None:
        return _fixed("cuda_graphs", given_gib * GiB, source, why)
    lo, ex, hi = (num_layers * mib * (1 << 20) for mib in GRAPH_MIB_PER_LAYER)
    return Term("cuda_graphs", lo, ex, hi, "estimate", why)


def graph_estimate_bytes(num_layers: int) -> float:
    """The expected graph pool, whether or not vLLM subtracts it (for comparisons with a log)."""
    return num_layers * GRAPH_MIB_PER_LAYER[1] * (1 << 20)


def dominant(terms: list[Term]) -> Term | None:
    """The term whose uncertainty moves the KV capacity most (None when all are known)."""
    open_terms = [t for t in terms if t.spread_bytes > 0]
    return max(open_terms, key=lambda t: t.spread_bytes) if open_terms else None
