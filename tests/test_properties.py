"""Property tests: the parser survives any text, reads vLLM's number formats back exactly, and
stays linear on huge adversarial lines."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_obs.parse.parser import LineParser
from vllm_obs.parse.patterns import PATTERNS
from vllm_obs.parse.records import CudaGraph, KvCacheSize, MaxConcurrency, MemoryProfile, ModelWeights


def parse_one(line: str):
    parser = LineParser()
    parsed = parser.feed(line)
    assert parser.counts["error"] == 0
    return [record for _, record in parsed]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_parses_without_internal_error(text: str) -> None:
    parser = LineParser()
    for line in text.split("\n"):
        parser.feed(line)
    parser.flush()
    assert parser.counts["error"] == 0


# Lines that start like real ones and end in noise: the hard case for a parser.
PREFIXES = [line for p in PATTERNS for line in p.examples]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PREFIXES), st.integers(min_value=0, max_value=400), st.text(max_size=60))
def test_truncated_and_corrupted_real_lines_never_error(line: str, cut: int, noise: str) -> None:
    parser = LineParser()
    parser.feed(line[:cut] + noise)
    parser.feed(noise + line[cut:])
    assert parser.counts["error"] == 0


gib = st.floats(min_value=0, max_value=2000, allow_nan=False, allow_infinity=False)


def format_gib(value: float) -> str:
    """vLLM 0.14+ `format_gib`: str(round(x, 2))."""
    return str(round(value, 2))


@given(gib)
def test_weights_in_every_wording_parse_back(value: float) -> None:
    four = "%.4f" % value
    assert parse_one(f"INFO 06-03 02:01:19 model_runner.py:104] Loading model weights took {four} GB") == [
        ModelWeights(float(four), "GB")
    ]
    assert parse_one(
        f"INFO 06-03 02:01:19 [gpu_model_runner.py:1347] Model loading took {four} GiB and 4.521337 seconds"
    ) == [ModelWeights(float(four), "GiB", 4.521337)]
    short = format_gib(value)
    assert parse_one(
        f"(EngineCore pid=2301) INFO 06-03 02:01:19 [gpu_model_runner.py:5088] Model loading took {short} GiB memory and 4.521337 seconds"
    ) == [ModelWeights(float(short), "GiB", 4.521337)]


@given(gib, gib, gib, st.floats(min_value=-100, max_value=2000, allow_nan=False))
def test_v0_memory_profile_parses_back(weights: float, non_torch: float, activation: float, kv: float) -> None:
    w, n, a, k = ("%.2f" % x for x in (weights, non_torch, activation, kv))
    line = (
        f"INFO 06-03 02:01:19 [worker.py:287] model weights take {w}GiB; non_torch_memory takes {n}GiB; "
        f"PyTorch activation peak memory takes {a}GiB; the rest of the memory reserved for KV Cache is {k}GiB."
    )
    assert parse_one(line) == [MemoryProfile(None, None, None, float(w), float(n), float(a), None, float(k), None, "v0")]


@given(st.integers(min_value=0, max_value=10**8), st.integers(min_value=1, max_value=10**7), st.floats(min_value=0, max_value=1e5))
def test_kv_size_and_concurrency_parse_back(tokens: int, max_len: int, concurrency: float) -> None:
    x = "%.2f" % concurrency
    assert parse_one(f"INFO 06-03 02:01:19 [kv_cache_utils.py:634] GPU KV cache size: {tokens:,} tokens") == [
        KvCacheSize(tokens, "GPU")
    ]
    assert parse_one(
        f"INFO 06-03 02:01:19 [kv_cache_utils.py:637] Maximum concurrency for {max_len:,} tokens per request: {x}x"
    ) == [MaxConcurrency(float(x), max_len)]
    assert parse_one(f"INFO 06-03 02:01:19 gpu_executor.py:126] Maximum concurrency for {max_len} tokens per request: {x}x") == [
        MaxConcurrency(float(x), max_len)
    ]
    assert parse_one(
        f"(EngineCore pid=1) INFO 06-03 02:01:19 [kv_cache_utils.py:1147] GPU KV cache size: {tokens:,} tokens, "
        f"Maximum concurrency for {max_len:,} tokens per request: {x}x"
    ) == [KvCacheSize(tokens, "GPU", float(x), max_len)]


@given(st.floats(min_value=0, max_value=1e4), gib)
def test_cuda_graph_parses_back(seconds: float, memory: float) -> None:
    s, g = "%.0f" % seconds, "%.2f" % memory
    assert parse_one(f"INFO 06-03 02:01:19 [gpu_model_runner.py:1] Graph capturing finished in {s} secs, took {g} GiB") == [
        CudaGraph(float(s), float(g))
    ]


counts = st.integers(min_value=0, max_value=10**6)
rates = st.floats(min_value=0, max_value=1e7, allow_nan=False)
pcts = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(rates, rates, counts, counts, counts, pcts, pcts, st.integers(0, 999), st.booleans())
def test_stats_lines_parse_back(prompt, gen, running, waiting, preempted, kv, hit, engine, with_preemptions) -> None:
    p, g, k, h = ("%.1f" % prompt, "%.1f" % gen, "%.1f" % kv, "%.1f" % hit)
    parts = [f"Avg prompt throughput: {p} tokens/s", f"Avg generation throughput: {g} tokens/s", f"Running: {running} reqs", f"Waiting: {waiting} reqs"]
    if with_preemptions:
        parts.append(f"Preemptions: {preempted}")
    parts += [f"GPU KV cache usage: {k}%", f"Prefix cache hit rate: {h}%"]
    (record,) = parse_one(f"(APIServer pid=1) INFO 06-03 02:01:19 [loggers.py:1] Engine {engine:03d}: " + ", ".join(parts))
    assert (record.prompt_tps, record.generation_tps, record.running, record.waiting) == (float(p), float(g), running, waiting)
    assert (record.gpu_kv_usage_pct, record.prefix_cache_hit_pct, record.engine_index) == (float(k), float(h), engine)
    assert record.preemptions == (preempted if with_preemptions else None)
    assert record.unknown_parts == ()
    v0 = (
        f"INFO 06-03 02:01:19 metrics.py:345] Avg prompt throughput: {p} tokens/s, Avg generation throughput: {g} tokens/s, "
        f"Running: {running} reqs, Swapped: {preempted} reqs, Pending: {waiting} reqs, GPU KV cache usage: {k}%, CPU KV cache usage: {h}%."
    )
    (record,) = parse_one(v0)
    assert (record.engine_format, record.swapped, record.waiting, record.cpu_kv_usage_pct) == ("v0", preempted, waiting, float(h))


def test_unknown_stats_parts_are_counted_not_fatal() -> None:
    (record,) = parse_one(
        "(APIServer pid=1) INFO 06-03 02:01:19 [loggers.py:1] Engine 000: Avg prompt throughput: 1.0 tokens/s, "
        "Avg generation throughput: 2.0 tokens/s, Running: 3 reqs, Waiting: 4 reqs, Warp drive: 9 parsecs, GPU KV cache usage: 5.0%"
    )
    assert (record.running, record.gpu_kv_usage_pct, record.unknown_parts) == (3, 5.0, ("Warp drive",))


# -- linear time on 1 MB lines built from pattern fragments ------------------------------------

FRAGMENTS = sorted(
    {a for p in PATTERNS for a in p.anchors}
    | {"(", "(a pid=", "[rank", "INFO ", "01-01 00:00:00 ", "[x.py:1] ", "1", "1.", ",", ", ", ": ", "'", "=", " ", "█", "\x1b[", "[0;", "GiB", " reqs ", '"', " - \"GET /", "HTTP/1.1\" "}
)


def _time_parse(line: str) -> float:
    parser = LineParser()
    start = time.perf_counter()
    parser.feed(line)
    elapsed = time.perf_counter() - start
    assert parser.counts["error"] == 0
    return elapsed


def _time_scan(line: str) -> float:
    """A plain scan of the same text: encoding it, which touches every character once."""
    start = time.perf_counter()
    line.encode("utf-8", "surrogatepass")
    return time.perf_counter() - start


@settings(max_examples=12, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6), st.sampled_from(["", "Engine 000: Avg prompt throughput: ", "(EngineCore pid=1) INFO 06-03 02:01:19 [x.py:1] "]))
def test_one_megabyte_lines_of_fragments_stay_linear(fragments: list[str], head: str) -> None:
    unit = "".join(fragments)
    small = head + unit * (500_000 // len(unit))
    big = head + unit * (1_000_000 // len(unit))
    t_small = min(_time_parse(small) for _ in range(3))
    t_big = min(_time_parse(big) for _ in range(3))
    scan = min(_time_scan(big) for _ in range(3))
    # Linear: doubling the line at most ~doubles the time (slack for noise on a shared machine);
    # quadratic behaviour would give 4x. And bounded against a plain pass over the same text.
    assert t_big <= 3.0 * t_small + 0.02, (unit[:80], t_small, t_big)
    assert t_big <= 1000 * scan + 0.05, (unit[:80], t_big, scan)


# Every example line of the table, cut into its ", " and " " pieces: the fragments a hostile or
# broken writer would repeat. With the anchors above they cover every pattern's fixed text.
EXAMPLE_PIECES = sorted(
    {piece + sep for p in PATTERNS for line in p.examples for sep in (", ", " ") for piece in line.split(sep)[:40] if 0 < len(piece) <= 120}
)


def _time_plain(line: str) -> float:
    """A plain scan measured in the same run: what splitting the line on ", " costs."""
    start = time.perf_counter()
    line.split(", ")
    return time.perf_counter() - start


def test_every_pattern_repeated_to_one_megabyte_stays_within_a_plain_scan_budget() -> None:
    # Each example line with its middle piece repeated to ~1 MB (the shape of issue 11's
    # quadratic stats line: "Waiting: 0 reqs " glued and repeated), and the line repeated whole.
    worst = (0.0, "")
    for pattern in PATTERNS:
        for example in pattern.examples:
            cut = len(example) // 2
            piece = example[cut - 8:cut + 8] or example
            lines = (example[:cut] + piece * (1_000_000 // len(piece)) + example[cut:], (example + ", ") * (1_000_000 // (len(example) + 2)))
            for line in lines:
                parse = min(_time_parse(line) for _ in range(2))
                plain = min(_time_plain(line) for _ in range(3))
                worst = max(worst, (parse / max(plain, 1e-4), f"{pattern.name}: {piece!r}"))
    # A linear parser costs a bounded multiple of one pass (the worst here, the engine config's
    # dozen key searches, ~150x); quadratic work on 1 MB costs 10^4 x and more.
    assert worst[0] <= 500, worst


@settings(max_examples=12, deadline=None)
@given(st.lists(st.sampled_from(EXAMPLE_PIECES), min_size=1, max_size=5), st.sampled_from(["", "Engine 000: Avg prompt throughput: 1.0 tokens/s, Running: 1 reqs, ", "(EngineCore pid=1) INFO 06-03 02:01:19 [x.py:1] "]))
def test_one_megabyte_lines_of_example_pieces_stay_linear(fragments: list[str], head: str) -> None:
    unit = "".join(fragments)
    small = head + unit * (500_000 // len(unit))
    big = head + unit * (1_000_000 // len(unit))
    t_small = min(_time_parse(small) for _ in range(3))
    t_big = min(_time_parse(big) for _ in range(3))
    plain = min(_time_plain(big) for _ in range(3))
    assert t_big <= 3.0 * t_small + 0.02, (unit[:80], t_small, t_big)
    assert t_big <= 500 * max(plain, 1e-4), (unit[:80], t_big, plain)


def test_the_glued_waiting_part_repeated_is_linear() -> None:
    # Issue 11's measured case: quadratic time and memory (34.5 s at 640 KB, 24 GB at 1 MiB).
    head = "(APIServer pid=1) INFO 06-03 02:01:19 [loggers.py:1] Avg prompt throughput: 1.0 tokens/s, Running: 1 reqs, "
    line = head + "Waiting: 0 reqs " * (1_048_576 // 16)
    assert _time_parse(line) <= 500 * max(_time_plain(line), 1e-4)
    (record,) = parse_one(line)
    assert (record.running, record.waiting) == (1, 0)


def test_a_negative_or_signed_stats_figure_is_an_unknown_part_not_a_value() -> None:
    # Counters never decrease on input: "Preemptions: -3" is not a value vLLM prints.
    (record,) = parse_one(
        "(APIServer pid=1) INFO 06-03 02:01:19 [loggers.py:1] Engine 000: Avg prompt throughput: 1.0 tokens/s, "
        "Avg generation throughput: 2.0 tokens/s, Running: -3 reqs, Waiting: +4 reqs, Preemptions: -3, GPU KV cache usage: -5.0%, Prefix cache hit rate: 1e3%"
    )
    assert (record.running, record.waiting, record.preemptions, record.gpu_kv_usage_pct, record.prefix_cache_hit_pct) == (None, None, None, None, None)
    assert record.unknown_parts == ("Running", "Waiting", "Preemptions", "GPU KV cache usage", "Prefix cache hit rate")
    assert (record.prompt_tps, record.generation_tps) == (1.0, 2.0)
