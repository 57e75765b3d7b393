"""Find the sources of a fleet: one source per log that a server (or container) wrote.

A source is a rotated set read in time order (vllm_obs.ingest.discovery' rules). Two layouts are known:
- Kubernetes (`/var/log/pods/<namespace>_<pod>_<uid>/<container>/N.log`): the whole container
  directory is one source (restart files 0.log, 1.log, ... and their rotations, in order), so a
  crash-looping container gives one source with one engine start per restart;
- Docker json-file (`<id>-json.log` and its rotations): the container id.
Anything else is grouped by rotation base name and named by its path relative to the argument.
Local paths and fsspec URLs (s3://, gs://, http(s)://, file://) are walked the same way.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import Any

from vllm_obs.ingest.discovery import LOG_FILE_NAME, order_rotated, rotation_key

# Namespaces and pod names are DNS labels (no underscore); the uid is a UUID.
_K8S_DIR = re.compile(r"(?:^|/)(?P<namespace>[a-z0-9][a-z0-9.-]*)_(?P<pod>[a-z0-9][a-z0-9.-]*)_(?P<uid>[0-9a-fA-F-]{8,})/(?P<container>[^/]+)$")
_DOCKER_NAME = re.compile(r"^(?P<id>[0-9a-f]{12,64})-json\.log")
_RESTART = re.compile(r"^(\d+)\.log")


class DiscoveryError(Exception):
    """An argument that cannot be walked (unknown protocol, missing fsspec, no such path)."""


@dataclass(frozen=True)
class Source:
    key: str  # unique, stable across local and object-storage copies of a tree; the sort key
    root: str  # the argument it was found under
    members: tuple[str, ...]  # local paths or URLs, in reading order
    names: tuple[str, ...]  # the members relative to the root (for messages)
    size_bytes: int
    mtimes: tuple[float | None, ...] = ()  # remote modification times (year inference after a download)
    remote: bool = False  # members are URLs to fetch, not local paths
    labels: dict[str, str] = field(default_factory=dict)  # namespace, pod, pod_uid, container, container_id


def is_url(arg: str) -> bool:
    return "://" in arg


def discover(args: list[str]) -> tuple[list[Source], list[str]]:
    """Every source under the arguments, sorted by key, and one-line problems for arguments
    that gave nothing."""
    sources: list[Source] = []
    problems: list[str] = []
    prefix_roots = len(args) > 1
    for arg in args:
        try:
            files, remote = _list_files(arg)
        except DiscoveryError as exc:
            problems.append(str(exc))
            continue
        if not files:
            problems.append(f"{arg}: no log files found (looked for *.log, *.log.N, *.gz, *.txt, *.out)")
            continue
        root_name = posixpath.basename(arg.rstrip("/")) or arg
        for source in _group(arg, files, remote):
            if prefix_roots:  # several roots: keep keys unique, still the same for a copy of the tree
                source = replace(source, key=f"{root_name}/{source.key}")
            sources.append(source)
    sources.sort(key=lambda s: s.key)
    seen: set[str] = set()
    unique = []
    for s in sources:
        if s.key in seen:
            problems.append(f"{s.root}: {s.key} named twice; the second copy is skipped")
            continue
        seen.add(s.key)
        unique.append(s)
    return unique, problems


def _list_files(arg: str) -> tuple[dict[str, tuple[str, int, float | None]], bool]:
    """{relative posix name: (location, size in bytes, mtime)} of the log files under arg."""
    if not is_url(arg) or arg.startswith("file://"):
        path = arg.removeprefix("file://")
        return _list_local(path), False
    try:
        import fsspec
    except ImportError:
        raise DiscoveryError(f"{arg}: URLs need the fleet extra (pip install 'vllm-obs[fleet]')") from None
    try:
        fs, path = fsspec.core.url_to_fs(arg)
    except (ImportError, ValueError) as exc:
        raise DiscoveryError(f"{arg}: cannot open this URL ({exc})") from None
    protocol = arg.split("://", 1)[0]
    try:
        if fs.isfile(path):
            entries = {path: fs.info(path)}
            base = posixpath.dirname(path)
        else:
            entries = fs.find(path, detail=True)
            base = path.rstrip("/")
    except (OSError, PermissionError) as exc:
        raise DiscoveryError(f"{arg}: cannot list ({exc})") from None
    out = {}
    for name, info in entries.items():
        if info.get("type") == "directory" or not LOG_FILE_NAME.search(posixpath.basename(name)):
            continue
        rel = posixpath.relpath(name, base) if base else name
        location = name if "://" in name else f"{protocol}://{name}"
        out[rel] = (location, int(info.get("size") or 0), _mtime(info))
    return out, True


def _mtime(info: dict[str, Any]) -> float | None:
    value = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _list_local(path: str) -> dict[str, tuple[str, int, float | None]]:
    out: dict[str, tuple[str, int, float | None]] = {}
    if os.path.isfile(path):
        out[os.path.basename(path)] = (path, os.path.getsize(path), None)
        return out
    if not os.path.isdir(path):
        raise DiscoveryError(f"{path}: no such file or directory")
    for root, _dirs, names in os.walk(path):
        for name in names:
            if not LOG_FILE_NAME.search(name):
                continue
            full = os.path.join(root, name)
            try:
                size = os.path.getsize(full)
            except OSError:
                size = 0
            out[os.path.relpath(full, path).replace(os.sep, "/")] = (full, size, None)
    return out


def _group(arg: str, files: dict[str, tuple[str, int, float | None]], remote: bool) -> list[Source]:
    groups: dict[str, list[str]] = {}
    labels: dict[str, dict[str, str]] = {}
    for rel in sorted(files):
        directory, name = posixpath.split(rel)
        k8s = _K8S_DIR.search(directory)
        docker = _DOCKER_NAME.match(name)
        if k8s:
            key = directory
            labels[key] = {"namespace": k8s["namespace"], "pod": k8s["pod"], "pod_uid": k8s["uid"], "container": k8s["container"]}
        elif docker:
            key = posixpath.join(directory, f"{docker['id']}-json.log")
            labels[key] = {"container_id": docker["id"]}
        else:
            key = rotation_key(rel).base
            labels.setdefault(key, {})
        groups.setdefault(key, []).append(rel)
    sources = []
    for key, members in groups.items():
        if key in labels and "container" in labels[key]:
            # Restart files in restart order (10.log after 9.log); order_rotated keeps bases in
            # the order they first appear and puts each file's rotations before it.
            members.sort(key=lambda rel: (_restart_number(rel), rel))
        ordered = order_rotated(members)
        sources.append(Source(
            key=key,
            root=arg,
            members=tuple(files[rel][0] for rel in ordered),
            names=tuple(ordered),
            size_bytes=sum(files[rel][1] for rel in ordered),
            mtimes=tuple(files[rel][2] for rel in ordered),
            remote=remote,
            labels=labels[key],
        ))
    return sources


def _restart_number(rel: str) -> int:
    m = _RESTART.match(posixpath.basename(rel))
    return int(m.group(1)) if m else 1 << 30
