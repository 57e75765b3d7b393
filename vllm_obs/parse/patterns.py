"""The one table of vLLM log messages vllm-obs recognises.

Each `Pattern` names a message, the vLLM versions that print it (first/last PyPI release, from
each release's source; see ../shared/vllm-log-formats.md), a cheap substring `anchor` that must be
in the message before any regex runs, a parse function returning a typed record, and example and
counter-example lines that the tests run (tests/test_patterns.py).

Patterns match the *message*: the envelope (Docker/CRI/journald/ANSI/process tags) and vLLM's
`LEVEL MM-DD HH:MM:SS [file:line]` prefix are removed first by `envelope.py`, and messages are
also matched when a user pasted them without any prefix. Never key on file:line; it changes in
nearly every release.

Regexes are anchored on fixed text and use bounded character classes, so they stay linear on
adversarial input (a property test feeds 1 MB lines built from these fragments).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from collections.abc import Callable, Iterable
from typing import Any

from vllm_obs.parse.records import (
    CudaGraph,
    CudaGraphMemory,
    DeviceMemoryReport,
    EngineConfig,
    EngineInit,
    ErrorEvent,
    HttpAccess,
    KvCacheBlocks,
    KvCacheSize,
    MaxConcurrency,
    MemoryProfile,
    ModelInfo,
    ModelWeights,
    Preemption,
    PrefixCacheHit,
    Record,
    ServerArgs,
    Shutdown,
    SpecDecode,
    Stats,
    VersionInfo,
)

# Named fragments the patterns are built from.
NUM = r"-?\d{1,12}(?:\.\d{1,17})?"  # a plain decimal as vLLM's %.2f / round() / repr(float) print it
UNUM = r"\d{1,12}(?:\.\d{1,17})?"
INT_COMMAS = r"\d{1,3}(?:,\d{3}){0,6}|\d{1,15}"  # "445,472" (0.8+) or "8192" (older)
GIB_WORD = r"(?:GiB|Gib|GB)"


def to_int(text: str) -> int:
    return int(text.replace(",", ""))


@dataclass(frozen=True)
class Pattern:
    name: str
    versions: str
    anchors: tuple[str, ...]  # at least one must occur in the message
    parse: Callable[[str], Record | None]
    examples: tuple[str, ...]  # real-format lines (with prefix) this pattern must recognise
    counter_examples: tuple[str, ...] = ()  # lines it must not turn into this kind of record
    doc: str = ""


def _regex_pattern(
    name: str,
    versions: str,
    anchors: tuple[str, ...] | list[str],
    regex: str,
    build: Callable[[re.Match[str]], Record | None],
    examples: tuple[str, ...] | list[str],
    counter_examples: tuple[str, ...] | list[str] = (),
    doc: str = "",
    flags: int = 0,
) -> Pattern:
    compiled = re.compile(regex, flags)

    def parse(message: str) -> Record | None:
        m = compiled.search(message)
        return build(m) if m else None

    return Pattern(name, versions, tuple(anchors), parse, tuple(examples), tuple(counter_examples), doc)


# --------------------------------------------------------------------------------------------
# The periodic stats line (V0 engine/metrics.py, V1 v1/metrics/loggers.py), parsed part by part.

# "Part label" -> (Stats field, is_int). Labels are matched after the optional device word.
_STATS_PARTS: dict[str, tuple[str, bool]] = {
    "Avg prompt throughput": ("prompt_tps", False),
    "Avg generation throughput": ("generation_tps", False),
    "Running": ("running", True),
    "Waiting": ("waiting", True),
    "Pending": ("waiting", True),  # V0's name for waiting
    "Swapped": ("swapped", True),
    "Deferred": ("deferred", True),
    "Preemptions": ("preemptions", True),
    "Corrupted": ("corrupted", True),
    "Prefix cache hit rate": ("prefix_cache_hit_pct", False),
    "External prefix cache hit rate": ("external_prefix_cache_hit_pct", False),
    "MM cache hit rate": ("mm_cache_hit_pct", False),
}
_STATS_HEAD = re.compile(r"(?:Engine (?P<engine>\d{1,6}): |(?P<aggregated>\d{1,6}) Engines Aggregated: )")
_KV_FETCH = re.compile(r"KV fetch: (\d{1,12}) waiting to start, (\d{1,12}) in progress, (\d{1,12}) completed waiting")
_FIRST_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")  # used by the spec-decode line
# Every stats figure vLLM prints is a non-negative count or a %.1f rate: a sign, an exponent or
# "nan" is not one of its values (and a counter must never go down), so such a part is unknown.
# Bounds on what an unknown part may cost: its label is kept up to this length, and at most this
# many unknown parts are kept per line (they are counted in the summary's details).
_MAX_UNKNOWN_LABEL_CHARS = 80
_MAX_UNKNOWN_PARTS = 32


def _unglue_waiting(parts: list[str]) -> list[str]:
    """Split "Waiting: N reqs <next part>" into its parts: one split per part, so linear."""
    out: list[str] = []
    for part in parts:
        if part.startswith("Waiting: ") and " reqs " in part:
            out.extend(piece for piece in part.split(" reqs ") if piece)
        else:
            out.append(part)
    return out


def parse_stats(message: str) -> Stats | None:
    """Parse the stats line part by part: known parts by name, unknown parts counted.

    Linear in the line's length whatever the parts repeat: each part is split off once and
    nothing re-copies the rest of the line (issue 11: a repeated glued part was quadratic).
    """
    head = _STATS_HEAD.match(message) if message[:1] in "E0123456789" else None
    body = message[head.end():] if head else message
    if not (body.startswith("Avg prompt throughput") or body.startswith("Running: ")):
        return None
    body = body.rstrip(" .")
    values: dict = {}
    unknown: list[str] = []
    if "KV fetch: " in body:  # the one part with ", " inside it (0.32+)
        kv_fetch = _KV_FETCH.search(body)
        if kv_fetch:
            values["kv_fetch_waiting"], values["kv_fetch_in_progress"], values["kv_fetch_completed"] = (
                int(g) for g in kv_fetch.groups()
            )
            body = body[: kv_fetch.start()] + body[kv_fetch.end():]

    parts = body.split(", ")
    if " reqs " in body:
        # 0.7.1-0.7.2 forgot the comma: "Waiting: 0 reqs GPU KV cache usage: 23.5%".
        parts = _unglue_waiting(parts)
    v0_format = False
    for part in parts:
        label, sep, rest = part.partition(": ")
        if not sep:
            if part and len(unknown) < _MAX_UNKNOWN_PARTS:
                unknown.append(part[:_MAX_UNKNOWN_LABEL_CHARS])
            continue
        space = rest.find(" ")
        number = rest if space < 0 else rest[:space]
        if number.endswith("%"):
            number = number[:-1]
        known = _STATS_PARTS.get(label)
        if known is not None:
            name, is_int = known
            # (isdigit alone would take "²" and a 5,000-digit int() raises: ASCII, bounded.)
            if (number.isdigit() if is_int else number.replace(".", "", 1).isdigit()) and len(number) <= 24 and number.isascii():
                values[name] = int(number) if is_int else float(number)
                if label == "Swapped" or label == "Pending":
                    v0_format = True
                continue
        elif label.endswith(" KV cache usage") and number.replace(".", "", 1).isdigit() and len(number) <= 24 and number.isascii():
            # V0 prints GPU then CPU (swap); V1 prints one device part (GPU, or XPU/CPU/... 0.30+).
            if label == "CPU KV cache usage" and "gpu_kv_usage_pct" in values:
                values["cpu_kv_usage_pct"] = float(number)
            else:
                values["gpu_kv_usage_pct"] = float(number)
            continue
        if len(unknown) < _MAX_UNKNOWN_PARTS:
            unknown.append(label[:_MAX_UNKNOWN_LABEL_CHARS])
    if "prompt_tps" not in values and "running" not in values:
        return None
    if head is not None:
        if head["engine"]:
            values["engine_index"] = int(head["engine"])
        else:
            values["engines_aggregated"] = int(head["aggregated"])
    if unknown:
        values["unknown_parts"] = tuple(unknown)
    return Stats("v0" if v0_format else "v1", **values)


STATS = Pattern(
    name="stats",
    versions="V0 0.3.3-0.10.2 (engine/metrics.py); V1 0.7.0-0.33.0 (v1/metrics/loggers.py)",
    anchors=("Avg prompt throughput", "Running: "),
    parse=parse_stats,
    examples=(
        "INFO 06-03 02:01:19 metrics.py:218] Avg prompt throughput: 1203.4 tokens/s, Avg generation throughput: 845.2 tokens/s, Running: 12 reqs, Swapped: 0 reqs, Pending: 0 reqs, GPU KV cache usage: 23.5%, CPU KV cache usage: 0.0%",
        "INFO 06-03 02:01:19 metrics.py:345] Avg prompt throughput: 1203.4 tokens/s, Avg generation throughput: 845.2 tokens/s, Running: 12 reqs, Swapped: 0 reqs, Pending: 0 reqs, GPU KV cache usage: 23.5%, CPU KV cache usage: 0.0%.",
        "INFO 06-03 02:01:19 loggers.py:72] Avg prompt throughput: 1203.4 tokens/s, Avg generation throughput: 845.2 tokens/s, Running: 12 reqs, Waiting: 0 reqs GPU KV cache usage: 23.5%.",
        "INFO 06-03 02:01:19 [loggers.py:80] Avg prompt throughput: 1203.4 tokens/s, Avg generation throughput: 845.2 tokens/s, Running: 12 reqs, Waiting: 0 reqs, GPU KV cache usage: 23.5%, Prefix cache hit rate: 61.2%",
        "INFO 06-03 02:01:19 [loggers.py:111] Engine 000: Avg prompt throughput: 1203.4 tokens/s, Avg generation throughput: 845.2 tokens/s, Running: 12 reqs, Waiting: 0 reqs, GPU KV cache usage: 23.5%, Prefix cache hit rate: 61.2%",
        "(APIServer pid=2200) INFO 06-03 02:01:19 [loggers.py:236] Engine 000: Avg prompt throughput: 1203.4 tokens/s, Avg generation throughput: 845.2 tokens/s, Running: 64 reqs, Waiting: 17 reqs, Preemptions: 3, GPU KV cache usage: 98.7%, Prefix cache hit rate: 61.2%, External prefix cache hit rate: 12.5%, MM cache hit rate: 40.0%",
        "(APIServer pid=2200) INFO 06-03 02:01:19 [loggers.py:335] Engine 000: Avg prompt throughput: 1203.4 tokens/s, Avg generation throughput: 845.2 tokens/s, Running: 12 reqs, Waiting: 5 reqs, Deferred: 2 reqs, GPU KV cache usage: 23.5%, Prefix cache hit rate: 61.2%",
        "(APIServer pid=2200) INFO 06-03 02:01:19 [loggers.py:335] 2 Engines Aggregated: Avg prompt throughput: 10.0 tokens/s, Avg generation throughput: 20.0 tokens/s, Running: 3 reqs, Waiting: 0 reqs, KV fetch: 1 waiting to start, 2 in progress, 0 completed waiting, XPU KV cache usage: 5.0%",
        "INFO 06-03 02:01:19 loggers.py:60] Running: 3 reqs, Waiting: 0 reqs ",
    ),
    counter_examples=(
        "INFO 06-03 02:01:19 [metrics.py:96] SpecDecoding metrics: Mean acceptance length: 2.61, Accepted throughput: 310.55 tokens/s, Drafted throughput: 577.89 tokens/s, Accepted: 3106 tokens, Drafted: 5779 tokens, Per-position acceptance rate: 0.723, 0.541, 0.348, Avg Draft acceptance rate: 53.7%",
        "Processed prompts:   0%|  | 34/10000 [00:29<3:36:54,  1.31s/it, est. speed input: 407.31 toks/s, output: 7561.83 toks/s]",
    ),
    doc="Optional parts are joined by ', ' and appear over versions; unknown parts are counted.",
)


# --------------------------------------------------------------------------------------------
# HTTP access lines (uvicorn; also vLLM's JSON logging of uvicorn.access, which drops the phrase).

_ACCESS = re.compile(
    r'(?P<client>\S{1,200}) - "(?P<method>[A-Z]{1,16}) (?P<path>\S{1,8192}) HTTP/(?P<ver>[\d.]{1,4})" (?P<status>\d{3})\b'
)


def parse_access(message: str) -> HttpAccess | None:
    m = _ACCESS.match(message)
    if m is None:
        return None
    path = m["path"]
    q = path.find("?")
    if q >= 0:
        path = path[:q]
    return HttpAccess(m["method"], path, int(m["status"]), m["client"])


HTTP_ACCESS = Pattern(
    name="http_access",
    versions="uvicorn access log, every vLLM version with the OpenAI server (0.3.3-0.33.0)",
    anchors=('" ',),
    parse=parse_access,
    examples=(
        'INFO:     127.0.0.1:46468 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
        '(APIServer pid=2200) INFO:     127.0.0.1:50012 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
        'INFO:     [::1]:46494 - "GET /nope?x=1 HTTP/1.1" 404 Not Found',
        '{"asctime": "2026-11-21 15:33:00,435", "levelname": "INFO", "name": "uvicorn.access", "processName": "MainProcess", "process": 29861, "message": "127.0.0.1:52162 - \\"POST /v1/chat/completions HTTP/1.1\\" 200"}',
    ),
    counter_examples=("INFO:     Started server process [24837]",),
)


# --------------------------------------------------------------------------------------------
# Engine configuration, server arguments, versions.

_CONFIG_HEAD = re.compile(
    r"Initializing (?:an|a (?P<engine>V0|V1)) LLM engine(?: \(v(?P<version>[^)\s]{1,40})\))? with config: "
)
_CFG_STR = {  # key='repr string'
    "model": re.compile(r"(?:^|, )model='(?P<v>[^']{0,1024})'"),
    "tokenizer": re.compile(r"\btokenizer='(?P<v>[^']{0,1024})'"),
}
_CFG_WORD = {  # key=bare value up to the next ", "
    "served_model_name": re.compile(r"\bserved_model_name=(?P<v>[^,\s)]{1,1024})"),
    "dtype": re.compile(r"\bdtype=(?:torch\.)?(?P<v>[\w.]{1,32})"),
    "quantization": re.compile(r"\bquantization=(?P<v>[\w-]{1,64})"),
    "kv_cache_dtype": re.compile(r"\bkv_cache_dtype=(?P<v>[\w-]{1,32})"),
}
_CFG_INT = {
    "max_model_len": re.compile(r"\bmax_seq_len=(?P<v>\d{1,9})"),
    "tensor_parallel_size": re.compile(r"\btensor_parallel_size=(?P<v>\d{1,6})"),
    "pipeline_parallel_size": re.compile(r"\bpipeline_parallel_size=(?P<v>\d{1,6})"),
    "data_parallel_size": re.compile(r"\bdata_parallel_size=(?P<v>\d{1,6})"),
}
_CFG_BOOL = {
    "enable_prefix_caching": re.compile(r"\benable_prefix_caching=(?P<v>True|False)"),
    "enforce_eager": re.compile(r"\benforce_eager=(?P<v>True|False)"),
}
# The last key each era prints; a line without it was cut (hard-wrapped or truncated paste).
# (<= 0.6.4 closes the fixed key list with ")" after seed or, from 0.4.2, served_model_name.)
_CFG_LAST_KEYS = re.compile(r"(?:\)|use_cached_outputs=\w+, ?|compilation_config=.*|kernel_config=.*)$")


def _none_if_none(value: str | None) -> str | None:
    return None if value in (None, "None") else value


def parse_engine_config(message: str) -> EngineConfig | None:
    head = _CONFIG_HEAD.search(message)
    if head is None:
        return None
    cfg = message[head.end():]
    fields: dict = {}
    for key, rx in _CFG_STR.items():
        m = rx.search(cfg)
        if m:
            fields[key] = m["v"]
    for key, rx in _CFG_WORD.items():
        m = rx.search(cfg)
        if m:
            fields[key] = _none_if_none(m["v"])
    for key, rx in _CFG_INT.items():
        m = rx.search(cfg)
        if m:
            fields[key] = int(m["v"])
    for key, rx in _CFG_BOOL.items():
        m = rx.search(cfg)
        if m:
            fields[key] = m["v"] == "True"
    engine = head["engine"]
    if engine:
        engine = engine.lower()
    else:
        # "an LLM engine": V0 in <= 0.7.0 (V1 was an opt-in experiment printing the same words
        # without ", use_cached_outputs=").
        engine = "v0"
    return EngineConfig(engine=engine, vllm_version=head["version"], complete=bool(_CFG_LAST_KEYS.search(cfg)), **fields)


ENGINE_CONFIG = Pattern(
    name="engine_config",
    versions="V0 0.3.3-0.10.2 (engine/llm_engine.py); V1 0.6.4-0.33.0 (v1/engine/core.py)",
    anchors=("LLM engine",),
    parse=parse_engine_config,
    examples=(
        "INFO 04-08 19:52:46 llm_engine.py:74] Initializing an LLM engine (v0.4.0.post1) with config: model='facebook/opt-125m', tokenizer='facebook/opt-125m', tokenizer_mode=auto, revision=None, tokenizer_revision=None, trust_remote_code=False, dtype=torch.float16, max_seq_len=2048, download_dir=None, load_format=auto, tensor_parallel_size=1, disable_custom_all_reduce=True, quantization=None, enforce_eager=False, kv_cache_dtype=auto, device_config=cuda, seed=0)",
        "INFO 05-10 12:00:00 llm_engine.py:100] Initializing an LLM engine (v0.4.2) with config: model='meta-llama/Meta-Llama-3-8B-Instruct', speculative_config=None, tokenizer='meta-llama/Meta-Llama-3-8B-Instruct', skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, tokenizer_revision=None, trust_remote_code=False, dtype=torch.bfloat16, max_seq_len=8192, download_dir=None, load_format=LoadFormat.AUTO, tensor_parallel_size=1, disable_custom_all_reduce=False, quantization=None, enforce_eager=False, kv_cache_dtype=auto, quantization_param_path=None, device_config=cuda, decoding_config=DecodingConfig(guided_decoding_backend='outlines'), seed=0, served_model_name=meta-llama/Meta-Llama-3-8B-Instruct)",
        "INFO 04-08 03:47:57 [core.py:61] Initializing a V1 LLM engine (v0.8.3) with config: model='hugging-quants/Meta-Llama-3.1-405B-Instruct-AWQ-INT4', speculative_config=None, tokenizer='hugging-quants/Meta-Llama-3.1-405B-Instruct-AWQ-INT4', skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, override_neuron_config=None, tokenizer_revision=None, trust_remote_code=False, dtype=torch.float16, max_seq_len=131072, download_dir=None, load_format=LoadFormat.AUTO, tensor_parallel_size=4, pipeline_parallel_size=1, disable_custom_all_reduce=True, quantization=awq_marlin, enforce_eager=False, kv_cache_dtype=auto,  device_config=cuda, seed=None, served_model_name=meta-llama/Meta-Llama-3.1-405B-Instruct-FP8, num_scheduler_steps=1, multi_ste",
        "(EngineCore pid=2301) INFO 06-03 02:01:19 [core.py:139] Initializing a V1 LLM engine (v0.33.0) with config: model='meta-llama/Llama-3.1-8B-Instruct', speculative_config=None, tokenizer='meta-llama/Llama-3.1-8B-Instruct', skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, tokenizer_revision=None, trust_remote_code=False, dtype=torch.bfloat16, max_seq_len=8192, download_dir=None, load_format=auto, tensor_parallel_size=1, pipeline_parallel_size=1, data_parallel_size=1, disable_custom_all_reduce=False, quantization=None, quantization_config=None, enforce_eager=False, kv_cache_dtype=auto, device_config=cuda, seed=0, served_model_name=meta-llama/Llama-3.1-8B-Instruct, enable_prefix_caching=True, enable_chunked_prefill=True, pooler_config=None, compilation_config={'mode': 3}, kernel_config=None",
        "INFO 01-02 03:04:05 llm_engine.py:237] Initializing a V0 LLM engine (v0.7.3) with config: model='Qwen/Qwen2.5-7B', speculative_config=None, tokenizer='Qwen/Qwen2.5-7B', dtype=torch.bfloat16, max_seq_len=32768, tensor_parallel_size=2, pipeline_parallel_size=1, quantization=fp8, kv_cache_dtype=fp8_e4m3,  device_config=cuda, use_cached_outputs=True, ",
    ),
    counter_examples=("INFO 06-03 02:01:19 [core.py:58] Waiting for init message from front-end.",),
)


def _literal_dict(text: str) -> dict | None:
    """Python dict repr -> dict, without evaluating code; None when cut or not a literal."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    return value if isinstance(value, dict) else None


_ARG_PAIR = re.compile(r"'(?P<k>\w{1,64})': (?P<v>'[^']{0,1024}'|\[[^\]]{0,2048}\]|[\w.+-]{1,64})")
_NAMESPACE_PAIR = re.compile(r"(?:\(|, )(?P<k>\w{1,64})=(?P<v>'[^']{0,1024}'|\[[^\]]{0,2048}\]|[\w.+-]{1,64})")


def _server_args_from_mapping(values: dict[str, Any]) -> ServerArgs:
    def text(key: str) -> str | None:
        v = values.get(key)
        return v if isinstance(v, str) else None

    def number(key: str, kind: Callable[[Any], Any]) -> Any:
        v = values.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        return kind(v)

    served = values.get("served_model_name")
    if isinstance(served, (list, tuple)):
        names = tuple(str(s) for s in served)
        served = names[0] if len(names) == 1 else (names or None)
    elif not isinstance(served, str):
        served = None
    prefix = values.get("enable_prefix_caching")
    return ServerArgs(
        model=text("model") or text("model_tag"),
        served_model_name=served,
        dtype=_none_if_none(text("dtype")),
        max_model_len=number("max_model_len", int),
        tensor_parallel_size=number("tensor_parallel_size", int),
        pipeline_parallel_size=number("pipeline_parallel_size", int),
        data_parallel_size=number("data_parallel_size", int),
        gpu_memory_utilization=number("gpu_memory_utilization", float),
        quantization=_none_if_none(text("quantization")),
        kv_cache_dtype=_none_if_none(text("kv_cache_dtype")),
        enable_prefix_caching=prefix if isinstance(prefix, bool) else None,
        block_size=number("block_size", int),
        max_num_seqs=number("max_num_seqs", int),
        max_num_batched_tokens=number("max_num_batched_tokens", int),
        kv_cache_memory_bytes=number("kv_cache_memory_bytes", int),
    )


def _pairs_to_mapping(pairs: Iterable[re.Match[str]]) -> dict[str, Any]:
    values: dict = {}
    for m in pairs:
        raw = m["v"]
        if raw.startswith(("'", "[")):
            try:
                values[m["k"]] = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                continue
        elif raw in ("True", "False"):
            values[m["k"]] = raw == "True"
        elif raw == "None":
            values[m["k"]] = None
        else:
            try:
                values[m["k"]] = int(raw)
            except ValueError:
                try:
                    values[m["k"]] = float(raw)
                except ValueError:
                    values[m["k"]] = raw
    return values


def parse_server_args(message: str) -> ServerArgs | None:
    start = message.find("non-default args: {")
    if start >= 0:
        body = message[start + len("non-default args: "):]
        values = _literal_dict(body)
        if values is None:  # cut line: take the complete pairs
            values = _pairs_to_mapping(_ARG_PAIR.finditer(body))
        return _server_args_from_mapping(values)
    start = message.find("args: Namespace(")
    if start >= 0:
        return _server_args_from_mapping(_pairs_to_mapping(_NAMESPACE_PAIR.finditer(message, start + 15)))
    return None


SERVER_ARGS = Pattern(
    name="server_args",
    versions="'args: Namespace(...)' 0.3.3-0.8.5.post1; 'non-default args: {...}' 0.9.0-0.33.0",
    anchors=("args: ",),
    parse=parse_server_args,
    examples=(
        "(APIServer pid=2200) INFO 06-03 02:01:19 [utils.py:326] non-default args: {'model_tag': 'meta-llama/Llama-3.1-8B-Instruct', 'host': '0.0.0.0', 'model': 'meta-llama/Llama-3.1-8B-Instruct', 'max_model_len': 8192, 'gpu_memory_utilization': 0.9}",
        "(APIServer pid=1) INFO 07-06 22:50:34 [api_utils.py:273] non-default args: {'model_tag': 'm', 'model': 'm', 'dtype': 'bfloat16', 'max_model_len': 131072, 'served_model_name': ['a', 'b'], 'kv_cache_dtype': 'fp8'",
        "INFO 06-03 02:01:19 api_server.py:528] args: Namespace(host=None, port=8000, model='Qwen/Qwen2.5-7B', tensor_parallel_size=2, max_model_len=32768, gpu_memory_utilization=0.9, served_model_name=None)",
    ),
    counter_examples=("INFO 06-03 02:01:19 [arg_utils.py:1] Parsed the args: all fine",),
)


_VERSION_LINE = re.compile(r"vLLM (?:API )?server version (?P<v>[^\s,]{1,40})(?:, serving model (?P<m>.{1,1024}))?$")
_LOGO_VERSION = re.compile(r"[█▀▄ ]  version (?P<v>[^\s]{1,40})$")
_LOGO_MODEL = re.compile(r"[█▀▄ ]  model +(?P<m>\S.{0,1023})$")


def parse_version(message: str) -> VersionInfo | None:
    m = _VERSION_LINE.search(message)
    if m:
        return VersionInfo(m["v"], m["m"])
    if "█" in message:
        m = _LOGO_VERSION.search(message)
        if m:
            return VersionInfo(vllm_version=m["v"])
        m = _LOGO_MODEL.search(message)
        if m:
            return VersionInfo(model=m["m"].strip())
    return None


VERSION = Pattern(
    name="version",
    versions="'vLLM API server version X' 0.4.0-0.14.1; logo / 'vLLM server version X, serving model M' 0.15.0-0.33.0",
    anchors=("server version", "█"),
    parse=parse_version,
    examples=(
        "INFO 06-03 02:01:19 api_server.py:528] vLLM API server version 0.6.3",
        "(APIServer pid=2200) INFO 06-03 02:01:19 [utils.py:325]  ▄▄ ▄█ █     █     █ ▀▄▀ █  version 0.15.0",
        "(APIServer pid=2200) INFO 06-03 02:01:19 [utils.py:325]   █▄█▀ █     █     █     █  model   meta-llama/Llama-3.1-8B-Instruct",
        "(APIServer pid=2200) INFO 06-03 02:01:19 [api_utils.py:1] vLLM server version 0.20.0, serving model Qwen/Qwen3-8B",
    ),
    counter_examples=("(APIServer pid=2200) INFO 06-03 02:01:19 [utils.py:325]        █     █     █▄   ▄█",),
)


_MODEL_INFO = re.compile(
    rf"Auto-fit max_model_len: (?:reduced from (?P<from>\d{{1,9}}) to (?P<to>\d{{1,9}}) to fit in available"
    rf"|full model context length (?P<full>\d{{1,9}}) fits in available"
    rf"|attention-free model, using derived max_model_len=(?P<free>\d{{1,9}}))"
    rf"(?: (?:GPU|KV cache) memory \((?P<kv>{UNUM}) GiB)?"
    r"|Using max model len (?P<len>\d{1,9})\b"
    r"|Resolved architecture: (?P<arch>\w{1,128})"
    r"|Chunked prefill is enabled with max_num_batched_tokens=(?P<mnbt>\d{1,9})"
)

MODEL_INFO = _regex_pattern(
    "model_info",
    "'Using max model len' and 'Resolved architecture' (config/model.py, ~0.10+); chunked prefill line 0.4.3+; "
    "'Auto-fit max_model_len: reduced from A to B to fit in available GPU memory (X GiB available for KV cache)' / 'full model context length A fits in available GPU memory' 0.20.0-0.29.0 (v1/core/kv_cache_utils.py), "
    "'... to fit in available KV cache memory (X GiB GPU)' / '... fits in available KV cache memory (X GiB GPU)' 0.32.0-0.33.0 (kv_cache_planning.py in 0.33)",
    ("Using max model len", "Resolved architecture", "Chunked prefill is enabled", "Auto-fit max_model_len"),
    _MODEL_INFO.pattern,
    lambda m: ModelInfo(
        max_model_len=int(m["len"]) if m["len"] else None,
        architecture=m["arch"],
        max_num_batched_tokens=int(m["mnbt"]) if m["mnbt"] else None,
        auto_fit_max_model_len=int(m["to"] or m["full"] or m["free"]) if (m["to"] or m["full"] or m["free"]) else None,
        auto_fit_from_max_model_len=int(m["from"] or m["full"]) if (m["from"] or m["full"]) else None,
        auto_fit_kv_cache_memory_gib=float(m["kv"]) if m["kv"] else None,
    ),
    (
        "(EngineCore pid=1033) INFO 12-01 08:25:58 [kv_cache_utils.py:1977] Auto-fit max_model_len: full model context length 40960 fits in available GPU memory",
        "(EngineCore pid=1033) INFO 12-01 08:25:58 [kv_cache_utils.py:1986] Auto-fit max_model_len: reduced from 131072 to 81920 to fit in available GPU memory (9.37 GiB available for KV cache)",
        "(EngineCore pid=1033) INFO 12-01 08:25:58 [kv_cache_planning.py:1405] Auto-fit max_model_len: reduced from 131072 to 81920 to fit in available KV cache memory (9.37 GiB GPU)",
        "(EngineCore pid=1033) INFO 12-01 08:25:58 [kv_cache_planning.py:1396] Auto-fit max_model_len: full model context length 40960 fits in available KV cache memory (11.18 GiB GPU)",
        "(EngineCore pid=1033) INFO 12-01 08:25:58 [kv_cache_utils.py:1952] Auto-fit max_model_len: attention-free model, using derived max_model_len=2048",
        "(APIServer pid=3022) INFO 11-21 16:25:43 [model.py:1883] Using max model len 8192",
        "(APIServer pid=3022) INFO 11-21 16:25:43 [model.py:645] Resolved architecture: Qwen3ForCausalLM",
        "(APIServer pid=3022) INFO 11-21 16:25:43 [scheduler.py:242] Chunked prefill is enabled with max_num_batched_tokens=8192.",
    ),
)


# --------------------------------------------------------------------------------------------
# Startup memory: weights, profile, KV budget, blocks, tokens, concurrency, CUDA graphs.

MODEL_WEIGHTS = _regex_pattern(
    "model_weights",
    "'Loading model weights took X GB' 0.4.0-0.7.3 (GB meaning GiB; XPU's model runner 'X GiB' 0.6-0.10); 'Model loading took X GB|GiB [memory] and Y seconds' 0.8.0-0.33.0",
    ("weights took", "Model loading took"),
    rf"(?:Loading model weights took (?P<gb>{UNUM}) (?P<unit0>GB|GiB)\b|Model loading took (?P<w>{UNUM}) (?P<unit>GiB|GB)(?: memory)? and (?P<s>{UNUM}) seconds)",
    lambda m: ModelWeights(float(m["gb"]), m["unit0"]) if m["gb"] else ModelWeights(float(m["w"]), m["unit"], float(m["s"])),
    (
        "INFO 06-03 02:01:19 model_runner.py:104] Loading model weights took 14.9891 GB",
        "INFO 06-03 02:01:19 xpu_model_runner.py:415] Loading model weights took 14.9891 GiB",
        "\x1b[1;36m(VllmWorkerProcess pid=2346)\x1b[0;0m INFO 06-03 02:01:19 model_runner.py:1071] Loading model weights took 7.4946 GB",
        "INFO 06-03 02:01:19 [gpu_model_runner.py:1140] Model loading took 14.9891 GB and 4.521337 seconds",
        "\x1b[1;36m(VllmWorker rank=0 pid=2345)\x1b[0;0m INFO 06-03 02:01:19 [gpu_model_runner.py:1347] Model loading took 7.4946 GiB and 2.981544 seconds",
        "(EngineCore pid=2301) INFO 06-03 02:01:19 [gpu_model_runner.py:5088] Model loading took 14.99 GiB memory and 4.521337 seconds",
        "(EngineCore pid=2301) INFO 06-03 02:01:19 [gpu_model_runner.py:5088] Model loading took 15 GiB memory and 4.521337 seconds",
    ),
    ("INFO 06-03 02:01:19 [default_loader.py:384] Loading weights took 3.87 seconds",),
)


_PROFILE_ONE_LINE = re.compile(r"(?<![a-z_])(?P<k>[a-z_]{1,40})=(?P<v>-?\d{1,9}(?:\.\d{1,9})?)(?:GiB|Gib)?")
_PROFILE_KEYS_ONE_LINE = {
    "duration": "profile_seconds",
    "total_gpu_memory": "total_gpu_memory_gib",
    "peak_torch_memory": "peak_torch_memory_gib",
    "non_torch_memory": "non_torch_memory_gib",
    "kv_cache_size": "kv_cache_memory_gib",
    "gpu_memory_utilization": "gpu_memory_utilization",
}
_PROFILE_TAKES = re.compile(rf"Memory profiling takes (?P<s>{UNUM}) seconds")
_PROFILE_CAN_USE = re.compile(
    rf"can use total_gpu_memory \((?P<total>{UNUM}) ?GiB\) x gpu_memory_utilization \((?P<util>{UNUM})\) = (?P<req>{UNUM}) ?GiB"
)
_PROFILE_TAKE = re.compile(
    rf"model weights take (?P<w>{NUM}) ?GiB; non_torch_memory takes (?P<nt>{NUM}) ?GiB; "
    rf"PyTorch activation peak memory takes (?P<act>{NUM}) ?GiB; the rest of the memory reserved for KV Cache is (?P<kv>{NUM}) ?GiB"
)
# The short-lived tab-separated table (0.6.5 development builds): "<key>\t<value>".
_PROFILE_TABLE = re.compile(
    r"(?P<k>duration|total_gpu_memory|gpu_memory_utilization|the current vLLM instance can use|model weights take"
    r"|non_torch_memory|PyTorch activation peak memory|available_kv_cache_memory)\s+"
    rf"(?P<v>{NUM})\s?(?:GiB|seconds)?\s*$"
)
_PROFILE_TABLE_KEYS = {
    "duration": "profile_seconds",
    "total_gpu_memory": "total_gpu_memory_gib",
    "gpu_memory_utilization": "gpu_memory_utilization",
    "the current vLLM instance can use": "requested_memory_gib",
    "model weights take": "model_weights_gib",
    "non_torch_memory": "non_torch_memory_gib",
    "PyTorch activation peak memory": "activation_peak_gib",
    "available_kv_cache_memory": "kv_cache_memory_gib",
}
_AVAILABLE_KV = re.compile(rf"Available KV cache memory: (?P<kv>{NUM}) GiB")
_RESERVED_KV = re.compile(
    rf"Initial free memory (?P<free>{UNUM}) ?GiB, reserved (?P<kv>{UNUM}) ?GiB memory for KV Cache as specified by kv_cache_memory_bytes"
)
_NON_KV = re.compile(rf"Total non KV cache memory: (?P<nkv>{NUM}) ?GiB")


def parse_memory_profile(message: str) -> MemoryProfile | None:
    if message.startswith("Memory profiling results: ") and "=" in message[26:60]:
        # 0.6.4's one-line form (space-separated) and the ", "-separated one with duration=.
        values = {}
        for part in _PROFILE_ONE_LINE.finditer(message):
            key = _PROFILE_KEYS_ONE_LINE.get(part["k"])
            if key:
                values[key] = float(part["v"])
        return MemoryProfile(**values, engine="v0") if values else None
    m = _AVAILABLE_KV.search(message)
    if m:
        return MemoryProfile(kv_cache_memory_gib=float(m["kv"]), engine="v1")
    m = _RESERVED_KV.search(message)
    if m:  # --kv-cache-memory: no profile, no "Available KV cache memory" line
        return MemoryProfile(kv_cache_memory_gib=float(m["kv"]), initial_free_memory_gib=float(m["free"]))
    m = _PROFILE_TAKE.search(message)
    if m:
        return MemoryProfile(
            model_weights_gib=float(m["w"]),
            non_torch_memory_gib=float(m["nt"]),
            activation_peak_gib=float(m["act"]),
            kv_cache_memory_gib=float(m["kv"]),
            engine="v0",
        )
    m = _PROFILE_CAN_USE.search(message)
    if m:
        return MemoryProfile(
            total_gpu_memory_gib=float(m["total"]),
            gpu_memory_utilization=float(m["util"]),
            requested_memory_gib=float(m["req"]),
            engine="v0",
        )
    m = _PROFILE_TAKES.search(message)
    if m:
        # V0 0.6.5-0.10.2 at INFO; V1 prints "Memory profiling takes X seconds. Total non KV..." at DEBUG.
        non_kv = _NON_KV.search(message)
        return MemoryProfile(
            profile_seconds=float(m["s"]),
            non_kv_cache_memory_gib=float(non_kv["nkv"]) if non_kv else None,
            engine=None if "Total non KV" in message else "v0",
        )
    m = _PROFILE_TABLE.match(message)
    if m:
        return MemoryProfile(**{_PROFILE_TABLE_KEYS[m["k"]]: float(m["v"])}, engine="v0")
    return None


MEMORY_PROFILE = Pattern(
    name="memory_profile",
    versions=(
        "V0 one-line 'Memory profiling results: k=v ...' 0.6.4; V0 table (0.6.5 dev builds); "
        "V0 three lines 'Memory profiling takes' / 'can use total_gpu_memory' / 'model weights take' 0.6.5-0.10.2; "
        "V1 'Available KV cache memory: X GiB' 0.9.1-0.33.0; "
        "'Initial free memory X GiB, reserved Y GiB memory for KV Cache as specified by kv_cache_memory_bytes' V0 worker.py 0.10.2, V1 gpu_worker.py 0.10.2-0.33.0 ('YGiB' unspaced 0.10.2); "
        "V1 DEBUG 'Memory profiling takes S seconds. Total non KV cache memory: XGiB; ...' (utils/mem_utils.py 0.7.0-0.33.0); "
        "the ', '-separated one-line 'Memory profiling results: duration=S seconds, total_gpu_memory=XGiB, ...' form"
    ),
    anchors=(
        "Memory profiling",
        "total_gpu_memory",
        "model weights take",
        "Available KV cache memory",
        "as specified by kv_cache_memory_bytes",
        "gpu_memory_utilization ",
        "non_torch_memory ",
        "activation peak memory ",
        "available_kv_cache_memory",
        "duration ",
        "instance can use ",
    ),
    parse=parse_memory_profile,
    examples=(
        "INFO 06-03 02:01:19 worker.py:232] Memory profiling results: total_gpu_memory=79.19GiB initial_memory_usage=15.68GiB peak_torch_memory=16.37GiB memory_usage_post_profile=16.02Gib non_torch_memory=0.34GiB kv_cache_size=54.87GiB gpu_memory_utilization=0.90",
        "INFO 06-03 02:01:19 [worker.py:287] Memory profiling takes 3.12 seconds",
        "INFO 06-03 02:01:19 [worker.py:287] the current vLLM instance can use total_gpu_memory (79.19GiB) x gpu_memory_utilization (0.90) = 71.27GiB",
        "INFO 06-03 02:01:19 [worker.py:287] model weights take 14.99GiB; non_torch_memory takes 0.34GiB; PyTorch activation peak memory takes 1.19GiB; the rest of the memory reserved for KV Cache is 54.75GiB.",
        "INFO 02-26 09:54:05 worker.py:267] model weights take 5.20GiB; non_torch_memory takes 0.03GiB; PyTorch activation peak memory takes 1.42GiB; the rest of the memory reserved for KV Cache is -1.05GiB.",
        "INFO 12-13 19:54:18 worker.py:243] total_gpu_memory     79.22GiB",
        "INFO 12-13 19:54:18 worker.py:243] PyTorch activation peak memory       1.26GiB",
        "(EngineCore pid=2301) INFO 06-03 02:01:19 [gpu_worker.py:772] Available KV cache memory: 54.38 GiB",
        "INFO 06-03 02:01:19 [gpu_worker.py:243] Initial free memory 78.53122329711914 GiB, reserved 10.00GiB memory for KV Cache as specified by kv_cache_memory_bytes config and skipped memory profiling. This does does not respect the gpu_memory_utilization config.",
        "(EngineCore pid=2301) INFO 06-03 02:01:19 [gpu_worker.py:351] Initial free memory 78.53 GiB, reserved 10.0 GiB memory for KV Cache as specified by kv_cache_memory_bytes config and skipped memory profiling. This does not respect the gpu_memory_utilization config. Only use kv_cache_memory_bytes config when you want manual control of KV cache memory size.",
        "(EngineCore pid=2301) DEBUG 06-03 02:01:19 [gpu_worker.py:300] Memory profiling takes 2.41 seconds. Total non KV cache memory: 16.42GiB; torch peak memory increase: 1.29GiB; non-torch forward increase memory: 0.22GiB; weights memory: 15.27GiB.",
        "INFO 06-03 02:01:19 worker.py:232] Memory profiling results: duration=3.12 seconds, total_gpu_memory=79.19GiB, initial_memory_usage=15.68GiB, peak_torch_memory=16.37GiB, memory_usage_post_profile=16.02GiB, non_torch_memory=0.34GiB, kv_cache_size=54.87GiB, gpu_memory_utilization=0.90",
    ),
    counter_examples=(
        "INFO 12-13 19:54:18 worker.py:243] Memory profiling results:",
        "INFO 06-03 02:01:19 [gpu_worker.py:1] total_gpu_memory is a key word in this sentence",
    ),
)


_DEVICE_REPORT = re.compile(
    rf"Free memory on device \((?P<free>{UNUM})/(?P<total>{UNUM}) GiB\) on startup\. "
    rf"Desired GPU memory utilization is \((?P<util>{UNUM}), (?P<req>{UNUM}) GiB\)\. "
    rf"Actual usage is (?:(?P<consumed>{NUM}) GiB for consumed memory \(weights \+ non-torch\), "
    rf"(?P<act>{NUM}) GiB for peak activation, and "
    rf"|(?P<weights>{NUM}) GiB for weight, (?P<act26>{NUM}) GiB for peak activation, (?P<nt>{NUM}) GiB for non-torch memory, and )"
    rf"(?P<graph>{NUM}) GiB for CUDAGraph memory\."
    rf"(?:.{{0,2048}}?Current kv cache memory in use is (?P<kv>{NUM}) GiB)?"
)

DEVICE_MEMORY_REPORT = _regex_pattern(
    "device_memory_report",
    "V1 gpu_worker.py after CUDA graph capture (format_gib values): 'X GiB for weight, Y GiB for peak activation, Z GiB for non-torch memory, and W GiB for CUDAGraph memory' 0.11.x-0.26.0 (unrounded floats in 0.11); 'X GiB for consumed memory (weights + non-torch), Y GiB for peak activation, and W GiB for CUDAGraph memory' 0.27.0-0.33.0",
    ("Free memory on device (",),
    _DEVICE_REPORT.pattern,
    lambda m: DeviceMemoryReport(
        free_memory_gib=float(m["free"]),
        total_gpu_memory_gib=float(m["total"]),
        gpu_memory_utilization=float(m["util"]),
        requested_memory_gib=float(m["req"]),
        consumed_memory_gib=float(m["consumed"]) if m["consumed"] else None,
        activation_peak_gib=float(m["act"] or m["act26"]),
        cuda_graph_gib=float(m["graph"]),
        kv_cache_memory_gib=float(m["kv"]) if m["kv"] else None,
        model_weights_gib=float(m["weights"]) if m["weights"] else None,
        non_torch_memory_gib=float(m["nt"]) if m["nt"] else None,
    ),
    (
        "(EngineCore pid=1033) INFO 12-01 08:26:04 [gpu_worker.py:857] Free memory on device (139.29/139.8 GiB) on startup. Desired GPU memory utilization is (0.2, 27.96 GiB). Actual usage is 15.27 GiB for weight, 1.29 GiB for peak activation, 0.22 GiB for non-torch memory, and 1.0 GiB for CUDAGraph memory. Replace gpu_memory_utilization config with `--kv-cache-memory=10773548544` (10.03 GiB) to fit into requested memory, or `--kv-cache-memory=148354129920` (138.17 GiB) to fully utilize gpu memory. Current kv cache memory in use is 11.18 GiB.",
        "(EngineCore pid=3145) INFO 11-21 16:26:38 [gpu_worker.py:789] Free memory on device (78.66/79.18 GiB) on startup. Desired GPU memory utilization is (0.9, 71.26 GiB). Actual usage is 16.17 GiB for consumed memory (weights + non-torch), 0.75 GiB for peak activation, and 0.54 GiB for CUDAGraph memory. Replace gpu_memory_utilization config with `--kv-cache-memory=57616193434` (53.66 GiB) to fit into requested memory, or `--kv-cache-memory=65565539840` (61.06 GiB) to fully utilize gpu memory. Current kv cache memory in use is 54.34 GiB.",
    ),
    ("ValueError: Free memory on device cuda:0 (5.1/47.5 GiB) on startup is less than desired GPU memory utilization (0.9, 42.75 GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",),
)


_BLOCKS = re.compile(
    r"# (?P<device>[A-Za-z]{2,10}) blocks: (?P<gpu>-?\d{1,12})(?:, # CPU blocks: (?P<cpu>\d{1,12}))?"
    r"|num_gpu_blocks is: (?P<n>\d{1,12})"
    r"|Overriding num_gpu_blocks=(?P<was>-?\d{1,12}) with num_gpu_blocks_override=(?P<override>\d{1,12})"
)


def _build_blocks(m: re.Match) -> KvCacheBlocks:
    if m["n"] is not None:
        return KvCacheBlocks(gpu_blocks=int(m["n"]))
    if m["override"] is not None:
        return KvCacheBlocks(gpu_blocks=int(m["override"]), overridden_gpu_blocks=int(m["was"]))
    device = m["device"]
    if m["cpu"] is None and device == "CPU":
        # The CPU executor prints "# CPU blocks: N" alone for its device cache.
        return KvCacheBlocks(gpu_blocks=int(m["gpu"]), device=device)
    return KvCacheBlocks(int(m["gpu"]), int(m["cpu"]) if m["cpu"] is not None else None, device)


KV_CACHE_BLOCKS = _regex_pattern(
    "kv_cache_blocks",
    "'Overriding num_gpu_blocks=N with num_gpu_blocks_override=M' V0 0.4.3-0.10.2 (worker.py), V1 0.6.4-0.33.0 (kv_cache_utils.py; kv_cache_planning.py 0.33); the first figure is negative when nothing is left (V0 prints '-1'); "
    "V0 '# GPU blocks: N, # CPU blocks: M' 0.3.3-0.6.6 ('# CUDA blocks' 0.7.0-0.7.2, '# cuda blocks' 0.7.3-0.10.2; TPU/HPU/XPU variants); V1 '# GPU blocks: N' 0.6.4-0.7.3",
    ("blocks: ", "num_gpu_blocks is: ", "num_gpu_blocks_override="),
    _BLOCKS.pattern,
    _build_blocks,
    (
        "INFO 06-03 02:01:19 gpu_executor.py:94] # GPU blocks: 28032, # CPU blocks: 2048",
        "INFO 06-03 02:01:19 executor_base.py:110] # CUDA blocks: 28032, # CPU blocks: 2048",
        "INFO 02-11 10:17:54 [executor_base.py:113] # cuda blocks: 36184, # CPU blocks: 2340",
        "INFO 06-03 02:01:19 kv_cache_utils.py:407] # GPU blocks: 27842",
        "INFO 06-03 02:01:19 cpu_executor.py:1] # CPU blocks: 4096",
        "INFO 02-26 09:54:05 executor_base.py:110] # CUDA blocks: -1, # CPU blocks: 512",
        "INFO 06-03 02:01:19 [worker.py:1] Overriding num_gpu_blocks=28032 with num_gpu_blocks_override=512",
        "(EngineCore pid=2301) INFO 06-03 02:01:19 [kv_cache_utils.py:2116] Overriding num_gpu_blocks=27842 with num_gpu_blocks_override=1024",
    ),
    ("INFO 06-03 02:01:19 [block_manager.py:1] Freed blocks: 12",),
)


_KV_SIZE = re.compile(
    rf"(?<![\w+])(?P<device>[A-Z][A-Za-z0-9_]{{0,15}})(?P<host> \+ host)? KV cache size: (?P<tokens>{INT_COMMAS}) tokens"
    rf"(?:, Maximum concurrency for (?P<len>{INT_COMMAS}) tokens per request: (?P<x>{UNUM})x)?"
)

KV_CACHE_SIZE = _regex_pattern(
    "kv_cache_size",
    "V1 'GPU KV cache size: N tokens' 0.8.0-0.27.1; merged with max concurrency 0.28.0-0.31.0; '%s KV cache size' 0.32.0-0.33.0 with the device word (GPU, or device_type.upper(): XPU, CPU, TPU ...) and ' + host' with CPU offloading",
    ("KV cache size: ",),
    _KV_SIZE.pattern,
    lambda m: KvCacheSize(
        to_int(m["tokens"]),
        m["device"],
        float(m["x"]) if m["x"] else None,
        to_int(m["len"]) if m["len"] else None,
        True if m["host"] else None,
    ),
    (
        "INFO 06-03 02:01:19 [kv_cache_utils.py:634] GPU KV cache size: 445,472 tokens",
        "(EngineCore pid=2301) INFO 06-03 02:01:19 [kv_cache_utils.py:2328] GPU + host KV cache size: 890,944 tokens, Maximum concurrency for 8,192 tokens per request: 108.76x",
        "(EngineCore pid=2301) INFO 06-03 02:01:19 [kv_cache_utils.py:1148] XPU KV cache size: 120,000 tokens, Maximum concurrency for 32,768 tokens per request: 3.66x",
        "(EngineCore pid=2301) INFO 06-03 02:01:19 [kv_cache_utils.py:1147] GPU KV cache size: 445,472 tokens, Maximum concurrency for 8,192 tokens per request: 54.38x",
    ),
)

_CONCURRENCY = re.compile(rf"Maximum concurrency for (?P<len>{INT_COMMAS}) tokens per request: (?P<x>{UNUM})x")

MAX_CONCURRENCY = _regex_pattern(
    "max_concurrency",
    "V0 0.6.3-0.10.2 (int); V1 0.7.1-0.7.3 (int), 0.8.0-0.27.1 (thousands commas); merged into the KV size line 0.28+",
    ("Maximum concurrency for",),
    _CONCURRENCY.pattern,
    lambda m: MaxConcurrency(float(m["x"]), to_int(m["len"])),
    (
        "INFO 06-03 02:01:19 gpu_executor.py:126] Maximum concurrency for 8192 tokens per request: 54.75x",
        "INFO 06-03 02:01:19 [kv_cache_utils.py:637] Maximum concurrency for 8,192 tokens per request: 54.38x",
    ),
)

CUDA_GRAPH = _regex_pattern(
    "cuda_graph",
    "'Graph capturing finished in S secs.' 0.3.3-0.6.3.post1; '..., took G GiB' 0.6.4-0.33.0 (V0, V1, Model Runner V2)",
    ("Graph capturing finished",),
    rf"Graph capturing finished in (?P<s>{UNUM}) secs?(?:, took (?P<g>{NUM}) GiB)?",
    lambda m: CudaGraph(float(m["s"]), float(m["g"]) if m["g"] else None),
    (
        "INFO 06-03 02:01:19 model_runner.py:867] Graph capturing finished in 12 secs.",
        "(EngineCore pid=2301) INFO 06-03 02:01:19 [gpu_model_runner.py:6133] Graph capturing finished in 8 secs, took 0.54 GiB",
    ),
)

_GRAPH_POOL = re.compile(rf"CUDA graph pool memory: (?P<actual>{NUM}) GiB \(actual\), (?P<est>{NUM}) GiB \(estimated\)")
_GRAPH_NOTICE = re.compile(
    rf"CUDA graph memory profiling is enabled \(default since v[\d.]{{1,12}}\)\. The current --gpu-memory-utilization=(?P<u>{UNUM}) is "
    rf"equivalent to --gpu-memory-utilization=(?P<e>{UNUM}) without CUDA graph memory profiling\."
    rf"(?:.{{0,200}}?increase --gpu-memory-utilization to (?P<s>{UNUM}))?"
)


def parse_cuda_graph_memory(message: str) -> CudaGraphMemory | None:
    m = _GRAPH_POOL.search(message)
    if m:
        return CudaGraphMemory(actual_gib=float(m["actual"]), estimated_gib=float(m["est"]))
    m = _GRAPH_NOTICE.search(message)
    if m:
        return CudaGraphMemory(
            gpu_memory_utilization=float(m["u"]),
            equivalent_utilization_without_profiling=float(m["e"]),
            suggested_utilization=float(m["s"]) if m["s"] else None,
        )
    return None


CUDA_GRAPH_MEMORY = Pattern(
    name="cuda_graph_memory",
    versions="V1 gpu_worker.py 0.20.0-0.33.0: 'CUDA graph pool memory: A GiB (actual), B GiB (estimated), difference: ...' (DEBUG/INFO) and the 'CUDA graph memory profiling is enabled (default since v0.21.0). The current --gpu-memory-utilization=%.4f is equivalent to --gpu-memory-utilization=%.4f without ...' notice",
    anchors=("CUDA graph pool memory", "CUDA graph memory profiling is enabled"),
    parse=parse_cuda_graph_memory,
    examples=(
        "(EngineCore pid=1033) INFO 12-01 08:26:04 [gpu_worker.py:794] CUDA graph pool memory: 1.0 GiB (actual), 0.94 GiB (estimated), difference: 0.06 GiB (6.0%).",
        "(EngineCore pid=1033) INFO 12-01 08:25:58 [gpu_worker.py:576] CUDA graph memory profiling is enabled (default since v0.21.0). The current --gpu-memory-utilization=0.9000 is equivalent to --gpu-memory-utilization=0.8876 without CUDA graph memory profiling. To maintain the same effective KV cache size as before, increase --gpu-memory-utilization to 0.9124. To disable, set VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0.",
    ),
)


ENGINE_INIT = _regex_pattern(
    "engine_init",
    "'init engine (profile, create kv cache, warmup model) took X seconds' 0.6.5-0.19.1; '... took X s [(compilation: Y s ...)]' 0.20.0-0.33.0",
    ("init engine (",),
    rf"init engine \(profile, create kv cache, warmup model\) took (?P<s>{UNUM}) (?:seconds|s)(?: \(compilation: (?P<c>{UNUM}) s)?",
    lambda m: EngineInit(float(m["s"]), float(m["c"]) if m["c"] else None),
    (
        "INFO 02-11 10:17:59 [llm_engine.py:428] init engine (profile, create kv cache, warmup model) took 5.13 seconds",
        "(EngineCore pid=3145) INFO 11-21 16:26:59 [core.py:348] init engine (profile, create kv cache, warmup model) took 44.58 s (compilation: 5.72 s)",
    ),
)


# --------------------------------------------------------------------------------------------
# Other periodic lines.

PREFIX_CACHE_HIT = _regex_pattern(
    "prefix_cache_hit",
    "V0 0.5.5-0.10.2, after a stats line when prefix caching is on",
    ("Prefix cache hit rate: GPU",),
    rf"^Prefix cache hit rate: GPU: (?P<g>{UNUM})%(?:, CPU: (?P<c>{UNUM})%)?",
    lambda m: PrefixCacheHit(float(m["g"]), float(m["c"]) if m["c"] else None),
    ("INFO 06-03 02:01:19 metrics.py:361] Prefix cache hit rate: GPU: 61.23%, CPU: 0.00%",),
)

_SPEC_FIELDS = {
    "Draft acceptance rate": ("acceptance_rate_pct", float),
    "Avg Draft acceptance rate": ("acceptance_rate_pct", float),
    "Mean acceptance length": ("mean_acceptance_length", float),
    "Accepted": ("accepted_tokens", int),
    "Drafted": ("drafted_tokens", int),
    "Number of accepted tokens": ("accepted_tokens", int),
    "Number of draft tokens": ("drafted_tokens", int),
    "Accepted throughput": ("accepted_tps", float),
    "Drafted throughput": ("drafted_tps", float),
}


def parse_spec_decode(message: str) -> SpecDecode | None:
    start = message.find("SpecDecoding metrics: ")
    if start < 0:
        start = message.find("Speculative metrics: ")
        if start < 0:
            return None
    body = message[message.index(": ", start) + 2:].rstrip(" .")
    values = {}
    for part in body.split(", "):
        label, sep, rest = part.partition(": ")
        known = _SPEC_FIELDS.get(label)
        if not sep or known is None:
            continue
        number = _FIRST_NUMBER.match(rest)
        if number:
            name, convert = known
            try:
                values[name] = convert(number.group())
            except ValueError:
                continue
    if message.startswith("Speculative metrics", start) and "acceptance_rate_pct" in values:
        # V0 prints the acceptance rate as a fraction ("0.723"): express it in percent.
        values["acceptance_rate_pct"] = round(values["acceptance_rate_pct"] * 100, 6)
    return SpecDecode(**values) if values else None


SPEC_DECODE = Pattern(
    name="spec_decode",
    versions="V0 'Speculative metrics: ...' 0.4.1-0.9.2; V1 'SpecDecoding metrics: ...' 0.8.3-0.33.0",
    anchors=("SpecDecoding metrics", "Speculative metrics"),
    parse=parse_spec_decode,
    examples=(
        "(APIServer pid=5020) INFO 05-19 10:30:33 [metrics.py:101] SpecDecoding metrics: Mean acceptance length: 2.53, Accepted throughput: 553.18 tokens/s, Drafted throughput: 721.24 tokens/s, Accepted: 5533 tokens, Drafted: 7214 tokens, Per-position acceptance rate: 0.832, 0.702, Avg Draft acceptance rate: 76.7%",
        "INFO 06-03 02:01:19 [metrics.py:1] SpecDecoding metrics: Draft acceptance rate: 61.5%, Accepted: 100 tokens, Drafted: 160 tokens",
    ),
)


# --------------------------------------------------------------------------------------------
# Failures and warnings.

_PREEMPTION = re.compile(
    r"Sequence group (?P<id>\S{1,256}) is preempted by (?:PreemptionMode\.)?(?P<mode>[A-Z_]{1,16}) mode because there is not enough KV cache space"
    r"(?:.{0,512}?total_num_cumulative_preemption=(?P<n>\d{1,12}))?"
)


def _build_preemption(m: re.Match) -> Preemption:
    total = int(m["n"]) if m["n"] else None
    message = f"Sequence group {m['id']} is preempted by PreemptionMode.{m['mode']} mode because there is not enough KV cache space"
    if total is not None:
        message += f"; total_num_cumulative_preemption={total}"
    return Preemption(m["mode"], m["id"], total, message)


PREEMPTION = _regex_pattern(
    "preemption",
    "V0 WARNING in core/scheduler.py 0.4.3-0.10.2 (printed on the 1st, 51st, 101st ... preemption); V1 has no per-event line (see the stats 'Preemptions' part)",
    ("is preempted by",),
    _PREEMPTION.pattern,
    _build_preemption,
    (
        "WARNING 06-16 21:24:15 scheduler.py:1089] Sequence group 165 is preempted by PreemptionMode.SWAP mode because there is not enough KV cache space. This can affect the end-to-end performance. Increase gpu_memory_utilization or tensor_parallel_size to provide more KV cache memory. total_num_cumulative_preemption=151",
        "WARNING 06-03 02:01:19 scheduler.py:1484] Sequence group chat-5f0c0d1e is preempted by PreemptionMode.RECOMPUTE mode because there is not enough KV cache space. This can affect the end-to-end performance. Increase gpu_memory_utilization or tensor_parallel_size to provide more KV cache memory. total_num_cumulative_preemption=51",
    ),
)


_KV_TOO_SMALL_V1 = re.compile(
    rf"To serve at least one request with the models?'s max seq len \((?P<len>\d{{1,9}})\), "
    rf"\((?P<need>{UNUM}) (?:GiB|GB) KV cache is needed, which is larger than the available KV cache memory \((?P<avail>{NUM}) (?:GiB|GB)\)"
    r"(?:.{0,200}?the estimated maximum model length is (?P<est>\d{1,9}))?"
)
_KV_TOO_SMALL_V0 = re.compile(
    r"The model's max seq len \((?P<len>\d{1,9})\) is larger than the maximum number of tokens that can be stored in KV cache \((?P<tok>\d{1,12})\)"
)


def parse_insufficient_kv(message: str) -> ErrorEvent | None:
    m = _KV_TOO_SMALL_V1.search(message)
    if m:
        est = int(m["est"]) if m["est"] else None
        text = (
            f"max seq len {m['len']} needs {m['need']} GiB KV cache, larger than the available KV cache memory ({m['avail']} GiB)"
        )
        if est is not None:
            text += f"; estimated maximum model length {est}"
        return ErrorEvent(
            "insufficient_kv_cache",
            text,
            max_model_len=int(m["len"]),
            kv_cache_needed_gib=float(m["need"]),
            kv_cache_memory_gib=float(m["avail"]),
            estimated_max_model_len=est,
            engine="v1",
        )
    m = _KV_TOO_SMALL_V0.search(message)
    if m:
        return ErrorEvent(
            "insufficient_kv_cache",
            f"max seq len {m['len']} is larger than the maximum number of tokens that can be stored in KV cache ({m['tok']})",
            max_model_len=int(m["len"]),
            kv_cache_tokens=int(m["tok"]),
            engine="v0",
        )
    return None


INSUFFICIENT_KV_CACHE = Pattern(
    name="insufficient_kv_cache",
    versions="V1 ValueError 'To serve at least one request with the models's max seq len' 0.7.0-0.21.0 ('model's' 0.22.0-0.33.0; GB in 0.7.0-0.8.2); V0 'The model's max seq len (N) is larger than the maximum number of tokens' 0.3.3-0.10.2",
    anchors=("To serve at least one request", "is larger than the maximum number of tokens"),
    parse=parse_insufficient_kv,
    examples=(
        "(EngineCore pid=2301) ERROR 06-03 02:01:19 [core.py:1584] ValueError: To serve at least one request with the model's max seq len (131072), (16.0 GiB KV cache is needed, which is larger than the available KV cache memory (9.37 GiB). Based on the available memory, the estimated maximum model length is 76752. Try increasing `gpu_memory_utilization` (which also controls CPU memory on the CPU backend) or decreasing `max_model_len` when initializing the engine. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details.",
        "ValueError: To serve at least one request with the models's max seq len (40960), (5.62 GiB KV cache is needed, which is larger than the available KV cache memory (2.39 GiB). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
        "The model's max seq len (29000) is larger than the maximum number of tokens that can be stored in KV cache (23648). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
    ),
)


def _first_sentences(text: str, limit: int = 200) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + "..."


_OOM = re.compile(
    r"(?:^|Error: |\] )(?P<msg>(?:CUDA|HIP) out of memory(?:\.| occurred when)[^\n]{0,4000}|CUDA error: out of memory)"
)
# "capacty": the spelling of PyTorch 2.1's message.
_OOM_CORE = re.compile(r"(?:CUDA|HIP) out of memory\.(?: Tried to allocate [\d.]+ [KMGT]i?B\.)?(?: GPU \d+ has a total capaci?ty of [\d.]+ [KMGT]i?B of which [\d.]+ [KMGT]i?B is free)?")


def parse_cuda_oom(message: str) -> ErrorEvent | None:
    m = _OOM.search(message)
    if m is None:
        return None
    text = m["msg"]
    core = _OOM_CORE.match(text)
    summary = core.group() if core and len(core.group()) > len("CUDA out of memory.") else _first_sentences(text, 160)
    return ErrorEvent("cuda_oom", summary)


CUDA_OOM = Pattern(
    name="cuda_oom",
    versions="PyTorch's OutOfMemoryError text (all versions, inside tracebacks); vLLM's 'CUDA out of memory occurred when warming up sampler' 0.8.0+",
    anchors=("out of memory",),
    parse=parse_cuda_oom,
    examples=(
        "ERROR 03-13 09:00:43 [core.py:330] torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.16 GiB. GPU 0 has a total capacity of 7.75 GiB of which 1.17 GiB is free. Including non-PyTorch memory, this process has 5.02 GiB memory in use.",
        "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 23.69 GiB total capacity; 22.90 GiB already allocated)",
        "RuntimeError: CUDA out of memory occurred when warming up sampler with 256 dummy requests. Please try lowering `max_num_seqs` or `gpu_memory_utilization` when initializing the engine.",
        "RuntimeError: CUDA error: out of memory",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacty of 23.69 GiB of which 2.56 MiB is free. Process 1 has 23.6 GiB memory in use.",
    ),
    counter_examples=(
        "INFO 02-11 10:17:57 [model_runner.py:1513] Capturing cudagraphs for decoding. If out-of-memory error occurs during cudagraph capture, consider decreasing `gpu_memory_utilization`.",
        "INFO 06-03 02:01:19 [gpu_worker.py:1] To avoid CUDA out of memory errors, lower max_num_seqs",
    ),
)


# (regex, kind, summary): simple failures whose message is a fixed sentence.
# (regex, kind, engine): the engine is set where only one engine prints the sentence.
_SIMPLE_FAILURES: tuple[tuple[re.Pattern, str, str | None], ...] = (
    (re.compile(r"No available memory for the cache blocks"), "no_kv_cache_memory", None),
    (re.compile(r"EngineCore failed to start"), "engine_startup_failed", "v1"),
    (re.compile(r"Engine core initialization failed"), "engine_startup_failed", "v1"),
    (re.compile(r"Engine process failed to start"), "engine_startup_failed", "v0"),
    (
        re.compile(
            rf"Free memory on device(?: \S{{1,32}})? \((?P<free>{UNUM})/(?P<total>{UNUM}) GiB\) on startup is less than desired GPU memory utilization \((?P<util>{UNUM}), (?P<req>{UNUM}) GiB\)"
        ),
        "engine_startup_failed",
        "v1",
    ),
    # V0 worker.py 0.4.3-0.10.2 and V1 gpu_worker.py: an assertion when GPU memory changed under the profiler.
    (re.compile(r"Error in memory profiling\. (?:Initial (?:free|used) memory|currently used memory)"), "engine_startup_failed", None),
    (re.compile(r"Failed to load model - not enough GPU memory"), "cuda_oom", "v1"),
    (re.compile(r"WorkerProc failed to start"), "engine_startup_failed", "v1"),
    (re.compile(r"WorkerProc initialization failed due to an exception in a background process"), "engine_startup_failed", "v1"),
    (re.compile(r"Frontend process failed during engine core initialization"), "engine_startup_failed", "v1"),
    (re.compile(r"Cannot auto-fit max_model_len: not enough GPU memory"), "no_kv_cache_memory", "v1"),
    (re.compile(r"\[shutdown\] MPClient: engine core exited unexpectedly"), "engine_fatal", "v1"),
    (re.compile(r"Engine core process \S{1,64} died unexpectedly"), "engine_fatal", "v1"),
    (re.compile(r"Process \S{1,64} \(PID: \d{1,10}\) died with exit code -?\d{1,5}"), "engine_fatal", "v1"),
    (re.compile(r"EngineCore encountered (?:a fatal error|an issue)"), "engine_fatal", "v1"),
    (re.compile(r"Got fatal signal from worker processes"), "engine_fatal", "v1"),
    (re.compile(r"AsyncLLM output_handler failed"), "engine_fatal", "v1"),
    (re.compile(r"(?:AsyncLLMEngine|MQLLMEngine) (?:has failed|is already dead), terminating server process"), "engine_fatal", "v0"),
    (re.compile(r"Background loop (?:has errored already|is not running|is stopped)"), "engine_fatal", "v0"),
    (re.compile(r"Engine core proc \S{1,64} died unexpectedly"), "engine_fatal", "v1"),
    (re.compile(r"Engine process \(pid \d{1,10}\) died"), "engine_fatal", "v0"),
    (re.compile(r"Worker proc \S{1,64} died unexpectedly(?: \(exit code: -?\d{1,5}\))?"), "worker_died", "v1"),
    (re.compile(r"RayWorkerProc rank=\d{1,6} died unexpectedly"), "worker_died", "v1"),
)
_SENTENCE_END = re.compile(r"(?<=[.!])\s")
# config/model.py 0.4.3-0.33.0: a ValueError (inside pydantic's "Value error, ..." from 0.10), or a
# warning when VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 (then the caution follows the sentence directly).
_TOO_LONG = re.compile(r"User-specified max_model_len \((?P<len>\d{1,9})\) is greater than the derived max_model_len")
_TOO_LONG_ALLOWED = re.compile(r"config\.json\)\.\s{1,4}VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used")


def parse_failure(message: str) -> ErrorEvent | None:
    if "User-specified max_model_len" in message:
        m = _TOO_LONG.search(message)
        if m and not _TOO_LONG_ALLOWED.search(message, m.end(), m.end() + 400):
            rest = message[m.start():]
            end = rest.find(" in model's config.json).")
            text = rest[: end + len(" in model's config.json).")] if 0 <= end < 400 else _first_sentences(rest)
            return ErrorEvent("engine_startup_failed", text, max_model_len=int(m["len"]))
    for rx, kind, engine in _SIMPLE_FAILURES:
        m = rx.search(message)
        if m is None:
            continue
        if kind == "engine_startup_failed" and "free" in rx.groupindex:
            return ErrorEvent(
                kind,
                f"free GPU memory on startup {m['free']}/{m['total']} GiB is less than desired GPU memory utilization ({m['util']}, {m['req']} GiB)",
                total_gpu_memory_gib=float(m["total"]),
                free_memory_gib=float(m["free"]),
                gpu_memory_utilization=float(m["util"]),
                engine=engine,
            )
        # The sentence that matched, up to its full stop: a short, stable summary; with the next
        # sentence when the first says little ("Error in memory profiling. Initial free ...").
        rest = message[m.start():]
        full_stop = _SENTENCE_END.search(rest)
        if full_stop and full_stop.start() < 40:
            full_stop = _SENTENCE_END.search(rest, full_stop.end())
        return ErrorEvent(kind, _first_sentences(rest[: full_stop.start()] if full_stop else rest), engine=engine)
    return None


FAILURES = Pattern(
    name="failures",
    versions="see each sentence: 'No available memory for the cache blocks' V0 0.3.3-0.10.2 / V1 0.7.0-0.33.0; 'Error in memory profiling. Initial free memory' V1 (0.2x: an assertion when other processes free GPU memory during profiling); 'EngineCore failed to start' / 'encountered a fatal error' V1 0.8.5-0.33.0; 'Engine core initialization failed' 0.8.4-0.33.0; 'Worker proc X died unexpectedly' 0.8.5-0.33.0; V0 AsyncEngineDeadError / 'terminating server process' 0.3.3-0.10.2; 'Free memory on device ... is less than desired' V1 ~0.9-0.33.0",
    anchors=(
        "No available memory",
        "Error in memory profiling",
        "User-specified max_model_len",
        "Failed to load model",
        "Cannot auto-fit",
        "exited unexpectedly",
        "died with exit code",
        "Frontend process failed",
        "failed to start",
        "initialization failed",
        "Free memory on device",
        "EngineCore encountered",
        "fatal signal",
        "output_handler failed",
        "terminating server process",
        "Background loop",
        "died",
    ),
    parse=parse_failure,
    examples=(
        "ERROR 06-03 02:01:19 [core.py:1] ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
        "(EngineCore pid=2301) ERROR 06-03 02:01:19 [core.py:1584] EngineCore failed to start.",
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {'EngineCore': 1}",
        "CRITICAL 03-13 09:00:43 [core_client.py:260] Got fatal signal from worker processes, shutting down. See stack trace above for root cause issue.",
        "(EngineCore_DP0 pid=5) ERROR 06-03 02:01:19 [core.py:1] EngineCore encountered a fatal error.",
        "ERROR 06-03 02:01:19 [multiproc_executor.py:1] Worker proc VllmWorker-1 died unexpectedly, shutting down executor.",
        "CRITICAL 06-03 02:01:19 launcher.py:99] AsyncLLMEngine has failed, terminating server process",
        "(EngineCore pid=9) ERROR 06-03 02:01:19 [core.py:1] AssertionError: Error in memory profiling. Initial free memory 70.1 GiB, current free memory 71.2 GiB. This happens when other processes sharing the same container release GPU memory while vLLM is profiling during initialization.",
        "ValueError: Free memory on device cuda:0 (5.1/47.5 GiB) on startup is less than desired GPU memory utilization (0.9, 42.75 GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
        "ERROR 06-03 02:01:19 worker.py:1] AssertionError: Error in memory profiling. Initial used memory 1054867456, currently used memory 2145386496. This happens when the GPU memory was not properly cleaned up before initializing the vLLM instance.",
        "(EngineCore pid=9) ERROR 06-03 02:01:19 [gpu_model_runner.py:5344] ValueError: Failed to load model - not enough GPU memory. Try lowering --gpu-memory-utilization to free memory for weights, increasing --tensor-parallel-size, or using --quantization. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more tips. (original error: CUDA out of memory. Tried to allocate 1.16 GiB.)",
        "(EngineCore pid=9) ERROR 06-03 02:01:19 [multiproc_executor.py:901] WorkerProc failed to start.",
        "Exception: WorkerProc initialization failed due to an exception in a background process. See stack trace for root cause.",
        "(APIServer pid=711) ERROR 06-03 02:01:19 [core_client.py:840] [shutdown] MPClient: engine core exited unexpectedly; starting cleanup",
        "RuntimeError: Engine core process EngineCore_DP0 died unexpectedly.",
        "RuntimeError: Process ApiServer_1 (PID: 4242) died with exit code 1",
        "RuntimeError: Frontend process failed during engine core initialization. See root cause above. Failed frontend proc(s): ['ApiServer_0']",
        "ValueError: Cannot auto-fit max_model_len: not enough GPU memory available to serve even a single token. Try increasing `gpu_memory_utilization`.",
        "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig\n  Value error, User-specified max_model_len (200000) is greater than the derived max_model_len (max_position_embeddings=40960 or model_max_length=None in model's config.json). To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1.",
        "  Value error, User-specified max_model_len (200000) is greater than the derived max_model_len (max_position_embeddings=40960 or model_max_length=None in model's config.json). To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme caution. [type=value_error, input_value=ArgsKwargs((), {'model': 'x'}), input_type=ArgsKwargs]",
    ),
    counter_examples=(
        "(APIServer pid=1) WARNING 06-03 02:01:19 [model.py:2679] User-specified max_model_len (200000) is greater than the derived max_model_len (max_position_embeddings=40960 or model_max_length=None in model's config.json). VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme caution. If the model uses relative position encoding (RoPE), positions exceeding derived_max_model_len lead to nan.",
        "(EngineCore pid=3145) INFO 11-21 16:29:32 [core.py:1332] [shutdown] EngineCore: trigger received signal=SIGTERM",
        "ERROR 03-13 09:00:43 [core.py:330] ",
    ),
)


# --------------------------------------------------------------------------------------------
# A clean stop (tried after FAILURES: "[shutdown] MPClient: engine core exited unexpectedly" and
# "Engine core process X died unexpectedly" are failures, not stops).

_SHUTDOWN_SIGNAL = re.compile(r"received (?:signal=)?(?P<sig>SIG[A-Z]{2,8})\b")
# Whole messages (uvicorn's and vLLM's own), matched exactly so prose that mentions a shutdown
# is not one.
_SHUTDOWN_EXACT = {
    "Shutting down": "shutdown requested",  # uvicorn
    "Waiting for application shutdown.": "shutdown requested",  # uvicorn
    "Application shutdown complete.": "shutdown requested",  # uvicorn
    "Shutting down FastAPI HTTP server.": "shutdown requested",  # vLLM launcher.py 0.5.x-0.22.1
    "Shutting down.": "shutdown requested",  # vLLM cli/serve.py
    "Shutting down vLLM gRPC server...": "shutdown requested",
    "Received KeyboardInterrupt, shutting down API servers...": "keyboard interrupt",  # v1/utils.py
}
_FINISHED_PROCESS = re.compile(r"Finished server process \[\d{1,10}\]$")
_MAX_STEP_CHARS = 200


def parse_shutdown(message: str) -> Shutdown | None:
    text = message.rstrip()
    if text.startswith("[shutdown] "):
        if "unexpectedly" in text:  # the engine core died: a failure (FAILURES), not a stop
            return None
        m = _SHUTDOWN_SIGNAL.search(text, 0, 400)
        if m:
            return Shutdown(f"signal {m['sig']}", m["sig"], text[:_MAX_STEP_CHARS])
        return Shutdown("shutdown requested", None, text[:_MAX_STEP_CHARS])
    reason = _SHUTDOWN_EXACT.get(text)
    if reason is not None:
        return Shutdown(reason, "SIGINT" if reason == "keyboard interrupt" else None, text)
    if text.startswith("DPSupervisor received "):  # "DPSupervisor received SIGTERM, shutting down."
        m = _SHUTDOWN_SIGNAL.search(text, 0, 80)
        if m:
            return Shutdown(f"signal {m['sig']}", m["sig"], text[:_MAX_STEP_CHARS])
    if _FINISHED_PROCESS.match(text):
        return Shutdown("shutdown requested", None, text)
    return None


SHUTDOWN = Pattern(
    name="shutdown",
    versions=(
        "'[shutdown] <component>: <step>' 0.26.0-0.33.0 (entrypoints/launcher.py, v1/engine/core.py 'trigger received signal=%s', core_client.py, v1/utils.py); "
        "'Shutting down FastAPI HTTP server.' 0.5.x-0.22.1 (launcher.py); 'Received KeyboardInterrupt, shutting down API servers...' 0.9-0.33.0 (v1/utils.py, API server scale-out); "
        "uvicorn 'Shutting down' / 'Waiting for application shutdown.' / 'Application shutdown complete.' / 'Finished server process [N]' (every version)"
    ),
    anchors=("[shutdown] ", "Shutting down", "shutdown", "shutting down", "Finished server process", "DPSupervisor received"),
    parse=parse_shutdown,
    examples=(
        "(EngineCore pid=1033) INFO 12-01 08:26:57 [core.py:1313] [shutdown] EngineCore: trigger received signal=SIGTERM",
        "(APIServer pid=711) INFO 12-01 08:26:57 [launcher.py:100] [shutdown] API server: shutdown triggered",
        "(APIServer pid=711) INFO 12-01 08:26:57 [core_client.py:662] [shutdown] MPClient: complete",
        "(APIServer pid=711) WARNING 12-01 08:26:57 [utils.py:626] [shutdown] Process manager: force killing remaining processes count=1",
        "(APIServer pid=711) INFO:     Shutting down",
        "INFO:     Finished server process [24837]",
        "INFO:     Application shutdown complete.",
        "INFO 06-03 02:01:19 launcher.py:62] Shutting down FastAPI HTTP server.",
        "(APIServer pid=711) INFO 06-03 02:01:19 [utils.py:320] Received KeyboardInterrupt, shutting down API servers...",
    ),
    counter_examples=(
        "(APIServer pid=711) ERROR 12-01 08:26:57 [core_client.py:840] [shutdown] MPClient: engine core exited unexpectedly; starting cleanup",
        "(APIServer pid=711) INFO 06-03 02:01:19 [async_llm.py:1] Rejecting request 7 (server shutting down)",
        "INFO 06-03 02:01:19 [x.py:1] Shutting down the whole cluster because of an unrelated thing",
    ),
)


# --------------------------------------------------------------------------------------------
# The table, in dispatch order. The two most frequent kinds (stats, access) are also tried
# first by the parser's fast path.

PATTERNS: tuple[Pattern, ...] = (
    STATS,
    HTTP_ACCESS,
    SPEC_DECODE,
    PREFIX_CACHE_HIT,
    PREEMPTION,
    ENGINE_CONFIG,
    SERVER_ARGS,
    VERSION,
    MODEL_INFO,
    MODEL_WEIGHTS,
    MEMORY_PROFILE,
    DEVICE_MEMORY_REPORT,
    KV_CACHE_SIZE,
    MAX_CONCURRENCY,
    KV_CACHE_BLOCKS,
    CUDA_GRAPH,
    CUDA_GRAPH_MEMORY,
    ENGINE_INIT,
    INSUFFICIENT_KV_CACHE,
    CUDA_OOM,
    FAILURES,
    SHUTDOWN,
)

# Everything but stats and access lines, for the slow path.
OTHER_PATTERNS: tuple[Pattern, ...] = tuple(p for p in PATTERNS if p not in (STATS, HTTP_ACCESS))


def match_message(message: str) -> Record | None:
    """The first pattern (in table order) that turns the message into a record."""
    for pattern in OTHER_PATTERNS:
        for anchor in pattern.anchors:
            if anchor in message:
                record = pattern.parse(message)
                if record is not None:
                    return record
                break
    return None
