"""Read inputs, parse every line, and fold the records into one summary."""

from __future__ import annotations

from collections.abc import Iterable

from datetime import timezone
from itertools import chain

from vllm_obs.parse.parser import LineParser
from vllm_obs.ingest.reader import InputError, iter_line_batches
from vllm_obs.fold.summary import Summarizer, theory_facts
from vllm_obs.ingest.timestamps import Timeline


def analyze_paths(paths: Iterable[str], year: int | None = None, tz=timezone.utc, progress=None, lazy: bool = False) -> tuple[dict, list[str]]:
    """Summarise the inputs in the order given; returns (summary, one-line input errors).
    `progress` (see progress.py) is told about every batch read; `lazy` gives stats lists that
    are built while written (summary.write_json), for archives."""
    summarizer = Summarizer()
    problems: list[str] = []
    for path in paths:
        parser = LineParser(source=path)
        summarizer.resolve_time = Timeline(year, tz, path).resolve
        add = summarizer.add
        on_progress = progress.file(path) if progress is not None else None
        try:
            parser.scan(chain.from_iterable(iter_line_batches(path, on_progress=on_progress)), add, summarizer.add_http_counts)
        except InputError as exc:
            problems.append(str(exc))
        for context, record in parser.flush():
            add(context, record)
        summarizer.add_counts(parser.counts)
    return summarizer.summary(lazy=lazy), problems


def add_theory(summary: dict, model: str | None = None, model_config: str | None = None, gpu: str | None = None) -> None:
    """Add a `theory` object beside the observed values, at the top and for each engine start,
    when the model (log or flag) and the GPU (flag or the log's total memory) are known."""
    from vllm_obs.theory.join import theory_for_summary  # the theory engine loads its catalogs lazily

    def theory(part: dict) -> dict | None:
        facts = theory_facts({k: v for k, v in part.items() if k not in ("stats", "starts")}, part.get("details", {}))
        # The join compares the best decode rate per running request: find it in one streaming
        # pass rather than holding every stats entry (archives have tens of thousands).
        candidates = (s for s in part.get("stats") or () if s.get("generation_tps") and s.get("running"))
        best = max(candidates, key=lambda s: s["generation_tps"] / max(s["running"], 1), default=None)
        facts["stats"] = [best] if best else []
        return theory_for_summary(facts, model=model, model_config=model_config, gpu=gpu)

    top = theory(summary)
    if top is not None:
        summary["theory"] = top
    for start in summary.get("starts", []):
        start_theory = theory(start)
        if start_theory is not None:
            start["theory"] = start_theory
