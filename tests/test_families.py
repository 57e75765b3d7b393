"""Issue 10's message families, read back as values: each line in vLLM's own format (built from
the logger format strings of the release named), through the real parser and the real fold."""

from __future__ import annotations

from pathlib import Path

from vllm_obs.archive.analyze import analyze_paths
from vllm_obs.parse.parser import LineParser, file_engine_hint
from vllm_obs.parse.records import (
    CudaGraphMemory,
    DeviceMemoryReport,
    ErrorEvent,
    KvCacheBlocks,
    KvCacheSize,
    MemoryProfile,
    ModelInfo,
    Shutdown,
    Stats,
)

EC = "(EngineCore pid=1033) INFO 12-01 08:25:58 "


def parse(line: str):
    parser = LineParser()
    parsed = parser.feed(line)
    assert parser.counts["error"] == 0
    return [record for _, record in parsed]


def one(line: str):
    records = parse(line)
    assert len(records) == 1, records
    return records[0]


def test_the_032_device_word_and_host_offload_keep_the_tokens() -> None:
    host = one(EC + "[kv_cache_utils.py:2328] GPU + host KV cache size: 890,944 tokens, Maximum concurrency for 8,192 tokens per request: 108.76x")
    assert host == KvCacheSize(890944, "GPU", 108.76, 8192, True)
    xpu = one(EC + "[kv_cache_utils.py:1148] XPU KV cache size: 120,000 tokens, Maximum concurrency for 32,768 tokens per request: 3.66x")
    assert (xpu.kv_cache_tokens, xpu.device, xpu.host_offload) == (120000, "XPU", None)


def test_auto_fit_in_both_wordings() -> None:
    old = one(EC + "[kv_cache_utils.py:1986] Auto-fit max_model_len: reduced from 131072 to 81920 to fit in available GPU memory (9.37 GiB available for KV cache)")
    new = one(EC + "[kv_cache_planning.py:1405] Auto-fit max_model_len: reduced from 131072 to 81920 to fit in available KV cache memory (9.37 GiB GPU)")
    for record in (old, new):
        assert isinstance(record, ModelInfo)
        assert (record.auto_fit_max_model_len, record.auto_fit_from_max_model_len, record.auto_fit_kv_cache_memory_gib) == (81920, 131072, 9.37)
    fits = one(EC + "[kv_cache_utils.py:1977] Auto-fit max_model_len: full model context length 40960 fits in available GPU memory")
    assert (fits.auto_fit_max_model_len, fits.auto_fit_from_max_model_len) == (40960, 40960)


def test_cannot_auto_fit_is_a_kv_memory_failure() -> None:
    # A ValueError raised in kv_cache_utils.py 0.20-0.29 / kv_cache_planning.py 0.33: the engine does not start.
    record = one("(EngineCore pid=9) ERROR 12-01 08:25:58 [core.py:1] ValueError: Cannot auto-fit max_model_len: not enough GPU memory available to serve even a single token. Try increasing `gpu_memory_utilization`.")
    assert isinstance(record, ErrorEvent) and record.error_kind == "no_kv_cache_memory"


def test_kv_cache_memory_bytes_gives_the_kv_budget() -> None:
    record = one(EC + "[gpu_worker.py:351] Initial free memory 78.53 GiB, reserved 10.0 GiB memory for KV Cache as specified by kv_cache_memory_bytes config and skipped memory profiling. This does not respect the gpu_memory_utilization config.")
    assert record == MemoryProfile(kv_cache_memory_gib=10.0, initial_free_memory_gib=78.53)
    unrounded = one("INFO 06-03 02:01:19 [gpu_worker.py:243] Initial free memory 78.53122329711914 GiB, reserved 10.00GiB memory for KV Cache as specified by kv_cache_memory_bytes config and skipped memory profiling.")
    assert (unrounded.kv_cache_memory_gib, unrounded.initial_free_memory_gib) == (10.0, 78.53122329711914)


def test_the_026_device_memory_report() -> None:
    record = one(EC + "[gpu_worker.py:857] Free memory on device (139.29/139.8 GiB) on startup. Desired GPU memory utilization is (0.2, 27.96 GiB). Actual usage is 15.27 GiB for weight, 1.29 GiB for peak activation, 0.22 GiB for non-torch memory, and 1.0 GiB for CUDAGraph memory. Replace gpu_memory_utilization config with `--kv-cache-memory=10773548544` (10.03 GiB) to fit into requested memory, or `--kv-cache-memory=1` (1.0 GiB) to fully utilize gpu memory. Current kv cache memory in use is 11.18 GiB.")
    assert record == DeviceMemoryReport(139.29, 139.8, 0.2, 27.96, None, 1.29, 1.0, 11.18, 15.27, 0.22)


def test_graph_memory_override_and_negative_blocks() -> None:
    pool = one(EC + "[gpu_worker.py:794] CUDA graph pool memory: 1.0 GiB (actual), 0.94 GiB (estimated), difference: 0.06 GiB (6.0%).")
    assert pool == CudaGraphMemory(actual_gib=1.0, estimated_gib=0.94)
    notice = one(EC + "[gpu_worker.py:576] CUDA graph memory profiling is enabled (default since v0.21.0). The current --gpu-memory-utilization=0.9000 is equivalent to --gpu-memory-utilization=0.8876 without CUDA graph memory profiling. To maintain the same effective KV cache size as before, increase --gpu-memory-utilization to 0.9124. To disable, set VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0.")
    assert (notice.gpu_memory_utilization, notice.equivalent_utilization_without_profiling, notice.suggested_utilization) == (0.9, 0.8876, 0.9124)
    assert one(EC + "[kv_cache_utils.py:2116] Overriding num_gpu_blocks=27842 with num_gpu_blocks_override=1024") == KvCacheBlocks(1024, overridden_gpu_blocks=27842)
    assert one("INFO 02-26 09:54:05 executor_base.py:110] # GPU blocks: -1, # CPU blocks: 512") == KvCacheBlocks(-1, 512, "GPU")


def test_profile_one_line_forms() -> None:
    record = one("INFO 06-03 02:01:19 worker.py:232] Memory profiling results: duration=3.12 seconds, total_gpu_memory=79.19GiB, initial_memory_usage=15.68GiB, peak_torch_memory=16.37GiB, memory_usage_post_profile=16.02GiB, non_torch_memory=0.34GiB, kv_cache_size=54.87GiB, gpu_memory_utilization=0.90")
    assert (record.profile_seconds, record.total_gpu_memory_gib, record.kv_cache_memory_gib, record.gpu_memory_utilization) == (3.12, 79.19, 54.87, 0.9)
    debug = one(EC.replace("INFO", "DEBUG") + "[gpu_worker.py:300] Memory profiling takes 2.41 seconds. Total non KV cache memory: 16.42GiB; torch peak memory increase: 1.29GiB; non-torch forward increase memory: 0.22GiB; weights memory: 15.27GiB.")
    assert (debug.profile_seconds, debug.non_kv_cache_memory_gib, debug.engine) == (2.41, 16.42, None)


def test_failure_wordings_of_020_to_033_map_onto_the_vocabulary() -> None:
    cases = {
        "(EngineCore pid=9) ERROR 12-01 08:25:58 [gpu_model_runner.py:5344] ValueError: Failed to load model - not enough GPU memory. Try lowering --gpu-memory-utilization to free memory for weights. (original error: CUDA out of memory. Tried to allocate 1.16 GiB.)": "cuda_oom",
        "(EngineCore pid=9) ERROR 12-01 08:25:58 [multiproc_executor.py:901] WorkerProc failed to start.": "engine_startup_failed",
        "Exception: WorkerProc initialization failed due to an exception in a background process. See stack trace for root cause.": "engine_startup_failed",
        "(APIServer pid=711) ERROR 12-01 08:26:57 [core_client.py:840] [shutdown] MPClient: engine core exited unexpectedly; starting cleanup": "engine_fatal",
        "RuntimeError: Engine core process EngineCore_DP0 died unexpectedly.": "engine_fatal",
        "RuntimeError: Process ApiServer_1 (PID: 4242) died with exit code 1": "engine_fatal",
        "RuntimeError: Frontend process failed during engine core initialization. See root cause above. Failed frontend proc(s): ['ApiServer_0']": "engine_startup_failed",
        "ERROR 06-03 02:01:19 worker.py:1] AssertionError: Error in memory profiling. Initial used memory 1054867456, currently used memory 2145386496. This happens when the GPU memory was not properly cleaned up.": "engine_startup_failed",
    }
    for line, kind in cases.items():
        record = one(line)
        assert isinstance(record, ErrorEvent) and record.error_kind == kind, (line, record)
    too_long = one("  Value error, User-specified max_model_len (200000) is greater than the derived max_model_len (max_position_embeddings=40960 or model_max_length=None in model's config.json). To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. [type=value_error]")
    assert (too_long.error_kind, too_long.max_model_len) == ("engine_startup_failed", 200000)
    assert too_long.message.endswith("in model's config.json).")
    # With VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 the same sentence is only a warning.
    assert parse("(APIServer pid=1) WARNING 06-03 02:01:19 [model.py:2679] User-specified max_model_len (200000) is greater than the derived max_model_len (max_position_embeddings=40960 or model_max_length=None in model's config.json). VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme caution.") == []


def test_shutdown_steps_and_signals() -> None:
    assert one(EC + "[core.py:1313] [shutdown] EngineCore: trigger received signal=SIGTERM") == Shutdown("signal SIGTERM", "SIGTERM", "[shutdown] EngineCore: trigger received signal=SIGTERM")
    assert one("(APIServer pid=711) INFO:     Shutting down") == Shutdown("shutdown requested", None, "Shutting down")
    assert one("INFO:     Finished server process [24837]").reason == "shutdown requested"
    assert one("(APIServer pid=7) INFO 06-03 02:01:19 [utils.py:320] Received KeyboardInterrupt, shutting down API servers...").signal == "SIGINT"
    assert parse("(APIServer pid=711) INFO 06-03 02:01:19 [async_llm.py:1] Rejecting request 7 (server shutting down)") == []


def test_a_stray_bracket_before_the_level_and_the_printing_file() -> None:
    parser = LineParser()
    ((context, record),) = parser.feed("[INFO 08-16 10:00:00 [gpu_model_runner.py:1347] Model loading took 7.4946 GiB and 2.981544 seconds")
    assert (context.level, context.log_time, context.file, record.weights_gib) == ("INFO", "08-16 10:00:00", "gpu_model_runner.py", 7.4946)
    assert file_engine_hint(context, record) == "v1"
    ((context, record),) = parser.feed("INFO 06-03 02:01:19 worker.py:232] Memory profiling takes 3.12 seconds")
    assert file_engine_hint(context, record) == "v0"


def test_an_aggregated_stats_line_is_not_engine_zero() -> None:
    record = one("(APIServer pid=2200) INFO 06-03 02:01:19 [loggers.py:335] 2 Engines Aggregated: Avg prompt throughput: 10.0 tokens/s, Avg generation throughput: 20.0 tokens/s, Running: 3 reqs, Waiting: 0 reqs, KV fetch: 1 waiting to start, 2 in progress, 0 completed waiting, Corrupted: 1 reqs, XPU KV cache usage: 5.0%")
    assert isinstance(record, Stats)
    assert (record.engine_index, record.engines_aggregated, record.corrupted, record.kv_fetch_in_progress, record.gpu_kv_usage_pct) == (None, 2, 1, 2, 5.0)


def _analyze(tmp_path: Path, lines: list[str]) -> dict:
    path = tmp_path / "vllm.log"
    path.write_text("\n".join(lines) + "\n")
    summary, problems = analyze_paths([str(path)])
    assert problems == []
    return summary


CONFIG = EC + "[core.py:116] Initializing a V1 LLM engine (v0.26.0) with config: model='/m', speculative_config=None, tokenizer='/m', dtype=torch.bfloat16, max_seq_len=131072, tensor_parallel_size=1, pipeline_parallel_size=1, data_parallel_size=1, quantization=None, enforce_eager=False, kv_cache_dtype=auto, device_config=cuda, seed=0, served_model_name=m, compilation_config={'mode': 3}"
STATS = "(APIServer pid=711) INFO 12-01 08:26:33 [loggers.py:310] Engine 000: Avg prompt throughput: 1.0 tokens/s, Avg generation throughput: 2.0 tokens/s, Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 5.0%, Prefix cache hit rate: 0.0%"


def test_auto_fit_replaces_the_configured_max_model_len(tmp_path: Path) -> None:
    summary = _analyze(tmp_path, [
        CONFIG,
        EC + "[gpu_worker.py:560] Available KV cache memory: 9.37 GiB",
        EC + "[kv_cache_utils.py:1986] Auto-fit max_model_len: reduced from 131072 to 81920 to fit in available GPU memory (9.37 GiB available for KV cache)",
    ])
    assert summary["max_model_len"] == 81920
    assert summary["details"]["max_model_len_auto_fit_from"] == 131072


def test_a_traceback_after_a_clean_stop_is_not_an_error_and_a_crash_is(tmp_path: Path) -> None:
    stop = [
        CONFIG,
        STATS,
        "(APIServer pid=711) INFO 12-01 08:26:57 [launcher.py:100] [shutdown] API server: shutdown triggered",
        EC + "[core.py:1313] [shutdown] EngineCore: trigger received signal=SIGINT",
    ]
    traceback = "(APIServer pid=711) ERROR 12-01 08:26:57 [async_llm.py:480] AsyncLLM output_handler failed."
    clean = _analyze(tmp_path, stop + [traceback])
    assert clean.get("errors", []) == []
    assert (clean["details"]["stop_reason"], clean["details"]["errors_during_stop"]) == ("signal SIGINT", 1)
    crash = _analyze(tmp_path, [CONFIG, STATS, traceback])
    assert [e["kind"] for e in crash["errors"]] == ["engine_fatal"]
    died = _analyze(tmp_path, stop + ["(APIServer pid=711) ERROR 12-01 08:26:57 [core_client.py:840] [shutdown] MPClient: engine core exited unexpectedly; starting cleanup"])
    assert [e["kind"] for e in died["errors"]] == ["engine_fatal"]


def test_a_version_from_0_11_means_v1(tmp_path: Path) -> None:
    summary = _analyze(tmp_path, ["(APIServer pid=1) INFO 06-03 02:01:19 [api_utils.py:1] vLLM server version 0.20.0, serving model Qwen/Qwen3-8B"])
    assert summary["engine"] == "v1"
    old = _analyze(tmp_path, ["INFO 06-03 02:01:19 api_server.py:528] vLLM API server version 0.6.3"])
    assert "engine" not in old
