"""`analyze`'s work: read the inputs through the one driver, fold them, summarise the starts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timezone, tzinfo
from typing import Any

from vllm_obs.archive.statsview import best_rate, entry_rate
from vllm_obs.fold.facts import STATS_KEYS, theory_inputs
from vllm_obs.fold.fold import Fold
from vllm_obs.fold.summary import summarize
from vllm_obs.ingest.timestamps import Timeline
from vllm_obs.parse.driver import read_paths

# The keys of a top-level `stats` entry (a start's entries add time and the parts the contract has
# no name for).
CONTRACT_STATS_KEYS = frozenset(STATS_KEYS) | {"engine", "engines_aggregated"}


def analyze_paths(
    paths: Iterable[str], year: int | None = None, tz: tzinfo = timezone.utc, progress: Any = None, lazy: bool = False,
    jobs: int = 1, stats_rows: bool = True,
) -> tuple[dict[str, Any], list[str]]:
    """Summarise the inputs in the order given, as one log; returns (summary, one-line input
    errors). `progress` (cli/progress.py) is told about every batch read; `lazy` gives stats
    lists that are built while written (fold/jsonstream.write_json), for archives; `jobs` worker
    processes parse several files at once (the same result); `stats_rows=False` keeps a digest
    of each start's stats lines instead of the lists (the table's figures, in flat memory)."""
    fold = Fold(stats_rows=stats_rows)

    def open_sink(path: str) -> Fold:
        fold.timeline = Timeline(year, tz, path)
        return fold

    problems = read_paths(paths, open_sink, progress, jobs=jobs)
    return summarize(fold, lazy=lazy), problems


def add_theory(summary: dict[str, Any], model: str | None = None, model_config: str | None = None, gpu: str | None = None) -> None:
    """Add a `theory` object beside the observed values, at the top and for each engine start,
    when the model (log or flag) and the GPU (flag or the log's total memory) are known."""
    from vllm_obs.theory.join import theory_for_summary  # the theory engine loads its catalogs lazily

    def theory(part: dict[str, Any], best: dict[str, Any] | None) -> dict[str, Any] | None:
        facts = theory_inputs({k: v for k, v in part.items() if k not in ("stats", "stats_digest", "stats_lines", "starts")}, part.get("details", {}))
        facts["stats"] = [best] if best else []
        return theory_for_summary(facts, model=model, model_config=model_config, gpu=gpu)

    # Each stats entry is built once here: the whole log's best is the best of the starts' bests
    # (the first of equals, as one pass over the top-level list would pick), as a contract entry.
    # The join compares the best decode rate per running request.
    bests = [best_rate(start) for start in summary.get("starts", [])]
    overall = max((b for b in bests if b), key=entry_rate, default=None)
    if overall is not None:
        overall = {k: v for k, v in overall.items() if k in CONTRACT_STATS_KEYS}
    top = theory(summary, overall)
    if top is not None:
        summary["theory"] = top
    for start, best in zip(summary.get("starts", []), bests):
        start_theory = theory(start, best)
        if start_theory is not None:
            start["theory"] = start_theory
