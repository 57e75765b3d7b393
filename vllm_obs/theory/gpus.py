"""GpuSpec and the shipped GPU table (vllm_obs/data/gpus.json, one `source` per GPU)."""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, ConfigDict

# Achievable fraction of peak when a GPU has no measured one (cli99/llm-analysis README: <= 0.7).
DEFAULT_MATMUL_FRACTION = 0.7


class UnknownGpuError(LookupError):
    def __init__(self, name: str, known: list[str], close: list[str]):
        self.name = name
        close_txt = f" Did you mean {', '.join(close)}?" if close else ""
        super().__init__(
            f"unknown GPU {name!r}.{close_txt} Known: {', '.join(known)}. "
            "For another card pass --gpu-memory-gib X (the total memory vLLM logs as total_gpu_memory)."
        )


class GpuSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    aliases: tuple[str, ...] = ()
    architecture: str = ""
    memory_gb: float | None = None
    total_memory_gib: float
    total_memory_gib_source: str = ""
    memory_bandwidth_gb_s: float | None = None
    fp16_tflops_dense: float | None = None
    fp8_tflops_dense: float | None = None
    int8_tops_dense: float | None = None
    achievable_matmul_fraction: float | None = None
    source: str = ""
    confidence: str = ""
    notes: str | None = None

    @property
    def total_memory_bytes(self) -> int:
        return int(self.total_memory_gib * (1 << 30))

    def tensor_tflops(self, compute: str) -> float | None:
        """Dense peak for the matmul path a quantization uses (fp8/int8 fall back to fp16 where
        the card has no such units: Ampere runs FP8 checkpoints as W8A16 Marlin)."""
        if compute == "fp8" and self.fp8_tflops_dense:
            return self.fp8_tflops_dense
        if compute == "int8" and self.int8_tops_dense:
            return self.int8_tops_dense
        return self.fp16_tflops_dense

    @property
    def has_throughput_specs(self) -> bool:
        return bool(self.memory_bandwidth_gb_s and self.fp16_tflops_dense)


def custom_gpu(total_memory_gib: float, like: GpuSpec | None = None) -> GpuSpec:
    """A GPU known only by its memory (--gpu-memory-gib), optionally keeping a named card's speeds."""
    if like is not None:
        return like.model_copy(update={"total_memory_gib": total_memory_gib,
                                       "total_memory_gib_source": "--gpu-memory-gib"})
    return GpuSpec(name="custom GPU", total_memory_gib=total_memory_gib,
                   total_memory_gib_source="--gpu-memory-gib", source="user input")


def _norm(name: str) -> str:
    low = name.strip().lower().replace("_", "-").replace(" ", "-")
    low = re.sub(r"^(nvidia|amd|geforce)-", "", low)
    return low


@lru_cache(maxsize=1)
def load_gpus() -> dict[str, GpuSpec]:
    raw = json.loads((resources.files("vllm_obs") / "data" / "gpus.json").read_text(encoding="utf-8"))
    return {g["name"]: GpuSpec(**g) for g in raw["gpus"]}


def _index() -> dict[str, str]:
    idx: dict[str, str] = {}
    for name, spec in load_gpus().items():
        idx[_norm(name)] = name
        idx[_norm(name).replace("-", "")] = name
        for alias in spec.aliases:
            idx.setdefault(_norm(alias), name)
            idx.setdefault(_norm(alias).replace("-", ""), name)
    return idx


def gpu_names() -> list[str]:
    return list(load_gpus())


def find_gpu(name: str) -> GpuSpec:
    idx = _index()
    key = _norm(name)
    for candidate in (key, key.replace("-", "")):
        if candidate in idx:
            return load_gpus()[idx[candidate]]
    close = difflib.get_close_matches(key, list(idx), n=3, cutoff=0.6)
    close_names = list(dict.fromkeys(idx[c] for c in close))
    raise UnknownGpuError(name, gpu_names(), close_names)


def guess_gpu_from_total(total_memory_gib: float, tolerance_gib: float = 0.3) -> GpuSpec | None:
    """The shipped GPU whose measured total matches what a log printed (only unambiguous,
    measured matches: an estimate is not good enough to name a card)."""
    hits = [g for g in load_gpus().values()
            if "measured" in g.total_memory_gib_source
            and abs(g.total_memory_gib - total_memory_gib) <= tolerance_gib]
    return hits[0] if len(hits) == 1 else None
