"""Expand what the user named (files, globs, directories, `-`) into inputs in time order.

Rotated sets are put back in the order they were written: `vllm.log.3.gz`, `vllm.log.2.gz`,
`vllm.log.1`, `vllm.log` (logrotate's numbering: higher is older); date suffixes
(`vllm.log-20261120.gz`, kubelet's `0.log.20261121-101010`) sort by date, before the live file.
Docker's json-file rotation (`<id>-json.log.1`) and Kubernetes restart files (`0.log`, `1.log`)
follow the same rules. Different logs in one directory are grouped by base name.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

from vllm_obs.ingest.reader import InputError

# name [.N | -YYYYMMDD[-HHMMSS] | .YYYYMMDD-HHMMSS] [.gz]
_ROTATED = re.compile(r"^(?P<base>.+?)(?:\.(?P<n>\d{1,4})|[.-](?P<date>\d{8}(?:-?\d{6})?))?(?P<gz>\.gz)?$")
# Files a directory walk picks up: logs and their rotations, compressed or not.
LOG_FILE_NAME = re.compile(r"\.(?:log|txt|out)(?:\.\d+|[.-]\d{8}(?:-?\d{6})?)?(?:\.gz)?$|\.gz$")


@dataclass(frozen=True)
class RotationKey:
    base: str
    rank: tuple  # sorts oldest first within a base


def rotation_key(path: str) -> RotationKey:
    directory, name = os.path.split(path)
    m = _ROTATED.match(name)
    if m is None:  # cannot happen with this pattern, kept for safety
        return RotationKey(path, (2, 0, ""))
    base = os.path.join(directory, m["base"])
    if m["n"] is not None:
        # Numbered rotations first, highest number (oldest) first.
        return RotationKey(base, (0, -int(m["n"]), ""))
    if m["date"] is not None:
        return RotationKey(base, (1, 0, m["date"].replace("-", "")))
    return RotationKey(base, (2, 0, ""))


def order_rotated(paths: list[str]) -> list[str]:
    """Group by base name (in the order bases first appear), oldest file first in each group."""
    keys = {p: rotation_key(p) for p in paths}
    bases: list[str] = []
    for p in paths:
        if keys[p].base not in bases:
            bases.append(keys[p].base)
    out = []
    for base in bases:
        members = sorted((p for p in paths if keys[p].base == base), key=lambda p: (keys[p].rank, p))
        out.extend(members)
    return out


def expand_inputs(args: list[str]) -> list[str]:
    """Files in the order to read them. Raises InputError for a name that matches nothing."""
    found: list[str] = []
    for arg in args:
        if arg == "-":
            found.append(arg)
            continue
        if os.path.isdir(arg):
            files = []
            for root, _dirs, names in os.walk(arg):
                files += [os.path.join(root, n) for n in names if LOG_FILE_NAME.search(n)]
            if not files:
                raise InputError(f"{arg}: no log files in this directory (looked for *.log, *.log.N, *.gz, *.txt, *.out)")
            found += order_rotated(sorted(files))
            continue
        if glob.has_magic(arg):
            matches = [p for p in glob.glob(arg) if os.path.isfile(p)]
            if not matches:
                raise InputError(f"{arg}: no file matches this pattern")
            found += order_rotated(sorted(matches))
            continue
        found.append(arg)  # a plain name: the reader reports it if it cannot be read
    # A rotated set named file by file (vllm.log vllm.log.1 ...) is put in time order too.
    if len(found) > 1 and "-" not in found:
        found = order_rotated(found)
    return list(dict.fromkeys(found))  # first occurrence of each, in order
