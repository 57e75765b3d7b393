"""The sidecar state's rules, on real-format lines, with an injected clock."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client import generate_latest

from logtools import days_later

from vllm_obs.metrics.collector import StateCollector
from vllm_obs.parse.parser import LineParser
from vllm_obs.ingest.reader import iter_lines
from vllm_obs.live.state import State

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "real-logs"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def feed(state: State, source: str, lines) -> None:
    parser = LineParser(source)
    parser.scan(list(lines), lambda c, r: state.apply(source, c, r), lambda counts: state.add_http_counts(source, counts))
    state.add_line_counts(source, parser.counts)


def scrape(state: State) -> dict[tuple[str, frozenset], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state))
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples, name, **labels):
    matches = [v for (n, ls), v in samples.items() if n == name and all((k, v2) in ls for k, v2 in labels.items())]
    return matches[0] if matches else None


def test_stats_go_stale_and_startup_facts_stay() -> None:
    clock = Clock()
    state = State(stats_ttl_seconds=30, monotonic=clock)
    feed(state, "s", iter_lines(str(SAMPLES / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log")))
    samples = scrape(state)
    assert value(samples, "vllm_obs_requests_running", source="s") == 0
    assert value(samples, "vllm_obs_kv_cache_capacity_tokens", source="s") == 395712
    clock.now += 31  # vLLM printed no stats line for longer than the TTL: idle
    samples = scrape(state)
    assert value(samples, "vllm_obs_requests_running", source="s") is None
    assert value(samples, "vllm_obs_kv_cache_usage_ratio", source="s") is None
    assert value(samples, "vllm_obs_kv_cache_capacity_tokens", source="s") == 395712
    assert value(samples, "vllm_obs_stats_lines_total", source="s") == 15


def test_v0_preemptions_follow_the_cumulative_count_and_swap_stats() -> None:
    state = State()
    feed(state, "v0", iter_lines(str(SAMPLES / "029-v050-tqdm-glued-stats-swap-preemption" / "input.log")))
    samples = scrape(state)
    assert value(samples, "vllm_obs_preemptions_total", source="v0") == 151
    assert value(samples, "vllm_obs_errors_total", source="v0", kind="preemption") == 1
    assert value(samples, "vllm_obs_requests_swapped", source="v0") == 137
    assert value(samples, "vllm_obs_requests_waiting", source="v0") == 9779
    assert value(samples, "vllm_obs_cpu_kv_cache_usage_ratio", source="v0") == 0.779


def test_restart_inside_one_stream_is_a_new_start_and_counters_never_decrease() -> None:
    state = State()
    log = list(iter_lines(str(SAMPLES / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log")))
    feed(state, "s", log)
    first = scrape(state)
    # The same server started again in the same stream, a day later (a log never goes back in
    # time: an earlier stamp would be an excerpt pasted out of order, not a restart).
    later = [days_later(line, 1) for line in log]
    assert later != log
    feed(state, "s", later)
    second = scrape(state)
    assert value(first, "vllm_obs_engine_starts_total", source="s") == 1
    assert value(second, "vllm_obs_engine_starts_total", source="s") == 2
    for key, v in first.items():
        if key[0].endswith("_total"):
            assert second[key] >= v, key
    assert value(second, "vllm_obs_http_requests_total", source="s", path="/v1/completions") == 2 * 2451


def test_errors_by_kind_and_unknown_paths_are_other() -> None:
    state = State()
    feed(
        state,
        "e",
        [
            "ERROR 03-13 09:00:43 [core.py:330] torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB.",
            "CRITICAL 03-13 09:00:43 [core_client.py:260] Got fatal signal from worker processes, shutting down.",
            'INFO:     1.2.3.4:5 - "GET /secret/abc123 HTTP/1.1" 404 Not Found',
        ],
    )
    samples = scrape(state)
    assert value(samples, "vllm_obs_errors_total", kind="cuda_oom") == 1
    assert value(samples, "vllm_obs_errors_total", kind="engine_fatal") == 1
    assert value(samples, "vllm_obs_http_requests_total", path="other", status="404") == 1


def test_a_failure_echoed_by_every_rank_counts_once() -> None:
    state = State()
    oom = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB. GPU 0 has a total capacity of 7.75 GiB of which 1.17 GiB is free."
    lines = [f"(Worker_TP{rank} pid={10 + rank}) ERROR 03-13 09:00:43 [core.py:330] {oom}" for rank in range(4)] + [oom]
    feed(state, "tp", lines)
    assert value(scrape(state), "vllm_obs_errors_total", source="tp", kind="cuda_oom") == 1
    # The sidecar's fold keeps no error list: memory does not grow with the warnings.
    assert state._sources["tp"].fold.current.errors == []


def test_a_clean_stop_traceback_is_not_an_error_and_a_crash_after_a_stop_sequence_is() -> None:
    # The real 0.26.0 stop sequence (case 073) followed by the shutdown traceback vLLM can print.
    real = (SAMPLES / "073-realgpu-h200-v0260-autofit-full-length-fits" / "input.log").read_text().splitlines()
    traceback = "(APIServer pid=711) ERROR 12-01 08:26:57 [async_llm.py:480] AsyncLLM output_handler failed."
    state = State()
    feed(state, "stop", real[:-4] + [traceback])
    assert value(scrape(state), "vllm_obs_errors_total", source="stop", kind="engine_fatal") in (None, 0)
    # The same traceback without a shutdown sequence before it is a crash.
    crash = State()
    feed(crash, "crash", [line for line in real if "[shutdown]" not in line and "Shutting down" not in line and "shutdown" not in line] + [traceback])
    assert value(scrape(crash), "vllm_obs_errors_total", source="crash", kind="engine_fatal") == 1
