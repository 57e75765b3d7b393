"""Unwrapping real envelopes: each test asserts the values that come out."""

from __future__ import annotations

import json

from vllm_obs.parse.parser import LineParser
from vllm_obs.parse.records import HttpAccess, KvCacheSize, ModelWeights, Stats

STATS_V1 = (
    "(APIServer pid=1) INFO 05-12 07:51:39 [loggers.py:271] Engine 000: Avg prompt throughput: 0.0 tokens/s, "
    "Avg generation throughput: 76.6 tokens/s, Running: 8 reqs, Waiting: 0 reqs, GPU KV cache usage: 57.3%, "
    "Prefix cache hit rate: 0.0%"
)


def one(line: str, parser: LineParser | None = None):
    parsed = (parser or LineParser()).feed(line)
    assert len(parsed) == 1, parsed
    return parsed[0]


def test_docker_json_file_line() -> None:
    line = json.dumps({"log": STATS_V1 + "\n", "stream": "stdout", "time": "2026-05-12T07:51:39.301802920Z"})
    context, record = one(line)
    assert isinstance(record, Stats)
    assert (record.running, record.gpu_kv_usage_pct, record.engine_index) == (8, 57.3, 0)
    assert context.outer_time == "2026-05-12T07:51:39.301802920Z"
    assert context.stream == "stdout"
    assert context.process == "APIServer" and context.pid == 1
    assert context.log_time == "05-12 07:51:39"


def test_docker_json_file_split_entries_are_joined() -> None:
    parser = LineParser()
    half = len(STATS_V1) // 2
    first = json.dumps({"log": STATS_V1[:half], "stream": "stdout", "time": "2026-05-12T07:51:39Z"})
    second = json.dumps({"log": STATS_V1[half:] + "\n", "stream": "stdout", "time": "2026-05-12T07:51:39Z"})
    assert parser.feed(first) == ()
    _, record = one(second, parser)
    assert record.generation_tps == 76.6
    assert parser.counts == {"matched": 1, "unmatched": 0, "error": 0}


def test_cri_partial_lines_are_joined() -> None:
    parser = LineParser()
    assert parser.feed("2026-05-12T07:51:39.1Z stdout P " + STATS_V1[:40]) == ()
    assert parser.feed("2026-05-12T07:51:39.1Z stdout P " + STATS_V1[40:90]) == ()
    context, record = one("2026-05-12T07:51:39.2Z stdout F " + STATS_V1[90:], parser)
    assert isinstance(record, Stats) and record.prefix_cache_hit_pct == 0.0
    assert context.outer_time == "2026-05-12T07:51:39.2Z"


def test_docker_timestamps_prefix() -> None:
    context, record = one(
        '2026-05-12T07:51:36.069569496Z (APIServer pid=1) INFO:     172.17.0.1:53400 - "POST /v1/chat/completions HTTP/1.1" 200 OK'
    )
    assert record == HttpAccess("POST", "/v1/chat/completions", 200, "172.17.0.1:53400")
    assert context.outer_time == "2026-05-12T07:51:36.069569496Z"


def test_compose_gutter_around_docker_timestamps() -> None:
    context, record = one("vllm-1  | 2026-05-12T07:51:39.3Z " + STATS_V1)
    assert record.running == 8 and context.outer_time == "2026-05-12T07:51:39.3Z"


def test_journald_short_format() -> None:
    context, record = one(
        "Nov 21 16:26:14 gpu-host vllm[3145]: (EngineCore pid=3145) INFO 11-21 16:26:14 [model_runner.py:329] "
        "Model loading took 15.27 GiB and 4.142544 seconds"
    )
    assert record == ModelWeights(15.27, "GiB", 4.142544)
    assert context.outer_time == "Nov 21 16:26:14" and context.process == "EngineCore"


def test_outer_bracketed_stamp() -> None:
    context, record = one("[2026-11-21 16:26:22] INFO 11-21 16:26:22 [kv_cache_utils.py:2235] GPU KV cache size: 395,712 tokens")
    assert record == KvCacheSize(395712, "GPU")
    assert context.outer_time == "2026-11-21 16:26:22"


def test_ansi_colours_and_their_remnants() -> None:
    coloured = (
        "\x1b[1;36m(VllmWorker rank=1 pid=2345)\x1b[0;0m \x1b[32mINFO\x1b[0m \x1b[90m06-03 02:01:19\x1b[0m "
        "\x1b[90m[gpu_model_runner.py:1347]\x1b[0m Model loading took 7.4946 GiB and 2.981544 seconds"
    )
    context, record = one(coloured)
    assert record == ModelWeights(7.4946, "GiB", 2.981544)
    assert (context.process, context.rank, context.level) == ("VllmWorker rank=1", 1, "INFO")
    remnant = coloured.replace("\x1b", "")
    assert one(remnant)[1] == record


def test_process_tags_give_rank_and_dp_index() -> None:
    line = "(Worker_DP1_TP3 pid=77) INFO 06-03 02:01:19 [gpu_model_runner.py:1] Model loading took 7.49 GiB memory and 2.9 seconds"
    context, _ = one(line)
    assert (context.rank, context.dp_rank) == (3, 1)
    context, _ = one(line.replace("(Worker_DP1_TP3 pid=77)", "(EngineCore_DP2 pid=9)"))
    assert (context.rank, context.dp_rank) == (None, 2)
    # 0.17.0-0.17.1 printed the worker prefix twice; Ray adds its own actor tag in front.
    context, _ = one("(Worker pid=5) (Worker_TP1 pid=5) " + line.split(") ", 1)[1])
    assert (context.process, context.rank) == ("Worker_TP1", 1)
    context, _ = one("(RayWorkerWrapper pid=4711, ip=10.0.0.2) (MainProcess pid=4711) " + line.split(") ", 1)[1])
    assert context.process == "MainProcess" and context.pid == 4711


def test_torch_rank_prefix_and_uncaught_traceback_line() -> None:
    context, record = one("[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.55 GiB of which 1.02 GiB is free. Including non-PyTorch memory")
    assert record.error_kind == "cuda_oom" and context.rank == 0
    assert record.message == "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.55 GiB of which 1.02 GiB is free"


def test_tqdm_bar_glued_before_the_log_line() -> None:
    line = (
        "Processed prompts:   0%|  | 34/10000 [00:29<3:36:54,  1.31s/it, est. speed input: 407.31 toks/s]"
        "INFO 06-16 21:24:15 metrics.py:341] Avg prompt throughput: 2706.1 tokens/s, Avg generation throughput: 13395.4 tokens/s, "
        "Running: 34 reqs, Swapped: 100 reqs, Pending: 9832 reqs, GPU KV cache usage: 99.2%, CPU KV cache usage: 70.4%."
    )
    _, record = one(line)
    assert (record.engine_format, record.waiting, record.swapped, record.cpu_kv_usage_pct) == ("v0", 9832, 100, 70.4)
    _, record = one("Capturing CUDA graphs: 10%|█ | 5/51\r" + line.split("]", 1)[1])
    assert record.running == 34


def test_vllm_json_logging() -> None:
    line = json.dumps(
        {
            "asctime": "2026-11-21 15:32:48,882",
            "levelname": "INFO",
            "name": "vllm.v1.core.kv_cache_utils",
            "processName": "MainProcess",
            "process": 29841,
            "message": "GPU KV cache size: 445,472 tokens, Maximum concurrency for 8,192 tokens per request: 54.38x",
            "vllm_process_name": "EngineCore",
        }
    )
    context, record = one(line)
    assert record == KvCacheSize(445472, "GPU", 54.38, 8192)
    assert context.outer_time == "2026-11-21 15:32:48,882" and context.process == "EngineCore"


def test_vllm_json_logging_exception_text_is_read() -> None:
    line = json.dumps(
        {
            "asctime": "2026-11-21 15:27:29,176",
            "levelname": "ERROR",
            "name": "vllm.v1.engine.core",
            "process": 24861,
            "message": "EngineCore failed to start.",
            "exc_info": "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: To serve at least one request with the model's max seq len (40960), (5.62 GiB KV cache is needed, which is larger than the available KV cache memory (2.39 GiB). Try increasing it.",
        }
    )
    parsed = LineParser().feed(line)
    kinds = [(r.error_kind, r.kv_cache_needed_gib) for _, r in parsed]
    assert kinds == [("engine_startup_failed", None), ("insufficient_kv_cache", 5.62)]


def test_indented_paste_and_unprefixed_messages() -> None:
    _, record = one("    (VllmWorkerProcess pid=6923) INFO 07-17 23:41:16 model_runner.py:559] Loading model weights took 6.1138 GB")
    assert record == ModelWeights(6.1138, "GB")
    _, record = one("Loading model weights took 14.9888 GB")
    assert record == ModelWeights(14.9888, "GB")


def test_other_programs_lines_are_counted_unmatched() -> None:
    parser = LineParser()
    for line in ("=== 10:17:59-INFO ======", "", "\x00\x01binary", "vllm instantiated.", "[W1121 16:26:09.371228946 socket.cpp:207] x"):
        assert parser.feed(line) == ()
    assert parser.counts == {"matched": 0, "unmatched": 5, "error": 0}


def test_hard_wrapped_engine_config_line_is_joined() -> None:
    # Case 016's paste, with the continuation its poster's terminal wrapped onto the next line.
    first = (
        "INFO 04-08 03:47:57 [core.py:61] Initializing a V1 LLM engine (v0.8.3) with config: "
        "model='hugging-quants/Meta-Llama-3.1-405B-Instruct-AWQ-INT4', speculative_config=None, "
        "tokenizer='hugging-quants/Meta-Llama-3.1-405B-Instruct-AWQ-INT4', skip_tokenizer_init=False, "
        "tokenizer_mode=auto, revision=None, override_neuron_config=None, tokenizer_revision=None, "
        "trust_remote_code=False, dtype=torch.float16, max_seq_len=131072, download_dir=None, "
        "load_format=LoadFormat.AUTO, tensor_parallel_size=4, pipeline_parallel_size=1, disable_custom_all_reduce=True, "
        "quantization=awq_marlin, enforce_eager=False, kv_cache_dtype=auto,  device_config=cuda, seed=None, "
        "served_model_name=meta-llama/Meta-Llama-3.1-405B-Instruct-FP8, num_scheduler_steps=1, multi_ste"
    )
    second = (
        "p_stream_outputs=True, enable_prefix_caching=True, chunked_prefill_enabled=True, use_async_output_proc=True, "
        'disable_mm_preprocessor_cache=False, mm_processor_kwargs=None, pooler_config=None, compilation_config={"level":3}'
    )
    parser = LineParser()
    (_, cut), = parser.feed(first)
    assert cut.complete is False and cut.tensor_parallel_size == 4 and cut.enable_prefix_caching is None
    (_, joined), = parser.feed(second)
    assert joined.continued and joined.complete and joined.enable_prefix_caching is True
    assert joined.served_model_name == "meta-llama/Meta-Llama-3.1-405B-Instruct-FP8"
    # A prefixed line after a cut config line is its own line, not a continuation.
    parser = LineParser()
    parser.feed(first)
    (_, record), = parser.feed("INFO 04-08 03:47:58 [loader.py:1] Loading weights took 3.87 seconds Model loading took 1.5 GiB and 2.0 seconds")
    assert record.kind == "model_weights"


def test_v1_opt_in_config_line_is_told_by_its_file() -> None:
    line = "INFO 01-20 10:00:00 core.py:45] Initializing an LLM engine (v0.7.0) with config: model='Qwen/Qwen2.5-7B', dtype=torch.bfloat16, max_seq_len=32768, tensor_parallel_size=1, compilation_config={\"level\":3}"
    assert one(line)[1].engine == "v1"
    assert one(line.replace("core.py:45]", "llm_engine.py:234]"))[1].engine == "v0"
