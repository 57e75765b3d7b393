"""The constructed samples respect the roofline: no stats line decodes faster per running
request than the ceiling the theory (the one `vllm-obs plan` prints) gives for the model and the
GPU the sample claims, at the context its KV usage implies."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_obs.archive.analyze import analyze_paths
from vllm_obs.fold.facts import theory_inputs
from vllm_obs.live.theory_provider import make_provider

CONSTRUCTED = Path(__file__).resolve().parent.parent / "samples" / "constructed"
# The card each sample's name claims (its synth.py Deployment), as the GPU catalog names it.
GPU_OF = {"a100": "A100-80GB-SXM", "2xa100": "A100-80GB-SXM", "h100": "H100-SXM", "l40s": "L40S"}
# The synth.py samples (their name starts with the card); the hand-written format samples of
# samples/constructed/families/ claim "an H100-like GPU" (their README) and are checked on it.
SAMPLES = sorted(p for p in CONSTRUCTED.glob("*/*.log") if p.parent.name != "families")
FAMILIES = sorted((CONSTRUCTED / "families").glob("*.log"))


def test_every_constructed_sample_is_checked() -> None:
    assert len(SAMPLES) == 8 and all(p.name.split("-")[0] in GPU_OF for p in SAMPLES)
    assert len(FAMILIES) >= 3


def test_the_family_samples_stats_stay_under_the_h100_roofline() -> None:
    checked = 0
    for log in FAMILIES:
        summary, problems = analyze_paths([str(log)], year=2026)
        assert not problems
        provider = make_provider(gpu="H100-SXM")
        for start in summary["starts"]:
            theory = provider(theory_inputs(start, start.get("details", {})))
            for s in start["stats"]:
                if not s.get("running") or not s.get("generation_tps"):
                    continue
                assert theory is not None and theory.decode_tokens_per_second is not None, f"no theory for {log.name}"
                limit = theory.decode_tokens_per_second(int(s["running"]), (s.get("gpu_kv_usage_pct") or 0) / 100)
                assert s["generation_tps"] <= limit, f"{log.name}: {s['generation_tps']} tokens/s above {limit:.1f}"
                checked += 1
    assert checked >= 3


@pytest.mark.parametrize("log", SAMPLES, ids=[f"{p.parent.name}/{p.name}" for p in SAMPLES])
def test_decode_rates_stay_under_the_roofline(log: Path) -> None:
    gpu = GPU_OF[log.name.split("-")[0]]
    summary, problems = analyze_paths([str(log)], year=2026)
    assert not problems
    provider = make_provider(gpu=gpu)
    checked = 0
    for start in summary["starts"]:
        theory = provider(theory_inputs(start, start.get("details", {})))
        assert theory is not None and theory.decode_tokens_per_second is not None, f"no theory for {log.name} on {gpu}"
        ceiling = theory.decode_tokens_per_second
        for s in start["stats"]:
            if not s.get("running") or not s.get("generation_tps"):
                continue
            limit = ceiling(int(s["running"]), (s.get("gpu_kv_usage_pct") or 0) / 100)
            assert s["generation_tps"] <= limit, (
                f"{log.name} {s.get('time')}: {s['generation_tps']} tokens/s with {s['running']} running "
                f"at {s.get('gpu_kv_usage_pct')}% KV is above the {gpu} roofline ({limit:.1f} tokens/s)"
            )
            checked += 1
    assert checked >= 20  # the ramp, the plateau and the drain were all compared
