"""Read inputs, parse every line, and fold the records into one summary."""

from __future__ import annotations

from collections.abc import Iterable

from itertools import chain

from vllm_obs.parser import LineParser
from vllm_obs.reader import InputError, iter_line_batches
from vllm_obs.summary import Summarizer


def analyze_paths(paths: Iterable[str]) -> tuple[dict, list[str]]:
    """Summarise the inputs in the order given; returns (summary, one-line input errors)."""
    summarizer = Summarizer()
    problems: list[str] = []
    for path in paths:
        parser = LineParser(source=path)
        add = summarizer.add
        try:
            parser.scan(chain.from_iterable(iter_line_batches(path)), add, summarizer.add_http_counts)
        except InputError as exc:
            problems.append(str(exc))
        for context, record in parser.flush():
            add(context, record)
        summarizer.add_counts(parser.counts)
    return summarizer.summary(), problems
