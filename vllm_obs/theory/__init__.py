"""Theory: what a model on a GPU should give under vLLM (pure arithmetic over shipped data).

- models.py    ModelSpec from a Hugging Face config.json; parameter counts from shapes
- catalog.py   shipped configs (data/models), lookup by repo id / path basename (the only file I/O,
               with gpus.py)
- dtypes.py    bytes per weight / KV element, quantization schemes
- gpus.py      GpuSpec and data/gpus.json
- capacity.py  vLLM's KV arithmetic (blocks, tokens, concurrency, KV needed, budget)
- throughput.py roofline ceilings
- report.py    ServingConfig -> CapacityReport (the `plan --format json` contract)
- join.py      theory beside a logged summary (`analyze`)
"""

from .model_catalog import UnknownModelError, resolve_model
from .gpus import GpuSpec, UnknownGpuError, custom_gpu, find_gpu
from .join import theory_for_summary
from .models import ModelSpec, parameter_breakdown
from .sizing import CapacityReport, ServingConfig, build_report

__all__ = [
    "CapacityReport", "GpuSpec", "ModelSpec", "ServingConfig", "UnknownGpuError", "UnknownModelError",
    "build_report", "custom_gpu", "find_gpu", "parameter_breakdown", "resolve_model", "theory_for_summary",
]
