"""What vLLM prints, and what vllm-obs makes of it: a maintainer's coverage check.

Given vLLM wheels or unpacked source trees, extract the logger calls (and raised exceptions, which
reach the log inside tracebacks) whose text mentions a fact vllm-obs reads, render one line from
each format string with plausible values, run it through `LineParser`, and say per message:

- captured: a record came out and every figure rendered into the line is in it;
- partial:  a record came out, but some rendered figures are not in it;
- missed:   no record.

Run through `scripts/vllm-coverage`; not part of CI (wheels are hundreds of MB). The format
strings are read with `ast`, never imported or executed.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vllm_obs.parse.parser import LineParser  # noqa: E402
from vllm_obs.parse.records import record_to_dict  # noqa: E402

LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical",
               "info_once", "warning_once", "debug_once", "error_once"}
LEVEL = {"debug": "DEBUG", "info": "INFO", "warning": "WARNING", "warn": "WARNING", "error": "ERROR",
         "exception": "ERROR", "critical": "CRITICAL"}

# The facts vllm-obs reads, by family: a message is in scope when its text matches one.
FAMILIES: tuple[tuple[str, re.Pattern], ...] = (
    # (HPU's "Loading model weights took in total %s" prints a summary string of an external package.)
    ("weights", re.compile(r"Loading model weights took (?!in total)|Model loading took")),
    ("memory", re.compile(r"Memory profiling (?:results|takes)|Available KV cache memory|memory for KV Cache as specified|Free memory on device \(|"
                          r"the current vLLM instance can use|model weights take|Error in memory profiling")),
    ("kv", re.compile(r"KV cache size: |# \w+ blocks: |num_gpu_blocks is|Overriding num_gpu_blocks|max seq len|Auto-fit max_model_len|Cannot auto-fit")),
    ("concurrency", re.compile(r"Maximum concurrency for")),
    ("graphs", re.compile(r"Graph capturing finished|CUDA graph pool memory|CUDA graph memory profiling is enabled")),
    ("config", re.compile(r"Initializing (?:an|a V[01]) LLM engine|non-default args|^args: |server version|Using max model len|Resolved architecture|"
                          r"Chunked prefill is enabled with|init engine \(profile")),
    ("stats", re.compile(r"Avg prompt throughput|SpecDecoding metrics|Speculative metrics|Prefix cache hit rate: GPU|is preempted by")),
    ("failures", re.compile(r"CUDA out of memory|out of memory occurred|CUDA error: out of memory|died unexpectedly|died with exit code|"
                            r"(?:EngineCore|WorkerProc|Engine process) failed to start|(?:Engine core|WorkerProc) initialization failed|encountered a fatal error|"
                            r"fatal signal|No available memory for the cache|is greater than the derived|not enough GPU memory|"
                            r"engine core exited|terminating server process|Background loop (?:has errored|is not running|is stopped)|Frontend process failed|output_handler failed|"
                            r"less than desired GPU memory")),
    ("shutdown", re.compile(r"^\[shutdown\] |^Shutting down(?: FastAPI HTTP server)?\.?$|KeyboardInterrupt, shutting down")),
)


@dataclass
class Message:
    version: str
    path: str
    lineno: int
    level: str
    template: str  # the format string with {} for every placeholder
    line: str  # the rendered line
    figures: list[str] = field(default_factory=list)  # numbers rendered into it
    family: str = ""
    status: str = ""
    kinds: tuple[str, ...] = ()


class _Render:
    """Renders a format expression to text with distinct plausible values for placeholders."""

    def __init__(self, assigns: dict[str, ast.expr]) -> None:
        self.assigns = assigns
        self.n = 0
        self.figures: list[str] = []

    def value(self, hint: str, spec: str = "", conv: str = "s") -> str:
        h = hint.lower()
        numeric = any(w in h for w in ("num", "len", "size", "count", "token", "block", "gib", "memory", "mem", "time", "second",
                                       "secs", "util", "pid", "code", "rank", "concurrency", "throughput", "usage", "rate"))
        if not numeric:
            if "non_default" in h:
                return "{'model': 'Qwen/Qwen3-8B', 'max_model_len': 8192, 'gpu_memory_utilization': 0.9}"
            if h == "args":
                return "Namespace(model='Qwen/Qwen3-8B', max_model_len=8192, gpu_memory_utilization=0.9)"
            if re.search(r"(?:^|\.)(?:vllm_|engine_)?config$", h):  # a whole config's repr (V1's "with config: %s")
                return ("model='Qwen/Qwen3-8B', speculative_config=None, tokenizer='Qwen/Qwen3-8B', dtype=torch.bfloat16, "
                        "max_seq_len=8192, tensor_parallel_size=1, pipeline_parallel_size=1, data_parallel_size=1, quantization=None, "
                        "enforce_eager=False, kv_cache_dtype=auto, device_config=cuda, seed=0, served_model_name=Qwen/Qwen3-8B, "
                        "enable_prefix_caching=True, compilation_config={'mode': 3}")
            words = (("preemption_mode", "PreemptionMode.RECOMPUTE"), ("signal", "SIGTERM"), ("pool", "GPU"), ("device", "GPU"), ("dtype", "bfloat16"), ("version", "0.26.0"),
                     ("unit", "GiB"), ("model", "Qwen/Qwen3-8B"), ("mode", "abort"), ("name", "EngineCore_DP0"),
                     ("proc", "EngineCore_DP0"), ("path", "/tmp/x"), ("backend", "FLASH_ATTN"))
            for word, text in words:
                if word in h:
                    return repr(text) if conv == "r" else text
        self.n += 1
        k = self.n
        is_float = any(w in h for w in ("gib", "memory", "mem", "time", "seconds", "secs", "elapsed", "util", "ratio", "rate",
                                        "throughput", "usage", "frac", "concurrency", "format_gib", "gb")) or "f" in spec or "e" in spec
        if is_float and "d" not in spec:
            text = f"{k}.{(k * 37) % 90 + 10}"
            if spec.endswith("%"):
                text = f"{k}.{(k * 37) % 9}%"
        else:
            number = 1000 + 137 * k
            text = f"{number:,}" if "," in spec else str(number)
        self.figures.append(text.rstrip("%"))
        return text

    def expr(self, node: ast.expr, depth: int = 0) -> str | None:
        """The text of a string expression, or None when it is not one we can follow."""
        if depth > 6:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            out = []
            for part in node.values:
                if isinstance(part, ast.Constant):
                    out.append(str(part.value))
                elif isinstance(part, ast.FormattedValue):
                    spec = ast.unparse(part.format_spec)[2:-1] if part.format_spec else ""
                    conv = "r" if part.conversion == ord("r") else "s"
                    inner = None
                    if isinstance(part.value, (ast.JoinedStr, ast.Constant)) or (
                        isinstance(part.value, ast.Name) and isinstance(self.assigns.get(part.value.id), ast.JoinedStr)
                    ):
                        inner = self.expr(part.value, depth + 1)  # a message part built before the call
                    out.append(inner if inner is not None else self.value(ast.unparse(part.value), spec, conv))
            return "".join(out)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.expr(node.left, depth + 1), self.expr(node.right, depth + 1)
            return None if left is None or right is None else left + right
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            fmt = self.expr(node.left, depth + 1)
            args = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            return None if fmt is None else self.percent(fmt, args)
        if isinstance(node, ast.Name) and node.id in self.assigns:
            return self.expr(self.assigns[node.id], depth + 1)
        if isinstance(node, (ast.Name, ast.Attribute)) and "prefix" in ast.unparse(node).lower():
            return "Engine 000: "  # V1 stats loggers' log_prefix
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join" and node.args:
            sep = self.expr(node.func.value, depth + 1)
            seq = node.args[0]
            if isinstance(seq, ast.Name) and seq.id in self.assigns:
                seq = self.assigns[seq.id]
            if sep is not None and isinstance(seq, (ast.List, ast.Tuple)):
                parts = [self.expr(e, depth + 1) for e in seq.elts]
                if all(p is not None for p in parts):
                    return sep.join(parts)  # type: ignore[arg-type]
        return None

    def percent(self, fmt: str, args: list[ast.expr]) -> str:
        it = iter(args)

        def sub(m: re.Match) -> str:
            if m.group() == "%%":
                return "%"
            arg = next(it, None)
            hint = ast.unparse(arg) if arg is not None else ""
            if isinstance(arg, (ast.JoinedStr, ast.Constant)) or (
                isinstance(arg, ast.Name) and isinstance(self.assigns.get(arg.id), ast.JoinedStr)
            ):
                text = self.expr(arg)
                if text is not None:
                    return text
            spec, conv = m.group(1) or "", m.group(2)
            if conv in "di":
                return self.value("num_" + hint, "d")
            if conv in "fge":
                return self.value(hint + "_gib", spec + "f")
            return self.value(hint, spec, "r" if conv == "r" else "s")

        return re.sub(r"%%|%([-+ #0]*\d*(?:\.\d+)?)([sdirfge])", sub, fmt)


def _assignments(func: ast.AST) -> dict[str, ast.expr]:
    """Name -> the expression last assigned to it in the scope; a list built with append/extend
    (V1's stats line: every optional part) becomes one list of all its parts, in source order."""
    out: dict[str, ast.expr] = {}
    nodes = sorted((n for n in ast.walk(func) if hasattr(n, "lineno")), key=lambda n: (n.lineno, n.col_offset))
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out[node.target.id] = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("append", "extend")
              and isinstance(node.func.value, ast.Name) and isinstance(out.get(node.func.value.id), ast.List) and node.args):
            items = node.args[0].elts if node.func.attr == "extend" and isinstance(node.args[0], ast.List) else [node.args[0]]
            base = out[node.func.value.id]
            out[node.func.value.id] = ast.List(elts=list(base.elts) + list(items), ctx=ast.Load())  # type: ignore[attr-defined]
    return out


def messages_in_source(text: str, path: str, version: str) -> Iterator[Message]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return
    scopes: list[ast.AST] = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] or [tree]
    seen: set[int] = set()
    for scope in scopes:
        assigns = _assignments(scope)
        for node in ast.walk(scope):
            if id(node) in seen:
                continue
            level = fmt_node = None
            args: list[ast.expr] = []
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS and node.args:
                owner = ast.unparse(node.func.value).lower()
                if "log" in owner:
                    level = LEVEL[node.func.attr.split("_")[0]]
                    fmt_node, args = node.args[0], list(node.args[1:])
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("log_fn", "log") and node.args:
                level, fmt_node, args = "INFO", node.args[0], list(node.args[1:])  # log_fn = logger.debug if idle else logger.info
            elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                name = ast.unparse(node.exc.func).split(".")[-1]
                if name.endswith(("Error", "Exception")):
                    level, fmt_node = "ERROR", node.exc.args[0]
                    prefix = name + ": "
            if fmt_node is None:
                continue
            seen.add(id(node))
            render = _Render(assigns)
            text = render.expr(fmt_node)
            if text is None:
                continue
            if len(args) == 1 and isinstance(args[0], ast.Starred) and isinstance(args[0].value, ast.Name):
                listed = assigns.get(args[0].value.id)  # log_fn(fmt, *log_args): the list built beside the parts
                if isinstance(listed, ast.List):
                    args = list(listed.elts)
            if args:
                text = render.percent(text, args)
            if isinstance(node, ast.Raise):
                text = prefix + text
            family = next((name for name, rx in FAMILIES if rx.search(text.split(": ", 1)[-1] if isinstance(node, ast.Raise) else text) or rx.search(text)), "")
            if not family:
                continue
            file = os.path.basename(path)
            # A message with "\n" is several physical lines; only the first has vLLM's prefix.
            line = f"{level} 06-03 02:01:19 [{file}:{node.lineno}] {text}"
            yield Message(version, path, node.lineno, level, text, line, render.figures, family)


def classify(message: Message) -> Message:
    parser = LineParser()
    records = [r for physical in message.line.split("\n") for _, r in parser.feed(physical)]
    records += [r for _, r in parser.flush()]
    message.kinds = tuple(record_to_dict(r)["kind"] for r in records)
    if not records:
        message.status = "missed"
        return message
    values = " ".join(str(v) for r in records for v in record_to_dict(r).values())
    numbers = {float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", values)}
    found = all(float(f.replace(",", "")) in numbers or f in values for f in message.figures)
    message.status = "captured" if found else "partial"
    return message


def sources(target: str) -> Iterator[tuple[str, str]]:
    """(path inside the package, text) of every vllm/*.py in a wheel or a source tree."""
    if zipfile.is_zipfile(target):
        with zipfile.ZipFile(target) as wheel:
            for name in wheel.namelist():
                if name.startswith("vllm/") and name.endswith(".py"):
                    yield name, wheel.read(name).decode("utf-8", "replace")
        return
    root = os.path.join(target, "vllm") if os.path.isdir(os.path.join(target, "vllm")) else target
    base = os.path.dirname(root)
    for folder, _dirs, files in sorted(os.walk(root)):
        for name in sorted(files):
            if name.endswith(".py"):
                full = os.path.join(folder, name)
                with open(full, encoding="utf-8", errors="replace") as f:
                    yield os.path.relpath(full, base), f.read()


def version_of(target: str) -> str:
    m = re.search(r"vllm-(\d[\w.+]*?)(?:-cp|-py|$)", os.path.basename(target.rstrip("/")))
    if m:
        return m.group(1)
    m = re.search(r"(\d+\.\d+\.\d+[\w.]*)", target)
    return m.group(1) if m else os.path.basename(target.rstrip("/"))


def scan(target: str) -> list[Message]:
    version = version_of(target)
    out = []
    for path, text in sources(target):
        if "log" not in text and "raise" not in text:
            continue
        out.extend(classify(m) for m in messages_in_source(text, path, version))
    return out


def markdown(results: dict[str, list[Message]]) -> str:
    versions = list(results)
    lines = ["# What vLLM prints, by version, and what vllm-obs makes of it", "",
             "Generated by `scripts/vllm-coverage --markdown` from the PyPI wheels listed in the columns. Each row",
             "is a logger call (or a raised exception, which reaches the log in a traceback) whose text mentions a",
             "fact vllm-obs reads; the line was rendered from vLLM's format string with plausible values and run",
             "through `LineParser`. **C** captured (a record with every rendered figure), **P** partial (a record,",
             "some figures not kept: usually an exit code, a PID or a figure vllm-obs has no field for),",
             "**M** missed (no record); blank: that release does not print it.", "",
             "| version | messages | captured | partial | missed |", "|---|---|---|---|---|"]
    for v in versions:
        ms = results[v]
        count = {s: sum(m.status == s for m in ms) for s in ("captured", "partial", "missed")}
        lines.append(f"| {v} | {len(ms)} | {count['captured']} | {count['partial']} | {count['missed']} |")
    rows: dict[tuple[str, str], dict[str, Message]] = {}
    for v in versions:
        for m in results[v]:
            key = (m.family, re.sub(r"\d+(?:[.,]\d+)*", "N", m.template.replace("\n", " ⏎ "))[:160])
            rows.setdefault(key, {}).setdefault(v, m)
    lines += ["", "| family | message (figures shown as N) | record | " + " | ".join(versions) + " |",
              "|---|---|---|" + "---|" * len(versions)]
    mark = {"captured": "C", "partial": "P", "missed": "M"}
    for (family, text), by_version in sorted(rows.items()):
        kinds = sorted({k for m in by_version.values() for k in m.kinds})
        cells = " | ".join(mark[by_version[v].status] if v in by_version else "" for v in versions)
        safe = text.replace("|", "\\|").replace("`", "'")
        lines.append(f"| {family} | {safe} | {', '.join(kinds)} | {cells} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="vllm-coverage",
        description="Extract vLLM's logger calls about facts vllm-obs reads from wheels or source trees, "
        "render each, parse it, and report captured / partial / missed.",
        epilog="example: pip download --no-deps vllm==0.26.0 -d /tmp/w && scripts/vllm-coverage /tmp/w/vllm-0.26.0-*.whl",
    )
    ap.add_argument("targets", nargs="+", metavar="WHEEL_OR_DIR", help="a vLLM wheel, or a directory holding vllm/")
    ap.add_argument("--markdown", action="store_true", help="print the by-version table (docs/coverage.md)")
    ap.add_argument("--status", choices=("captured", "partial", "missed"), action="append", help="only these (repeatable)")
    args = ap.parse_args(argv)
    results: dict[str, list[Message]] = {}
    for target in args.targets:
        if not os.path.exists(target):
            print(f"vllm-coverage: no such wheel or directory: {target}", file=sys.stderr)
            return 2
        results[version_of(target)] = scan(target)
    if args.markdown:
        sys.stdout.write(markdown(results))
        return 0
    for version, ms in results.items():
        for m in ms:
            if args.status and m.status not in args.status:
                continue
            text = m.template[:160].replace("\n", " ")
            print(f"{m.status:8} {version:8} {m.family:11} {m.path}:{m.lineno} [{','.join(m.kinds)}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
