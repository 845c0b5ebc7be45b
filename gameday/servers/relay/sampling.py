"""Reading what a batch holds without paying for all of it: column types and column moments.

Column types come from the whole batch's schema (a Parquet footer; the first block of a CSV).
Moments (count, mean, spread, min, max of each numeric column) come from a sample, the first
:data:`SAMPLE_ROWS` rows, which is plenty to place a drift in standard deviations; for Parquet
the min and max are exact anyway, from the footer's statistics.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

SAMPLE_ROWS = 262_144
"""Rows per batch that feed the moments."""


@dataclass(frozen=True)
class Moments:
    """Count, mean, sum of squared deviations, min and max of a numeric column's values."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    @property
    def std(self) -> float:
        """Population standard deviation (0 for fewer than two values)."""
        return math.sqrt(self.m2 / self.count) if self.count > 1 else 0.0

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """The moments of ``values`` (NaN values ignored)."""
        values = values[~np.isnan(values)]
        if values.size == 0:
            return cls()
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        return cls(int(values.size), mean, m2, float(values.min()), float(values.max()))

    def merge(self, other: Moments) -> Moments:
        """The moments of both samples together (Chan et al.'s parallel update)."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / count
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / count
        return Moments(count, mean, m2, min(self.low, other.low), max(self.high, other.high))


def read_table(source: Path | bytes, fmt: str) -> pa.Table:
    """A whole batch as a typed pyarrow table (pyarrow or OS errors for unreadable ones)."""
    stream = _stream(source)
    if fmt == "parquet":
        return pq.read_table(stream)
    if fmt == "csv":
        return pa_csv.read_csv(stream)
    return pa_json.read_json(stream)


@dataclass(frozen=True)
class Sample:
    """What a batch says about its data: column name → type, numeric column → moments."""

    columns: dict[str, str]
    moments: dict[str, Moments]


def sample(source: Path | bytes, fmt: str) -> Sample:
    """The columns of a batch and the moments of its first :data:`SAMPLE_ROWS` rows.

    Single-threaded on purpose: it runs beside the relay's copies and must not starve them.
    """
    if fmt == "parquet":
        return _parquet_sample(_stream(source))
    if fmt == "csv":
        reader = pa_csv.open_csv(_stream(source), pa_csv.ReadOptions(use_threads=False))
        rows = _head(reader, SAMPLE_ROWS)
        return Sample(column_types(reader.schema), table_moments(rows))
    table = pa_json.read_json(_stream(source), pa_json.ReadOptions(use_threads=False))
    return Sample(column_types(table.schema), table_moments(table.slice(0, SAMPLE_ROWS)))


def column_types(schema: pa.Schema) -> dict[str, str]:
    """Column name → pyarrow type name (``int64``, ``double``, ``string``...)."""
    return {field.name: str(field.type) for field in schema}


def table_moments(table: pa.Table) -> dict[str, Moments]:
    """Moments of every integer or floating-point column of ``table``."""
    out: dict[str, Moments] = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        if _numeric(field.type):
            out[field.name] = Moments.of(column.to_numpy().astype(np.float64, copy=False))
    return out


def _numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


def _stream(source: Path | bytes) -> Path | io.BytesIO:
    return io.BytesIO(source) if isinstance(source, bytes) else source


def _head(reader: pa.RecordBatchReader, rows: int) -> pa.Table:
    batches, count = [], 0
    for batch in reader:
        batches.append(batch)
        count += batch.num_rows
        if count >= rows:
            break
    return pa.Table.from_batches(batches, reader.schema).slice(0, rows)


def _parquet_sample(stream: Path | io.BytesIO) -> Sample:
    parquet = pq.ParquetFile(stream)
    schema = parquet.schema_arrow
    numeric = [f.name for f in schema if _numeric(f.type)]
    head = next(parquet.iter_batches(SAMPLE_ROWS, columns=numeric, use_threads=False), None)
    moments = table_moments(pa.Table.from_batches([head])) if head is not None else {}
    exact = _footer_ranges(parquet)
    moments = {
        name: replace(m, low=exact[name][0], high=exact[name][1]) if name in exact else m
        for name, m in moments.items()
    }
    return Sample(column_types(schema), moments)


def _footer_ranges(parquet: pq.ParquetFile) -> dict[str, tuple[float, float]]:
    """Exact min and max of top-level numeric columns, where every row group records them."""
    meta = parquet.metadata
    ranges: dict[str, tuple[float, float]] = {}
    for i in range(meta.num_columns if meta.num_row_groups else 0):
        chunks = [meta.row_group(g).column(i) for g in range(meta.num_row_groups)]
        stats = [c.statistics for c in chunks]
        if "." in chunks[0].path_in_schema or not all(
            s is not None and s.has_min_max for s in stats
        ):
            continue
        try:
            low, high = min(float(s.min) for s in stats), max(float(s.max) for s in stats)
        except (TypeError, ValueError):
            continue  # not numbers (strings, dates)
        ranges[chunks[0].path_in_schema] = (low, high)
    return ranges
