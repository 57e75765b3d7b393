"""What the sub-commands share: the usage error and the flags several commands take.

Flags several commands share are defined once here, so their names and help stay the same.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# Exit code when the input was read but holds no vLLM line (an empty file, a binary, a pipe
# whose producer failed): not a clean result, not a usage error either.
NOTHING_FOUND = 1


class UsageError(Exception):
    """Bad input the user can fix: printed as one line, exit code 2."""


def quiet_broken_pipe() -> None:
    """The reader went away (`vllm-obs analyze big.log | head`): not an error. Later writes and
    the interpreter's final flush go to /dev/null, so nothing fails on the way out."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def console(**kwargs: Any) -> "Console":
    """A rich Console whose broken pipe is the end of the output (rich's own handler exits 1)."""
    from rich.console import Console  # noqa: F811 - rich loads when a command prints a table

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            quiet_broken_pipe()
            raise SystemExit(0)

    return _Console(**kwargs)


def _year(text: str) -> int:
    """--year: vLLM's own stamps have no year; a year outside 1970..9999 is a typo."""
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year; give four digits, e.g. --year 2026") from None
    if not 1970 <= year <= 9999:
        raise argparse.ArgumentTypeError(f"{year} is not a plausible year for a log; give four digits, e.g. --year 2026")
    return year


def add_time_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "time", "vLLM stamps lines MM-DD HH:MM:SS, without year or zone. Docker/CRI/journald/JSON timestamps win when present."
    )
    group.add_argument("--year", type=_year, help="year of the first line, 1970-9999 (default: from the file's modification time)")
    group.add_argument("--timezone", metavar="ZONE", default="UTC", help="time zone of vLLM's clock, e.g. Europe/Berlin (default UTC)")


def add_theory_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "theory (optional)",
        "With a known model (from the engine config line, or these flags) and GPU (--gpu, or the total memory "
        "the log prints), theory from vLLM's own arithmetic is put beside what the log says. A name that is "
        "not known is an error (exit 2); `vllm-obs catalog models` and `vllm-obs catalog gpus` list the known ones.",
    )
    group.add_argument("--model", help="model repo id or path, e.g. Qwen/Qwen3-8B (list: vllm-obs catalog models)")
    group.add_argument("--model-config", metavar="PATH", help="a config.json (or its directory) for a model not in the catalog")
    group.add_argument("--gpu", help="GPU name, e.g. H100-SXM, L40S, RTX-4090 (list: vllm-obs catalog gpus)")


def check_theory_flags(args: argparse.Namespace) -> None:
    """Reject a misspelled --model/--model-config/--gpu before reading any input, with plan's
    "Did you mean" text: a typo must not just make the theory disappear."""
    from vllm_obs.theory.model_catalog import UnknownModelError, resolve_model
    from vllm_obs.theory.gpus import UnknownGpuError, find_gpu
    from vllm_obs.theory.models import ModelConfigError

    try:
        if args.model or args.model_config:
            resolve_model(args.model, args.model_config)
        if args.gpu:
            find_gpu(args.gpu)
    except (UnknownModelError, UnknownGpuError, ModelConfigError) as exc:
        # plan's text, less its advice for a flag these commands do not have.
        message = str(exc).replace(
            "For another card pass --gpu-memory-gib X (the total memory vLLM logs as total_gpu_memory).",
            "For another card leave out --gpu: the memory facts come from the log, only the throughput ceilings need the card.",
        )
        raise UsageError(message) from None


def nothing_found(inputs: list[str], lines: Mapping[str, int]) -> str | None:
    """The one-line message when no line of the inputs was vLLM's, else None."""
    if lines.get("matched", 0) or lines.get("error", 0):
        return None
    read = sum(lines.values())
    if inputs == ["-"] and read == 0:
        return "stdin was empty (0 lines read): did the command before the pipe fail?"
    where = inputs[0] if len(inputs) == 1 else f"{len(inputs)} inputs ({', '.join(inputs[:3])}{', ...' if len(inputs) > 3 else ''})"
    where = "stdin" if where == "-" else where
    return f"no vLLM log lines in {where} ({read:,} lines read): is this a vLLM server log?"
