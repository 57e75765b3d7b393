"""The one metric catalog: every metric vllm-obs exports, with its type, unit, help and labels.

Each entry also says what feeds it: a fact of the engine start (`fact`), a part of the latest
stats line (`stat`) or a theory value (`theory`), with the `scale` to the metric's base unit.
The collector and the export build every sample from this table, `docs/metrics.md` is generated
from it (`python -m vllm_obs.metrics.catalog > docs/metrics.md`), and the naming, docs, alert and
dashboard tests check against it: no other module writes a metric name. Names follow Prometheus' naming guide: the `vllm_obs_` prefix, base units in the
name (`_bytes`, `_seconds`, `_tokens`, `_ratio` for 0..1), `_total` on counters, no colons.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

GIB = float(1 << 30)
PCT = 0.01

# Labels on every per-engine gauge: where the log came from, the model it serves (served name,
# else model path), and the data-parallel engine index ("0" when not data parallel). Counters
# carry no `model`: a label that changes mid-life would change the series' identity (join
# vllm_obs_engine_info for it).
ENGINE_LABELS = ("source", "model", "engine")
COUNTER_ENGINE_LABELS = ("source", "engine")


@dataclass(frozen=True)
class Metric:
    name: str  # full exposed name; counters include the _total suffix
    type: str  # gauge | counter | info
    unit: str  # base unit word as in the name ("bytes", "seconds", "tokens", "ratio", "requests", "")
    help: str
    labels: tuple[str, ...] = ENGINE_LABELS
    group: str = "observed"  # observed | theory | self
    promql: str = ""  # a query that shows it well (written into the docs)
    fact: str = ""  # the engine start's fact that feeds it (fold/summary.py CONTRACT_KEYS)
    stat: str = ""  # the field of the latest stats line that feeds it (parse/records.py Stats)
    theory: str = ""  # the theory value that feeds it (theory/join.py)
    scale: float = 1.0  # to the metric's base unit (GiB -> bytes, % -> ratio)


METRICS: tuple[Metric, ...] = (
    # -- observed: startup facts (hold until the next engine start) ------------------------------
    Metric("vllm_obs_model_weights_bytes", "gauge", "bytes", "GPU memory the model weights took on one GPU, as vLLM logged it ('Model loading took X GiB').",
           promql="vllm_obs_model_weights_bytes / 2^30",
           fact="model_weights_gib", scale=GIB),
    Metric("vllm_obs_model_load_seconds", "gauge", "seconds", "Time vLLM took to load the model weights.",
           fact="model_load_seconds"),
    Metric("vllm_obs_gpu_memory_total_bytes", "gauge", "bytes", "Total memory of one GPU as torch reported it in vLLM's memory profile.",
           fact="total_gpu_memory_gib", scale=GIB),
    Metric("vllm_obs_gpu_memory_utilization_ratio", "gauge", "ratio", "The gpu_memory_utilization vLLM runs with (0..1).",
           fact="gpu_memory_utilization"),
    Metric("vllm_obs_kv_cache_memory_bytes", "gauge", "bytes", "KV cache budget per GPU vLLM computed at startup (can be negative when nothing is left).",
           promql="vllm_obs_kv_cache_memory_bytes / 2^30",
           fact="kv_cache_memory_gib", scale=GIB),
    Metric("vllm_obs_kv_cache_capacity_tokens", "gauge", "tokens", "Tokens the KV cache can hold ('GPU KV cache size', or GPU blocks x block size).",
           fact="kv_cache_tokens"),
    Metric("vllm_obs_kv_cache_gpu_blocks", "gauge", "", "KV cache blocks on the GPU.",
           fact="gpu_blocks"),
    Metric("vllm_obs_kv_cache_cpu_blocks", "gauge", "", "KV cache blocks of CPU swap space (V0).",
           fact="cpu_blocks"),
    Metric("vllm_obs_max_concurrency_requests", "gauge", "requests", "Requests of max_model_len tokens that fit in the KV cache at once, as vLLM logged it.",
           fact="max_concurrency"),
    Metric("vllm_obs_max_model_len_tokens", "gauge", "tokens", "The engine's max_model_len.",
           fact="max_model_len"),
    Metric("vllm_obs_cuda_graph_memory_bytes", "gauge", "bytes", "GPU memory CUDA graph capture took.",
           fact="cuda_graph_gib", scale=GIB),
    # -- observed: periodic stats (stale after the TTL: vLLM stops printing them when idle) ------
    Metric("vllm_obs_prompt_throughput_tokens_per_second", "gauge", "tokens_per_second", "Prompt (prefill) throughput from vLLM's last stats line.",
           stat="prompt_tps"),
    Metric("vllm_obs_generation_throughput_tokens_per_second", "gauge", "tokens_per_second", "Generation (decode) throughput from vLLM's last stats line.",
           promql="vllm_obs_generation_throughput_tokens_per_second / vllm_obs_theoretical_generation_throughput_tokens_per_second",
           stat="generation_tps"),
    Metric("vllm_obs_requests_running", "gauge", "requests", "Requests running in the engine (last stats line).",
           stat="running"),
    Metric("vllm_obs_requests_waiting", "gauge", "requests", "Requests waiting for the engine (V1 Waiting, V0 Pending).",
           stat="waiting"),
    Metric("vllm_obs_requests_swapped", "gauge", "requests", "Requests swapped to CPU memory (V0 only).",
           stat="swapped"),
    Metric("vllm_obs_kv_cache_usage_ratio", "gauge", "ratio", "Fraction of the GPU KV cache in use (last stats line), 0..1.",
           promql="max_over_time(vllm_obs_kv_cache_usage_ratio[5m]) > 0.9",
           stat="gpu_kv_usage_pct", scale=PCT),
    Metric("vllm_obs_cpu_kv_cache_usage_ratio", "gauge", "ratio", "Fraction of the CPU swap KV cache in use (V0), 0..1.",
           stat="cpu_kv_usage_pct", scale=PCT),
    Metric("vllm_obs_prefix_cache_hit_ratio", "gauge", "ratio", "Prefix cache hit rate over vLLM's last stats interval, 0..1.",
           stat="prefix_cache_hit_pct", scale=PCT),
    Metric("vllm_obs_stats_lines_total", "counter", "", "Periodic stats lines read for this engine.",
           labels=COUNTER_ENGINE_LABELS, promql="rate(vllm_obs_stats_lines_total[5m])"),
    # -- observed: events (counters born at 0 once their labels are known: increase() sees the first)
    Metric("vllm_obs_preemptions_total", "counter", "",
           "Requests preempted for lack of KV cache space, as the log shows them: V0 prints them (a warning with the "
           "cumulative count); vLLM V1 never prints its stats line's 'Preemptions' part (it resets the interval counters "
           "before testing them), so on V1 this stays 0: use vLLM's own vllm:num_preemptions_total, or KV usage with "
           "Waiting (see the alerts).",
           labels=COUNTER_ENGINE_LABELS, promql="increase(vllm_obs_preemptions_total[5m])"),
    Metric("vllm_obs_errors_total", "counter", "",
           "Failures and warnings by kind: insufficient_kv_cache, no_kv_cache_memory, cuda_oom, engine_startup_failed, "
           "engine_fatal, worker_died, preemption. Every kind is exported at 0 from the source's first line, so increase() "
           "sees the first failure; a clean shutdown (and the traceback it prints) is not a failure.",
           labels=COUNTER_ENGINE_LABELS + ("kind",), promql="sum by (source, kind) (increase(vllm_obs_errors_total[10m]))"),
    Metric("vllm_obs_engine_starts_total", "counter", "", "Engine starts seen in the log (a container restart, or a new engine in the same stream).",
           labels=("source",), promql="increase(vllm_obs_engine_starts_total[1h])"),
    Metric("vllm_obs_engine_state", "gauge", "",
           "1 for the state the engine is in, 0 for the others: starting (startup lines, not serving yet), serving "
           "(stats or access lines), stopped (a clean shutdown was logged), failed (a startup failure or a fatal error).",
           labels=("source", "state"), promql='vllm_obs_engine_state{state="failed"} == 1'),
    Metric("vllm_obs_http_requests_total", "counter", "",
           "HTTP requests from uvicorn's access lines by method, status and path (methods outside the HTTP set, statuses "
           "outside 100-599 and paths outside an allow-list are 'other').",
           labels=("source", "method", "status", "path"), promql="sum by (status) (rate(vllm_obs_http_requests_total[5m]))"),
    Metric("vllm_obs_http_responses_total", "counter", "",
           "HTTP responses by status class (1xx..5xx), every class exported at 0 from the start: the one to alert on.",
           labels=("source", "code_class"), promql='sum by (source) (rate(vllm_obs_http_responses_total{code_class="5xx"}[5m]))'),
    Metric("vllm_obs_engine_info", "info", "", "The engine's configuration as labels (value 1); join it for the model: "
           "`... * on (source, engine) group_left (model) vllm_obs_engine_info`.",
           labels=ENGINE_LABELS + ("version", "engine_version", "dtype", "quantization", "kv_cache_dtype", "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size")),
    # -- theory (when the model and GPU are known) -----------------------------------------------
    Metric("vllm_obs_theoretical_model_weights_bytes", "gauge", "bytes", "Weight memory per GPU computed from the model's config and dtype.", group="theory",
           promql="vllm_obs_model_weights_bytes / vllm_obs_theoretical_model_weights_bytes",
           theory="model_weights_gib_per_gpu", scale=GIB),
    Metric("vllm_obs_theoretical_kv_cache_bytes_per_token", "gauge", "bytes", "KV cache bytes per token per GPU (2 x layers x KV heads per rank x head_dim x dtype bytes).", group="theory",
           theory="kv_cache_bytes_per_token_per_gpu"),
    Metric("vllm_obs_theoretical_kv_cache_capacity_tokens", "gauge", "tokens", "KV capacity vLLM's block arithmetic gives for the logged KV budget.", group="theory",
           promql="vllm_obs_kv_cache_capacity_tokens / vllm_obs_theoretical_kv_cache_capacity_tokens",
           theory="kv_cache_tokens"),
    Metric("vllm_obs_theoretical_max_concurrency_requests", "gauge", "requests", "Max concurrency at max_model_len from vLLM's block arithmetic.", group="theory",
           theory="max_concurrency"),
    Metric("vllm_obs_theoretical_generation_throughput_tokens_per_second", "gauge", "tokens_per_second", "Decode throughput ceiling (roofline) for the last stats interval: at the larger of its end running count and its average running (throughput / per-request rate), so the observed rate stays below it.", group="theory",
           theory="decode_ceiling"),
    Metric("vllm_obs_estimated_generation_throughput_tokens_per_second", "gauge", "tokens_per_second", "Calibrated generation-throughput estimate (docs/theory.md) for the running count of the last stats line.", group="theory",
           promql="vllm_obs_generation_throughput_tokens_per_second / vllm_obs_estimated_generation_throughput_tokens_per_second",
           theory="decode_estimate"),
    Metric("vllm_obs_theoretical_prompt_throughput_tokens_per_second", "gauge", "tokens_per_second", "Prefill throughput ceiling (compute roofline).", group="theory",
           theory="prefill_tokens_per_second_ceiling"),
    # -- self -------------------------------------------------------------------------------------
    Metric("vllm_obs_log_lines_total", "counter", "", "Log lines read, by result: matched (a vLLM line vllm-obs understands), unmatched, error (the parser failed on it).",
           labels=("source", "result"), group="self", promql="sum by (result) (rate(vllm_obs_log_lines_total[5m]))"),
    Metric("vllm_obs_last_log_line_timestamp_seconds", "gauge", "seconds", "Unix time the last log line was read from the source.",
           labels=("source",), group="self", promql="time() - vllm_obs_last_log_line_timestamp_seconds"),
    Metric("vllm_obs_source_up", "gauge", "", "1 while the source (container, file) is being followed, 0 while it is missing, unreadable, vanished or unreachable (see vllm_obs_source_down_reason).",
           labels=("source",), group="self"),
    Metric("vllm_obs_source_reconnects_total", "counter", "", "Times the sidecar re-attached to a source (container restart, file rotation, daemon back).",
           labels=("source",), group="self"),
    Metric("vllm_obs_source_down_reason", "gauge", "", "1 with the reason while a source is down: missing, unreadable, vanished (files), container_<status> (a container not running), docker_daemon_unreachable. The whole reason is in the sidecar's log.",
           labels=("source", "reason"), group="self"),
    Metric("vllm_obs_pipeline_errors_total", "counter", "", "Batches of lines the pipeline failed on (counted and logged; the pipeline goes on).",
           labels=(), group="self", promql="increase(vllm_obs_pipeline_errors_total[10m]) > 0"),
    Metric("vllm_obs_series_dropped_total", "counter", "",
           "Series kept out to bound cardinality: engine labels beyond the cap of 64 per source (their samples go to "
           "engine=\"other\"), and sources forgotten after they vanished (--forget-after).",
           labels=(), group="self", promql="increase(vllm_obs_series_dropped_total[1h]) > 0"),
    Metric("vllm_obs_build_info", "info", "", "vllm-obs build information (value 1).", labels=("version", "python_version"), group="self"),
)

BY_NAME = {m.name: m for m in METRICS}


class _Names:
    """Metric names as attributes (`NAMES.log_lines_total`): code names a metric through the
    catalog, never by a string literal of its own."""

    def __getattr__(self, short: str) -> str:
        name = "vllm_obs_" + short
        if name not in BY_NAME:
            raise AttributeError(f"no metric {name} in the catalog")
        setattr(self, short, name)  # looked up once: the collector names ~50 metrics per scrape
        return name


NAMES = _Names()
FACT_METRICS = tuple(m for m in METRICS if m.fact)
STAT_METRICS = tuple(m for m in METRICS if m.stat)
THEORY_METRICS = tuple(m for m in METRICS if m.theory and not m.theory.startswith("decode_"))
DECODE_CEILING = next(m for m in METRICS if m.theory == "decode_ceiling")
DECODE_ESTIMATE = next(m for m in METRICS if m.theory == "decode_estimate")
# The closed label sets: exported at 0 before the first event.
ERROR_KINDS = ("insufficient_kv_cache", "no_kv_cache_memory", "cuda_oom", "engine_startup_failed", "engine_fatal", "worker_died", "preemption")
HTTP_CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def family_name(metric: Metric) -> str:
    """The family name prometheus_client and OpenMetrics want: counters without `_total`, info
    metrics without `_info` (the exposition adds them back)."""
    if metric.type == "counter":
        return metric.name.removesuffix("_total")
    if metric.type == "info":
        return metric.name.removesuffix("_info")
    return metric.name


def exposed_names(metric: Metric) -> tuple[str, ...]:
    """Series names Prometheus will see for a metric (info metrics get `_info`)."""
    if metric.type == "info":
        return (family_name(metric) + "_info",)
    return (metric.name,)


def render_markdown() -> str:
    lines = [
        "# Metrics",
        "",
        "Generated from `vllm_obs/metrics/catalog.py` (`python -m vllm_obs.metrics.catalog > docs/metrics.md`); a test keeps them equal.",
        "",
        "Startup facts hold until the next engine start. Periodic stats go stale: vLLM stops printing its stats "
        "line when idle, so the sidecar drops those gauges after `--stats-ttl` seconds without a stats line "
        "(\"no line\" means idle, not \"last value forever\"). Counters never decrease.",
        "",
    ]
    for group, title in (("observed", "Observed (from the log)"), ("theory", "Theory (from model config and GPU)"), ("self", "The exporter itself")):
        lines += [f"## {title}", "", "| name | type | labels | help |", "|---|---|---|---|"]
        for m in METRICS:
            if m.group == group:
                help_text = m.help + (f" Query: `{m.promql}`" if m.promql else "")
                lines.append(f"| `{m.name}` | {m.type} | {', '.join(m.labels)} | {help_text} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
