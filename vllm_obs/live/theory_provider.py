"""Theory metrics for the sidecar: from the current engine start's facts to theory gauges.

`make_provider(model, model_config, gpu)` returns the function the state calls whenever an
engine start's facts change. It uses the same resolution as `vllm-obs analyze` (the join), so
the numbers agree with the analyze report; flags win over what the log says. It lives with the
sidecar, not in theory/, because theory is pure and imports nothing of the rest.
"""

from __future__ import annotations

from typing import Any

from vllm_obs.live.state import TheoryValues
from vllm_obs.theory.join import resolve_setup, theory_for_summary
from vllm_obs.theory.report import ServingConfig, roofline_for
from vllm_obs.theory.throughput import decode_step


def make_provider(model: str | None = None, model_config: str | None = None, gpu: str | None = None):
    def provide(facts: dict) -> TheoryValues | None:
        theory = theory_for_summary(facts, model=model, model_config=model_config, gpu=gpu)
        if theory is None:
            return None
        # Keyed by the theory's own names: the catalog says which metric shows which.
        values = {k: float(v) for k, v in theory.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return TheoryValues(values, _decode_ceiling(facts, theory, model, model_config, gpu))

    return provide


def _decode_ceiling(facts: dict, theory: dict, model, model_config, gpu):
    """tokens/s ceiling for `running` requests; their context is read from the KV usage when the
    stats line gives it (usage x capacity / running), else the report's typical context."""
    setup = resolve_setup(facts, model=model, model_config=model_config, gpu=gpu)
    if setup is None:
        return None
    spec, _name, gpu_spec, fields, _inputs = setup
    roofline = roofline_for(spec, gpu_spec, ServingConfig(**fields, model_weights_gib=facts.get("model_weights_gib")))
    if roofline is None:
        return None
    capacity = theory.get("kv_cache_tokens") or 0
    typical = int(theory.get("decode_context_tokens") or 2048)

    def ceiling(running: int, kv_usage_ratio: float | None = None) -> float:
        context = typical
        if kv_usage_ratio and capacity and running:
            context = max(1, int(kv_usage_ratio * capacity / running))
        return decode_step(roofline, running, context).tokens_per_second

    return ceiling
