"""The sidecar's theory (provider.py) through the real State and Prometheus collector.

Issue 13: on a live server observed / ceiling reached 1.39, because the ceiling was computed for
the running count at the end of a 10 s interval while the throughput averaged it. The provider
takes the ceiling at the running count the interval must have had.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_state import feed, scrape, value
from vllm_obs.ingest.reader import iter_lines
from vllm_obs.live.state import State
from vllm_obs.live.theory_provider import make_provider

LOG = Path(__file__).resolve().parent.parent / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"
# vLLM 0.27.1's stats line format (loggers.py), as in case 060: an interval that averaged ~60
# running requests (6,000 tok/s) but ended with 8.
RAMP_DOWN = ("(APIServer pid=3022) INFO 11-21 16:29:13 [loggers.py:310] Engine 000: Avg prompt throughput: "
             "6200.0 tokens/s, Avg generation throughput: 6000.0 tokens/s, Running: 8 reqs, Waiting: 0 reqs, "
             "GPU KV cache usage: 0.8%, Prefix cache hit rate: 0.0%")
STEADY_8 = RAMP_DOWN.replace("6200.0", "1228.6").replace("6000.0", "1081.5")  # case 060's own line


def _state_with(last_line: str) -> State:
    state = State(theory_provider=make_provider(model="Qwen/Qwen3-8B", gpu="H100-SXM"))
    feed(state, "s", [*iter_lines(str(LOG)), last_line])
    return state


def test_ceiling_is_never_below_what_the_interval_produced():
    samples = scrape(_state_with(RAMP_DOWN))
    observed = value(samples, "vllm_obs_generation_throughput_tokens_per_second", source="s")
    ceiling = value(samples, "vllm_obs_theoretical_generation_throughput_tokens_per_second", source="s")
    assert observed == 6000.0
    assert ceiling is not None and observed / ceiling <= 1.0
    # The estimate beside it is for the line's own count (8): far below what the interval produced.
    estimate = value(samples, "vllm_obs_estimated_generation_throughput_tokens_per_second", source="s")
    assert 900 < estimate < 1300
    # What the end count alone gives (the old arithmetic) is below the observed rate.
    provider = make_provider(model="Qwen/Qwen3-8B", gpu="H100-SXM")
    assert value(samples, "vllm_obs_requests_running", source="s") == 8
    theory = provider({"vllm_version": "0.27.1", "max_model_len": 8192, "total_gpu_memory_gib": 79.18,
                       "kv_cache_memory_gib": 54.34, "model_weights_gib": 15.27})
    assert theory is not None and theory.decode_tokens_per_second(8, 0.008) < 6000.0


def test_steady_interval_keeps_the_end_count_and_the_estimate_is_close():
    samples = scrape(_state_with(STEADY_8))
    ceiling = value(samples, "vllm_obs_theoretical_generation_throughput_tokens_per_second", source="s")
    provider = make_provider(model="Qwen/Qwen3-8B", gpu="H100-SXM")
    theory = provider({"vllm_version": "0.27.1", "max_model_len": 8192, "total_gpu_memory_gib": 79.18,
                       "kv_cache_memory_gib": 54.34, "model_weights_gib": 15.27})
    decode = theory.decode_tokens_per_second
    assert ceiling == pytest.approx(decode(8, 0.008), rel=1e-6)  # 8 ran all along: no change
    assert 1081.5 / ceiling < 1.0
    # The calibrated estimate for 8 running is within 15 % of what vLLM printed.
    estimate = value(samples, "vllm_obs_estimated_generation_throughput_tokens_per_second", source="s")
    assert estimate == pytest.approx(1081.5, rel=0.15)
