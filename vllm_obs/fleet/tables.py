"""The Parquet tables of a fleet run, written row group by row group (never all in memory).

Schemas are fixed here (docs/fleet.md documents them), so a column has the same type whether
or not any source printed it.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vllm_obs.fleet.task import (
    DETAIL_FLAGS,
    ERROR_KINDS,
    LABELS,
    STATS_EXTRA_KEYS,
    STATS_KEYS,
    THEORY_KEYS,
)

_TIME = pa.timestamp("ms", tz="UTC")
_LABEL_FIELDS = [pa.field("source", pa.string(), nullable=False)] + [pa.field(k, pa.string()) for k in LABELS]

# Contract keys (summary.CONTRACT_KEYS) and their types.
_CONTRACT_TYPES = {
    "vllm_version": pa.string(), "engine": pa.string(), "model": pa.string(), "served_model_name": pa.string(),
    "dtype": pa.string(), "quantization": pa.string(), "kv_cache_dtype": pa.string(),
    "tensor_parallel_size": pa.int64(), "pipeline_parallel_size": pa.int64(), "data_parallel_size": pa.int64(),
    "max_model_len": pa.int64(), "gpu_memory_utilization": pa.float64(), "total_gpu_memory_gib": pa.float64(),
    "model_weights_gib": pa.float64(), "weights_unit_printed": pa.string(), "model_load_seconds": pa.float64(),
    "non_torch_memory_gib": pa.float64(), "activation_peak_gib": pa.float64(), "kv_cache_memory_gib": pa.float64(),
    "gpu_blocks": pa.int64(), "cpu_blocks": pa.int64(), "kv_cache_tokens": pa.int64(), "max_concurrency": pa.float64(),
    "max_concurrency_tokens_per_request": pa.int64(), "cuda_graph_seconds": pa.float64(), "cuda_graph_gib": pa.float64(),
}

STARTS = pa.schema(
    _LABEL_FIELDS
    + [pa.field("start_index", pa.int64())]
    + [pa.field(k, t) for k, t in _CONTRACT_TYPES.items()]
    + [pa.field(k, pa.bool_() if k in ("enable_prefix_caching", "enforce_eager") else pa.int64()) for k in DETAIL_FLAGS]
    + [pa.field("started_at", _TIME), pa.field("stopped_at", _TIME), pa.field("stop_reason", pa.string()),
       pa.field("stats_lines", pa.int64()), pa.field("errors_total", pa.int64())]
    + [pa.field(f"errors_{k}", pa.int64()) for k in ERROR_KINDS]
    + [pa.field("errors_other", pa.int64()), pa.field("last_failure_kind", pa.string()),
       pa.field("preemptions_total", pa.int64()), pa.field("peak_running", pa.int64()),
       pa.field("peak_waiting", pa.int64()), pa.field("peak_gpu_kv_usage_pct", pa.float64()),
       pa.field("kv_saturated_minutes", pa.float64()),
       pa.field("theory_model", pa.string()), pa.field("theory_gpu", pa.string())]
    + [pa.field(f"{k}_{part}", pa.float64()) for k in THEORY_KEYS for part in ("theory", "ratio")]
    + [pa.field("other_json", pa.string())]
)

_STATS_TYPES = {
    "running": pa.int64(), "waiting": pa.int64(), "swapped": pa.int64(), "preemptions": pa.int64(), "deferred": pa.int64(),
}
STATS = pa.schema(
    _LABEL_FIELDS
    + [pa.field("start_index", pa.int64()), pa.field("time", _TIME), pa.field("engine_index", pa.int64())]
    + [pa.field(k, _STATS_TYPES.get(k, pa.float64())) for k in STATS_KEYS + STATS_EXTRA_KEYS]
)

ERRORS = pa.schema(
    _LABEL_FIELDS
    + [pa.field("start_index", pa.int64()), pa.field("time", _TIME), pa.field("kind", pa.string()),
       pa.field("message", pa.string())]
)

SOURCES = pa.schema(
    _LABEL_FIELDS
    + [pa.field("root", pa.string()), pa.field("members", pa.list_(pa.string())), pa.field("size_bytes", pa.int64()),
       pa.field("lines_matched", pa.int64()), pa.field("lines_unmatched", pa.int64()),
       pa.field("engine_starts", pa.int64()), pa.field("status", pa.string()),
       pa.field("problems", pa.list_(pa.string()))]
)

TABLES = {"starts": STARTS, "stats": STATS, "errors": ERRORS, "sources": SOURCES}


def _coerce(value: Any, kind: pa.DataType) -> Any:
    """A summary value in the column's type (vLLM printed it; types only differ in edge cases:
    a list of served names, an int where a float is expected)."""
    if value is None:
        return None
    if pa.types.is_string(kind):
        return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    if pa.types.is_boolean(kind):
        return value if isinstance(value, bool) else None
    if pa.types.is_integer(kind):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            return None
        return int(value)
    if pa.types.is_floating(kind):
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return value


class TableWriter:
    """Rows in, Parquet row groups out. Rows are gathered as Python values a few thousand at a
    time, then packed into Arrow columns (compact) until `rows_per_group` make a row group.
    Group boundaries depend only on the rows, so every engine writes the same file."""

    def __init__(self, path: str, schema: pa.Schema, rows_per_group: int = 49_152, rows_per_chunk: int = 4096) -> None:
        self.schema = schema
        self.rows_per_group = rows_per_group
        self.rows_per_chunk = rows_per_chunk
        self._types = [(f.name, f.type) for f in schema]
        self._columns: dict[str, list] = {name: [] for name in schema.names}
        self._column_rows = 0
        self._chunks: list[pa.Table] = []
        self._chunk_rows = 0
        self.rows = 0
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            for name, kind in self._types:
                self._columns[name].append(_coerce(row.get(name), kind))
            self._column_rows += 1
            self.rows += 1
            if self._column_rows == self.rows_per_chunk:
                self._pack()
                if self._chunk_rows >= self.rows_per_group:
                    self._write()

    def _pack(self) -> None:
        if self._column_rows:
            self._chunks.append(pa.Table.from_pydict(self._columns, schema=self.schema))
            self._chunk_rows += self._column_rows
            self._columns = {name: [] for name in self.schema.names}
            self._column_rows = 0

    def _write(self) -> None:
        if self._chunk_rows:
            self._writer.write_table(pa.concat_tables(self._chunks), row_group_size=self.rows_per_group)
            self._chunks, self._chunk_rows = [], 0

    def close(self) -> None:
        self._pack()
        self._write()
        self._writer.close()


class FleetWriter:
    """The four tables of OUTDIR, fed one source result at a time."""

    def __init__(self, outdir: str) -> None:
        os.makedirs(outdir, exist_ok=True)
        self.writers = {name: TableWriter(os.path.join(outdir, f"{name}.parquet"), schema) for name, schema in TABLES.items()}

    def add(self, result: dict[str, Any]) -> None:
        self.writers["sources"].add([result["source"]])
        for name in ("starts", "stats", "errors"):
            self.writers[name].add(result[name])

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
