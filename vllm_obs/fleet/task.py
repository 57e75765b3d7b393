"""One task per source: the same analysis as `vllm-obs analyze`, flattened into table rows.

This is the only module of the fleet package that imports the analysis, so a move of the
analysis code changes one import here.

Object-storage members are downloaded to a temporary directory first and then read by the
same reader as local files: that reader detects gzip by content, yields every line before a
damaged .gz, and infers the year from the file's modification time (set from the object's), so
a tree gives the same results from S3 as from disk. A source is a few files of a few MB, so a
temporary copy costs little next to parsing it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vllm_obs.archive.analyze import add_theory, analyze_paths
from vllm_obs.archive.findings import FAILURE_KINDS
from vllm_obs.archive.statsview import saturated_seconds
from vllm_obs.fleet.discovery import Source
from vllm_obs.fold.facts import STATS_KEYS
from vllm_obs.fold.summary import CONTRACT_KEYS
from vllm_obs.ingest.timestamps import parse_time, parse_timezone

KV_SATURATION_PCT = 90.0
# Error kinds counted in their own starts.parquet column (errors_<kind>); others in errors_other.
ERROR_KINDS = ("preemption",) + tuple(FAILURE_KINDS)
# observed_vs_theory entries given as <name>_theory and <name>_ratio (observed / theory).
THEORY_KEYS = ("model_weights_gib", "kv_cache_memory_gib", "gpu_blocks", "kv_cache_tokens", "max_concurrency")
DETAIL_FLAGS = ("enable_prefix_caching", "enforce_eager", "block_size", "max_num_seqs", "max_num_batched_tokens")
LABELS = ("namespace", "pod", "pod_uid", "container", "container_id")
STATS_EXTRA_KEYS = ("preemptions", "deferred", "external_prefix_cache_hit_pct", "mm_cache_hit_pct")
# Start keys turned into their own columns; anything else a start carries (keys added to the
# summary later, e.g. per-engine KV for data parallel) goes to `other_json`.
_START_KEYS_USED = {"index", "started_at", "stopped_at", "stop_reason", "stats", "errors", "details", "theory", *CONTRACT_KEYS}


@dataclass(frozen=True)
class TaskOptions:
    year: int | None = None
    timezone: str = "UTC"
    model: str | None = None
    model_config: str | None = None
    gpu: str | None = None
    reports: bool = False  # also the single-source HTML report (vllm-obs report) per source


def analyze_source(source: Source, options: TaskOptions) -> dict[str, Any]:
    """Analyze one source; never raises (a failure is the result's status and reason)."""
    try:
        if source.remote:
            with tempfile.TemporaryDirectory(prefix="vllm-obs-fleet-") as tmp:
                paths = _download(source, tmp)
                return _analyze(source, paths, options)
        return _analyze(source, list(source.members), options)
    except Exception as exc:  # noqa: BLE001 - one bad source must not stop the fleet
        return failed_result(source, f"{type(exc).__name__}: {exc}")


def failed_result(source: Source, reason: str) -> dict[str, Any]:
    """The result for a source that could not be analyzed (also a worker crash, a Ray task error)."""
    return {"source": _source_row(source, status="failed", problems=[reason]), "starts": [], "stats": [], "errors": []}


def _download(source: Source, directory: str) -> list[str]:
    import fsspec

    paths = []
    for i, (url, mtime) in enumerate(zip(source.members, source.mtimes or (None,) * len(source.members))):
        local = os.path.join(directory, f"{i:04d}-{os.path.basename(url)}")
        with fsspec.open(url, "rb") as remote, open(local, "wb") as out:
            shutil.copyfileobj(remote, out, 1 << 20)
        if mtime is not None:
            os.utime(local, (mtime, mtime))
        paths.append(local)
    return paths


def _analyze(source: Source, paths: list[str], options: TaskOptions) -> dict[str, Any]:
    summary, problems = analyze_paths(paths, year=options.year, tz=parse_timezone(options.timezone), lazy=False)
    add_theory(summary, model=options.model, model_config=options.model_config, gpu=options.gpu)
    # Messages name the member relative to its root: the same for a local and a downloaded copy.
    for path, name in sorted(zip(paths, source.names), key=lambda p: -len(p[0])):
        problems = [p.replace(path, name) for p in problems]
    lines = summary["details"]["lines"]
    read_any = any(lines.values())
    status = "ok" if not problems else ("partial" if read_any else "failed")
    labels = {"source": source.key, **{k: source.labels.get(k) for k in LABELS}}
    starts, stats, errors = [], [], []
    for start in summary.get("starts", []):
        starts.append(start_row(labels, start))
        index = start["index"]
        for entry in start.get("stats") or ():
            stats.append(_stats_row(labels, index, entry))
        for error in start.get("errors") or ():
            errors.append({**labels, "start_index": index, "time": _time(error.get("time")),
                           "kind": error.get("kind"), "message": error.get("message")})
    row = _source_row(source, status=status, problems=problems, lines=lines, engine_starts=len(starts))
    result = {"source": row, "starts": starts, "stats": stats, "errors": errors}
    if options.reports and read_any:
        # Rendered here, in the worker (plots are the slow part), and handed back as text:
        # a Ray worker on another node cannot write into the driver's OUTDIR.
        from vllm_obs.archive.page import render_html
        from vllm_obs.archive.report import build_report

        report = build_report(summary, list(source.names), model=options.model, model_config=options.model_config, gpu=options.gpu)
        result["report_html"] = render_html(report)
    return result


def _source_row(source: Source, status: str, problems: list[str], lines: dict | None = None, engine_starts: int = 0) -> dict[str, Any]:
    lines = lines or {}
    return {
        "source": source.key, **{k: source.labels.get(k) for k in LABELS},
        "root": source.root, "members": list(source.names), "size_bytes": source.size_bytes,
        "lines_matched": lines.get("matched", 0), "lines_unmatched": lines.get("unmatched", 0),
        "engine_starts": engine_starts, "status": status, "problems": list(problems),
    }


def start_row(labels: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
    """One starts.parquet row from one entry of the summary's `starts`."""
    details = start.get("details") or {}
    row: dict[str, Any] = {**labels, "start_index": start["index"]}
    for key in CONTRACT_KEYS:
        row[key] = start.get(key)
    for key in DETAIL_FLAGS:  # the flags that shape capacity, when the log printed them
        row[key] = details.get(key)
    row["started_at"] = _time(start.get("started_at"))
    row["stopped_at"] = _time(start.get("stopped_at"))
    row["stop_reason"] = start.get("stop_reason")
    stats = start.get("stats") or []
    errors = start.get("errors") or []
    row["stats_lines"] = len(stats)
    row["errors_total"] = len(errors)
    kinds = [e.get("kind") for e in errors]
    for kind in ERROR_KINDS:
        row[f"errors_{kind}"] = kinds.count(kind)
    row["errors_other"] = sum(1 for k in kinds if k not in ERROR_KINDS)
    row["last_failure_kind"] = next((k for k in reversed(kinds) if k in FAILURE_KINDS), None)
    row["preemptions_total"] = details.get("preemptions_total")
    row["peak_running"] = details.get("peak_running")
    row["peak_waiting"] = details.get("peak_waiting")
    row["peak_gpu_kv_usage_pct"] = details.get("peak_gpu_kv_usage_pct")
    row["kv_saturated_minutes"] = kv_saturated_minutes(stats)
    theory = start.get("theory") or {}
    row["theory_model"] = theory.get("model")
    row["theory_gpu"] = theory.get("gpu")
    compared = theory.get("observed_vs_theory") or {}
    for key in THEORY_KEYS:
        entry = compared.get(key) or {}
        row[f"{key}_theory"] = entry.get("theory")
        row[f"{key}_ratio"] = entry.get("ratio")
    other = {k: v for k, v in start.items() if k not in _START_KEYS_USED}
    row["other_json"] = json.dumps(other, sort_keys=True) if other else None
    return row


def kv_saturated_minutes(stats: list[dict]) -> float:
    """Minutes with GPU KV usage >= 90 %, between consecutive stats lines of one engine (data
    parallel engines print their own lines; the most saturated engine counts)."""
    by_engine: dict[Any, list[dict]] = {}
    for entry in stats:
        by_engine.setdefault(entry.get("engine"), []).append(entry)
    seconds = max((saturated_seconds(rows, KV_SATURATION_PCT) for rows in by_engine.values()), default=0.0)
    return round(seconds / 60, 3)


def _stats_row(labels: dict[str, Any], index: int, entry: dict[str, Any]) -> dict[str, Any]:
    row = {**labels, "start_index": index, "time": _time(entry.get("time")), "engine_index": entry.get("engine")}
    for key in STATS_KEYS + STATS_EXTRA_KEYS:
        row[key] = entry.get(key)
    return row


def _time(text: str | None) -> datetime | None:
    """A full timestamp, or None for a stamp that could not be dated (printed without a year)."""
    return parse_time(text) if text else None
