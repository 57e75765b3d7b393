"""Helpers for building real-format test logs from real ones."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import synth  # noqa: E402

_STAMP = re.compile(r"\b(INFO|WARNING|ERROR|DEBUG|CRITICAL) (\d\d)-(\d\d) ")


def days_later(text: str, days: int) -> str:
    """The same log as if it had run `days` days later (days 1-28 of the same month): a restart
    appended to a log is always stamped after it (a log never goes back in time)."""
    return _STAMP.sub(lambda m: f"{m[1]} {m[2]}-{(int(m[3]) - 1 + days) % 28 + 1:02d} ", text)


def on_day(text: str, month_day: str) -> str:
    """The same log with every vLLM stamp moved to `month_day` ("MM-DD"), times kept."""
    return _STAMP.sub(lambda m: f"{m[1]} {month_day} ", text)


def _compose(lines: list[str]) -> list[str]:
    return ["vllm-openai-1  | " + line for line in lines]


def _journald(lines: list[str]) -> list[str]:
    return ["Nov 21 16:25:43 gpu-node-3 vllm[4121]: " + line for line in lines]


# Every transport envelope a raw vLLM line arrives in, as lines without their newline.
ENVELOPES = {
    "none": lambda raw: [c[:-1] for c in synth.wrap_none(raw)],
    "docker-json": lambda raw: [c[:-1] for c in synth.wrap_docker_json(raw)],
    "docker-timestamps": lambda raw: [c[:-1] for c in synth.wrap_docker_timestamps(raw)],
    "cri": lambda raw: [c[:-1] for c in synth.wrap_cri(raw, max_line=2048)],  # long lines become P + F
    "compose": lambda raw: _compose([c[:-1] for c in synth.wrap_none(raw)]),
    "journald": lambda raw: _journald([c[:-1] for c in synth.wrap_none(raw)]),
}
