"""Theory for the sidecar: from the current engine start's facts to theory values.

`make_provider(model, model_config, gpu)` returns the function the state calls whenever an
engine start's facts change. It uses the same resolution as `vllm-obs analyze` (the join), so
the numbers agree with the analyze report; flags win over what the log says. It lives with the
sidecar, not in theory/, because theory is pure and imports nothing of the rest.
"""

from __future__ import annotations

from typing import Any

from vllm_obs.live.state import TheoryValues
from vllm_obs.theory.estimate import generation_estimate, interval_running
from vllm_obs.theory.join import resolve_setup, theory_for_summary
from vllm_obs.theory.sizing import ServingConfig, roofline_for
from vllm_obs.theory.throughput import RooflineInputs, decode_step


def make_provider(model: str | None = None, model_config: str | None = None, gpu: str | None = None) -> Any:
    def provide(facts: dict[str, Any]) -> TheoryValues | None:
        theory = theory_for_summary(facts, model=model, model_config=model_config, gpu=gpu)
        if theory is None:
            return None
        # Keyed by the theory's own names: the catalog says which metric shows which.
        values = {k: float(v) for k, v in theory.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return TheoryValues(values, _decode_ceiling(facts, theory, model, model_config, gpu))

    return provide


class DecodeTheory:
    """The decode ceiling for a stats interval, and the estimate beside it.

    `self(running, kv_usage_ratio, generation_tps, prompt_tps)` is the roofline ceiling at the
    running count the interval must have had (estimate.interval_running: its average, inferred as
    throughput / per-request rate, when above the line's end count), so observed / ceiling is
    never above 1 by our arithmetic. `estimate(...)` is the calibrated estimate (estimate.py) for
    the line's running count."""

    def __init__(self, roofline: RooflineInputs, capacity_tokens: int, typical_context: int, upper: int):
        self.roofline = roofline
        self.capacity_tokens = capacity_tokens
        self.typical_context = typical_context
        self.upper = upper

    def context(self, running: int, kv_usage_ratio: float | None) -> int:
        if kv_usage_ratio and self.capacity_tokens and running:
            return max(1, int(kv_usage_ratio * self.capacity_tokens / running))
        return self.typical_context

    @staticmethod
    def _prompt_ratio(generation_tps: float | None, prompt_tps: float | None) -> float:
        return (prompt_tps or 0.0) / generation_tps if generation_tps else 0.0

    def __call__(self, running: int, kv_usage_ratio: float | None = None, generation_tps: float | None = None,
                 prompt_tps: float | None = None) -> float:
        ctx = self.context(running, kv_usage_ratio)
        n, _why, _avg = interval_running(self.roofline, generation_tps, ctx, running,
                                         self._prompt_ratio(generation_tps, prompt_tps), self.upper)
        return decode_step(self.roofline, n, ctx).tokens_per_second

    def estimate(self, running: int, kv_usage_ratio: float | None = None, generation_tps: float | None = None,
                 prompt_tps: float | None = None) -> float:
        ctx = self.context(running, kv_usage_ratio)
        return generation_estimate(self.roofline, running, ctx, self._prompt_ratio(generation_tps, prompt_tps))


def _decode_ceiling(facts: dict, theory: dict, model, model_config, gpu) -> DecodeTheory | None:
    """Ceilings for the running batch; context from the KV usage when the stats line gives it
    (usage x capacity / running), else the report's typical context."""
    setup = resolve_setup(facts, model=model, model_config=model_config, gpu=gpu)
    if setup is None:
        return None
    spec, _name, gpu_spec, fields, _inputs = setup
    roofline = roofline_for(spec, gpu_spec, ServingConfig(**fields, model_weights_gib=facts.get("model_weights_gib")))
    if roofline is None:
        return None
    upper = int(theory.get("max_num_seqs") or 1024)
    return DecodeTheory(roofline, int(theory.get("kv_cache_tokens") or 0),
                        int(theory.get("decode_context_tokens") or 2048), upper)
