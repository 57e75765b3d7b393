"""OpenMetrics text for the export: samples spooled per family, written together at the end.

OpenMetrics requires each family's samples together, so samples are spooled to one temporary
file per family and concatenated at the end: memory does not grow with the archive.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import IO, Any

from vllm_obs.metrics.catalog import BY_NAME, exposed_names, family_name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


# Most samples of a scrape are the ints 0 or 1 (counters born at 0, states, up): their text once.
# (Ints only: a float -0.0 equals 0 but prints "-0.0".)
_COMMON_INTS = {0: "0.0", 1: "1.0"}


def _format_value(value: float) -> str:
    if type(value) is int and value in _COMMON_INTS:
        return _COMMON_INTS[value]
    value = float(value)
    if value - value != 0.0:  # inf or nan
        return "NaN" if value != value else ("+Inf" if value > 0 else "-Inf")
    return repr(value)


class FamilySpool:
    """One temporary file of samples per metric family; concatenated at the end."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="vllm-obs-export-")
        self.families: dict[str, tuple[str, str, IO[str]]] = {}  # name -> (type, help, file)
        self.samples = 0
        # (catalog name, labels...) -> (its family's pending lines, 'name{labels} '): formatted once
        # per series. Lines wait in memory a few thousand at a time: one file write per sample
        # was a fifth of the export's time.
        self._series: dict[tuple[Any, ...], tuple[list[str], str]] = {}
        self._pending: dict[str, list[str]] = {}  # family -> its lines not yet written

    def write(self, name: str, labels: dict[str, str], value: float, timestamp: str) -> None:
        """One sample: `name` is the catalog name (counters end in _total, info in _info)."""
        key = (name, *labels.items())
        entry = self._series.get(key)
        if entry is None:
            spec = BY_NAME[name]
            family = family_name(spec)
            if family not in self.families:
                handle: IO[str] = open(os.path.join(self.dir, f"{len(self.families)}.om"), "w")  # noqa: SIM115
                self.families[family] = (spec.type, spec.help, handle)
                self._pending[family] = []
            sample = exposed_names(spec)[0]
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            entry = self._series[key] = (self._pending[family], f"{sample}{{{text}}} " if text else f"{sample} ")
        entry[0].append(entry[1] + _format_value(value) + timestamp)
        self.samples += 1
        if not self.samples % 8192:
            self._write_pending()

    def _write_pending(self) -> None:
        for family, lines in self._pending.items():
            if lines:
                self.families[family][2].write("".join(lines))
                lines.clear()

    def finish(self, out: IO[str]) -> None:
        self._write_pending()
        for name, (kind, help_text, handle) in self.families.items():
            handle.close()
            out.write(f"# TYPE {name} {kind}\n# HELP {name} {_escape(help_text)}\n")
            with open(handle.name) as f:
                shutil.copyfileobj(f, out)
        out.write("# EOF\n")

    def close(self) -> None:
        for _kind, _help, handle in self.families.values():
            if not handle.closed:
                handle.close()
        shutil.rmtree(self.dir, ignore_errors=True)
