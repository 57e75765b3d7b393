"""A fleet run: discover sources, analyze them on an engine, stream the results to OUTDIR."""

from __future__ import annotations

import itertools
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from vllm_obs.fleet.discovery import Source, discover
from vllm_obs.fleet.engines import run_local, run_ray
from vllm_obs.fleet.page import FleetPage
from vllm_obs.fleet.task import TaskOptions


@dataclass
class FleetOptions:
    inputs: list[str]
    outdir: str
    engine: str = "local"
    jobs: int = 1
    ray_address: str | None = None
    progress: bool | None = None  # None: only on a terminal
    task: TaskOptions = field(default_factory=TaskOptions)


class NothingToRead(Exception):
    """No source was found under the arguments (bad usage)."""


def warn(message: str) -> None:
    print(f"vllm-obs fleet: warning: {message}", file=sys.stderr)


def run_fleet(options: FleetOptions) -> dict[str, int]:
    """Counts of sources by status (ok, partial, failed). Raises NothingToRead or EngineError."""
    sources, problems = discover(options.inputs)
    for problem in problems:
        warn(problem)
    if not sources:
        raise NothingToRead("no log files found under " + " ".join(options.inputs))
    # pyarrow is imported only when there is something to write.
    from vllm_obs.fleet.tables import FleetWriter

    page = FleetPage(f"vLLM fleet: {len(sources)} sources")
    counts = {"ok": 0, "partial": 0, "failed": 0}
    with _Progress(sources, options.progress) as progress:
        if options.engine == "ray":
            results = run_ray(sources, options.task, options.jobs, options.ray_address, on_done=progress.done)
        else:
            results = run_local(sources, options.task, options.jobs, on_done=progress.done)
        # The engine starts (or fails to: EngineError) with the first result, before any file
        # of OUTDIR is created.
        first = next(results)
        writer = FleetWriter(options.outdir)
        try:
            for result in itertools.chain([first], results):
                row = result["source"]
                counts[row["status"]] += 1
                for problem in row["problems"]:
                    where = "" if row["source"] in problem else f"{row['source']}: "
                    warn(where + problem + (" (source skipped)" if row["status"] == "failed" else ""))
                writer.add(result)
                link = _write_report(options.outdir, row["source"], result.get("report_html"))
                page.add(result, report_link=link)
        finally:
            writer.close()
    with open(os.path.join(options.outdir, "fleet.html"), "w", encoding="utf-8") as out:
        out.write(page.render())
    return counts


def report_name(key: str) -> str:
    """A file name for a source's report: its key with path separators and odd characters replaced."""
    return "reports/" + re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("_") + ".html"


def _write_report(outdir: str, key: str, text: str | None) -> str | None:
    if text is None:
        return None
    name = report_name(key)
    os.makedirs(os.path.join(outdir, "reports"), exist_ok=True)
    with open(os.path.join(outdir, name), "w", encoding="utf-8") as out:
        out.write(text)
    return name


class _Progress:
    """Sources done and bytes read, on stderr, only on a terminal."""

    def __init__(self, sources: list[Source], enabled: bool | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total_bytes = sum(s.size_bytes for s in sources)
        self.count = len(sources)
        self._progress: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(TextColumn("[bold]sources"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[read]}"),
                                      TimeRemainingColumn(), console=Console(file=sys.stderr), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("sources", total=self.count, read="")
            self._bytes = 0
        return self

    def done(self, source: Source, _result: dict) -> None:
        if self._progress is not None:
            self._bytes += source.size_bytes
            self._progress.update(self._task, advance=1, read=f"{self._bytes / 2**20:,.0f}/{self.total_bytes / 2**20:,.0f} MiB")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
