"""Read several independent inputs on every core, with the output of one process.

Each path already gets its own `LineParser` in `driver.read_paths` (a parser's state, CRI
partials and cut config lines, never crosses files), so a file can be parsed anywhere: a worker
process reads and parses one file (decompressing a .gz there too) into the ordered list of sink
calls it would have made, and the parent (which reads the first file itself meanwhile) replays
those calls into `open_sink(path)`'s sink, file after file in the order given. The fold, which does depend on order (engine starts, HTTP counts
per start), therefore sees exactly the calls of a sequential run (tests/test_parallel.py).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable
from operator import attrgetter
from typing import Any, get_args

from vllm_obs.parse.bulk import Classified, classify
from vllm_obs.parse.records import LineContext, Record, field_names

# ("r", context fields, record type index, record fields) | ("a", access counts) | ("l", line counts)
Call = tuple[Any, ...]
# Records cross the process boundary as tuples of plain values: pickling a frozen dataclass and
# its context as objects cost ~25 us a stats line, the tuples and a rebuild ~14 us, and the
# parent's share of that bounds the speed-up of --jobs.
_RECORD_TYPES: tuple[type, ...] = get_args(Record)
_TYPE_INDEX = {t: i for i, t in enumerate(_RECORD_TYPES)}
_VALUES = [attrgetter(*field_names(t)) for t in _RECORD_TYPES]
_ONE_FIELD = [len(field_names(t)) == 1 for t in _RECORD_TYPES]  # attrgetter of one name: no tuple


def _values(record: Record, index: int) -> tuple[Any, ...]:
    values = _VALUES[index](record)
    return (values,) if _ONE_FIELD[index] else values


class _Recorder:
    """A sink that keeps its calls, to be replayed in the parent; it asks for access counts as
    often as the parent's sink does (driver.RecordSink)."""

    def __init__(self, access_counts_per_batch: bool) -> None:
        self.calls: list[Call] = []
        self.access_counts_per_batch = access_counts_per_batch

    def record(self, context: LineContext, record: Record) -> None:
        index = _TYPE_INDEX[type(record)]
        self.calls.append(("r", tuple(context), index, _values(record, index)))

    def access_counts(self, counts: dict[tuple[str, str, int], int]) -> None:
        self.calls.append(("a", counts))

    def line_counts(self, delta: dict[str, int]) -> None:
        self.calls.append(("l", delta))


def _parse_one(task: tuple[str, bool, bool]) -> tuple[list[Call], list[str], int]:
    from vllm_obs.parse.driver import read_paths

    path, every_record, per_batch = task
    recorder = _Recorder(per_batch)
    lines = [0]

    def on_lines(_path: str) -> _Recorder:
        return recorder

    problems = read_paths([path], on_lines, None, every_record, jobs=1)
    for call in recorder.calls:
        if call[0] == "l":
            lines[0] += sum(call[1].values())
    return recorder.calls, problems, lines[0]


def read_paths_parallel(
    paths: list[str], open_sink: Callable[[str], Any], progress: Any, every_record: bool, jobs: int
) -> list[str]:
    """`driver.read_paths` for several real files, parsed by up to `jobs` worker processes."""
    from vllm_obs.parse.driver import read_paths

    problems: list[str] = []
    # fork: the workers need nothing but this module's code, already loaded (no re-import).
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    # The parent parses the first file itself while the workers parse the others: it would
    # only wait otherwise, and that file is never pickled. Then it folds the others' calls.
    workers = max(1, min(jobs, len(paths) - 1))
    # The first sink, opened first as in one process: whether it takes access counts once a
    # batch decides how often the workers record them (one call per stats line otherwise).
    first_sink = open_sink(paths[0])
    per_batch = bool(getattr(first_sink, "access_counts_per_batch", False))
    with context.Pool(workers) as pool:
        # At most `workers` files parsed ahead of the fold: their calls wait in memory.
        waiting: deque[tuple[str, Any]] = deque()
        later = iter(paths[1:])

        def submit() -> None:
            path = next(later, None)
            if path is not None:
                waiting.append((path, pool.apply_async(_parse_one, ((path, every_record, per_batch),))))

        for _ in range(workers):
            submit()
        problems.extend(read_paths(paths[:1], lambda _path: first_sink, progress, every_record, jobs=1))
        while waiting:
            path, result = waiting.popleft()
            calls, file_problems, lines = result.get()
            submit()
            sink = open_sink(path)
            record, access_counts, line_counts = sink.record, sink.access_counts, sink.line_counts
            make_context, types = LineContext._make, _RECORD_TYPES
            for call in calls:
                kind = call[0]
                if kind == "r":
                    record(make_context(call[1]), types[call[2]](*call[3]))
                elif kind == "a":
                    access_counts(call[1])
                else:
                    line_counts(call[1])
            del calls
            problems.extend(file_problems)
            if progress is not None:
                on_progress = progress.file(path)
                if on_progress is not None:
                    on_progress(_size(path), lines)
    return problems


def _size(path: str) -> int:
    import os

    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class ClassifyAhead:
    """One worker process runs the bulk path's C pass (bulk.classify) over the next batches of a
    file while this process parses and folds the current one: on a busy log that pass is a
    third of the work, and one file otherwise keeps one core busy. The answer is the pass
    itself, so the results are those of one process (tests/test_parallel.py); a batch whose
    pass fails in the worker is classified here."""

    # Batches sent ahead: enough to keep the worker busy, few enough to bound memory (4 MiB each).
    DEPTH = 2

    def __init__(self) -> None:
        methods = multiprocessing.get_all_start_methods()
        # fork: the worker needs nothing but bulk.py's compiled pattern, already loaded.
        self._pool = multiprocessing.get_context("fork" if "fork" in methods else None).Pool(1)

    def submit(self, text: str) -> Any:
        return self._pool.apply_async(classify, (text,))

    @staticmethod
    def result(job: Any) -> Classified | None:
        try:
            return job.get()
        except Exception:  # noqa: BLE001 - the worker died or could not pickle: classify here
            return None

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()
