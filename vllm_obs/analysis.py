"""Read inputs, parse every line, and fold the records into one summary."""

from __future__ import annotations

from collections.abc import Iterable

from vllm_obs.parser import LineParser
from vllm_obs.reader import InputError, iter_lines
from vllm_obs.summary import Summarizer


def analyze_paths(paths: Iterable[str]) -> tuple[dict, list[str]]:
    """Summarise the inputs in the order given; returns (summary, one-line input errors)."""
    summarizer = Summarizer()
    problems: list[str] = []
    for path in paths:
        parser = LineParser(source=path)
        feed, add = parser.feed, summarizer.add
        try:
            for line in iter_lines(path):
                for context, record in feed(line):
                    add(context, record)
        except InputError as exc:
            problems.append(str(exc))
        for context, record in parser.flush():
            add(context, record)
        summarizer.add_counts(parser.counts)
    return summarizer.summary(), problems
