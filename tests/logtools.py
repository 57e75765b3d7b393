"""Helpers for building real-format test logs from real ones."""

from __future__ import annotations

import re

_STAMP = re.compile(r"\b(INFO|WARNING|ERROR|DEBUG|CRITICAL) (\d\d)-(\d\d) ")


def days_later(text: str, days: int) -> str:
    """The same log as if it had run `days` days later (days 1-28 of the same month): a restart
    appended to a log is always stamped after it (a log never goes back in time)."""
    return _STAMP.sub(lambda m: f"{m[1]} {m[2]}-{(int(m[3]) - 1 + days) % 28 + 1:02d} ", text)


def on_day(text: str, month_day: str) -> str:
    """The same log with every vLLM stamp moved to `month_day` ("MM-DD"), times kept."""
    return _STAMP.sub(lambda m: f"{m[1]} {month_day} ", text)
