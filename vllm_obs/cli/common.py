"""What the sub-commands share: the usage error and the flags several commands take.

Flags several commands share are defined once here, so their names and help stay the same.
"""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """Bad input the user can fix: printed as one line, exit code 2."""


def add_time_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "time", "vLLM stamps lines MM-DD HH:MM:SS, without year or zone. Docker/CRI/journald/JSON timestamps win when present."
    )
    group.add_argument("--year", type=int, help="year of the first line (default: from the file's modification time)")
    group.add_argument("--timezone", metavar="ZONE", default="UTC", help="time zone of vLLM's clock, e.g. Europe/Berlin (default UTC)")


def add_theory_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "theory (optional)",
        "With a known model (from the engine config line, or these flags) and GPU (--gpu, or the total memory "
        "the log prints), theory from vLLM's own arithmetic is put beside what the log says.",
    )
    group.add_argument("--model", help="model repo id or path, e.g. Qwen/Qwen3-8B (see vllm-obs plan --help for the catalog)")
    group.add_argument("--model-config", metavar="PATH", help="a config.json (or its directory) for a model not in the catalog")
    group.add_argument("--gpu", help="GPU name, e.g. H100-SXM, L40S, RTX-4090")
