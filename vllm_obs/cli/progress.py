"""A progress bar for long inputs (rich): bytes and lines per second, on stderr.

Shown only when stderr is a terminal, so pipes, CI logs and `--format json > file` stay clean.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.progress import TaskID, BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn


class InputProgress:
    def __init__(self, paths: list[str], enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        sizes = {}
        for p in paths:
            try:
                sizes[p] = os.path.getsize(p) if p != "-" else 0
            except OSError:
                sizes[p] = 0
        self.sizes = sizes
        self.done_before = 0
        self.lines_before = 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> "InputProgress":
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TextColumn("{task.fields[lines]:>12,} lines  {task.fields[rate]:>10,.0f} lines/s"),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("reading", total=sum(self.sizes.values()) or None, lines=0, rate=0.0)
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def file(self, path: str):
        """The callback for one file: (bytes read in it, lines read in it)."""
        if self._progress is None or self._task is None:
            return None
        start_bytes, start_lines = self.done_before, self.lines_before
        self.done_before += self.sizes.get(path, 0)
        progress, task = self._progress, self._task

        def update(done: int, lines: int) -> None:
            total_lines = start_lines + lines
            elapsed = progress.tasks[0].elapsed or 0
            progress.update(task, completed=start_bytes + done, description=os.path.basename(path), lines=total_lines,
                            rate=total_lines / elapsed if elapsed else 0.0)
            self.lines_before = total_lines

        return update
