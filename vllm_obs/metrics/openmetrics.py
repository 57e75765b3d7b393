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


def _format_value(value: float) -> str:
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
        # (catalog name, labels...) -> (family file, 'name{labels} '): formatted once per series.
        self._series: dict[tuple[Any, ...], tuple[IO[str], str]] = {}

    def write(self, name: str, labels: dict[str, str], value: float, timestamp: str) -> None:
        """One sample: `name` is the catalog name (counters end in _total, info in _info)."""
        key = (name, *labels.items())
        entry = self._series.get(key)
        if entry is None:
            spec = BY_NAME[name]
            family = family_name(spec)
            known = self.families.get(family)
            if known is None:
                handle: IO[str] = open(os.path.join(self.dir, f"{len(self.families)}.om"), "w")  # noqa: SIM115
                self.families[family] = (spec.type, spec.help, handle)
            else:
                handle = known[2]
            sample = exposed_names(spec)[0]
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            entry = self._series[key] = (handle, f"{sample}{{{text}}} " if text else f"{sample} ")
        entry[0].write(entry[1] + _format_value(value) + timestamp)
        self.samples += 1

    def finish(self, out: IO[str]) -> None:
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
