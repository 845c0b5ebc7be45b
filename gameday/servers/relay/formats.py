"""Batch files: which format a file is, and a batch as rows and columns a fault can change.

A :class:`Frame` is one batch parsed for a fault: its column names, each column's values as
Python values, and a way back to bytes. Parquet goes through pyarrow (every other column keeps
its type and values); CSV through the standard library, so a column no fault touched keeps its
exact text; JSON Lines line by line, so a row no fault touched keeps its exact bytes.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
"""File name suffixes and the format they mean (when the relay has no fixed format)."""

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class FormatError(Exception):
    """The bytes are not a readable batch of the format (such a batch is never transformed)."""


def format_of(name: str, fixed: str | None) -> str | None:
    """The format of file ``name``: the relay's ``fixed`` one, else by suffix, else None."""
    if fixed is not None:
        return fixed
    return SUFFIXES.get(PurePosixPath(name).suffix.lower())


def batch_id(name: str) -> str:
    """A batch's id: its file name without the suffix."""
    return PurePosixPath(name).stem


def duplicate_name(name: str) -> str:
    """The name of a batch's duplicate: ``b-0001.parquet`` → ``b-0001-dup.parquet``."""
    path = PurePosixPath(name)
    return f"{path.stem}-dup{path.suffix}"


def is_candidate(name: str) -> bool:
    """False for names a producer is still writing under: dot-files and ``*.tmp``."""
    return not name.startswith(".") and not name.endswith(".tmp")


def garbage_line(rng: np.random.Generator) -> bytes:
    """A line no CSV or JSON reader accepts: bytes that are never valid UTF-8."""
    return bytes(rng.integers(0x80, 0xC0, size=24, dtype=np.uint8).tolist())


class Frame(ABC):
    """One batch, parsed: named columns of Python values, and its serialisation."""

    format: str

    @property
    @abstractmethod
    def names(self) -> list[str]:
        """Column names, in file order."""

    @property
    @abstractmethod
    def num_rows(self) -> int:
        """Rows in the batch (garbled rows included)."""

    @abstractmethod
    def column(self, name: str) -> list[object]:
        """The values of column ``name`` (None for null or missing), one per row."""

    @abstractmethod
    def set_column(self, name: str, values: Sequence[object]) -> None:
        """Replace column ``name`` with ``values`` (text turns a numeric column into text)."""

    @abstractmethod
    def clear_rows(self) -> int:
        """Drop every row, keep the header or schema; returns the rows dropped."""

    @abstractmethod
    def garble(self, rows: np.ndarray, rng: np.random.Generator) -> int:
        """Make the batch unreadable at ``rows`` (or as a whole); returns the rows affected."""

    @abstractmethod
    def to_bytes(self) -> bytes:
        """The batch as a file of its format."""


def read_frame(data: bytes, fmt: str) -> Frame:
    """Parse ``data`` as ``fmt``; :class:`FormatError` if it is not a readable batch."""
    readers: dict[str, type[ParquetFrame | CsvFrame | JsonlFrame]] = {
        "parquet": ParquetFrame,
        "csv": CsvFrame,
        "jsonl": JsonlFrame,
    }
    try:
        return readers[fmt](data)
    except (pa.ArrowException, OSError, ValueError, csv.Error) as exc:
        raise FormatError(f"not a readable {fmt} batch: {exc}") from exc


def count_rows(data: bytes, fmt: str) -> int:
    """Rows in a batch (0 if it cannot be read)."""
    try:
        if fmt == "parquet":
            return pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows
        return read_frame(data, fmt).num_rows
    except (FormatError, pa.ArrowException, OSError):
        return 0


def number_text(value: object) -> str:
    """A value as text: ``12`` for an integer (or an integral float), ``12.5``, ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


# --- Parquet ---------------------------------------------------------------------------------


class ParquetFrame(Frame):
    """A Parquet batch as a pyarrow table; garbage tears the whole file (no footer)."""

    format = "parquet"

    def __init__(self, data: bytes):
        self.original = data
        self.table = pq.read_table(pa.BufferReader(data))
        self.changed = False
        self.tear_at: float | None = None

    @property
    def names(self) -> list[str]:
        return list(self.table.column_names)

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> list[object]:
        return list(self.table.column(name).to_pylist())

    def set_column(self, name: str, values: Sequence[object]) -> None:
        index = self.table.column_names.index(name)
        old = self.table.schema.field(index)
        array = _arrow_array(values, old.type)
        if array.type != old.type and self.table.schema.metadata:
            # pandas metadata would name the old dtype; readers must see the new one.
            meta = {k: v for k, v in self.table.schema.metadata.items() if k != b"pandas"}
            self.table = self.table.replace_schema_metadata(meta)
        field = pa.field(name, array.type, nullable=True, metadata=old.metadata)
        self.table = self.table.set_column(index, field, array)
        self.changed = True

    def clear_rows(self) -> int:
        rows = self.table.num_rows
        self.table = self.table.slice(0, 0)
        self.changed = True
        return rows

    def garble(self, rows: np.ndarray, rng: np.random.Generator) -> int:
        # A torn write: the file stops part-way, so the footer (and the schema) is missing.
        self.tear_at = float(rng.uniform(0.25, 0.75))
        return self.table.num_rows

    def to_bytes(self) -> bytes:
        data = self.original
        if self.changed:
            sink = pa.BufferOutputStream()
            pq.write_table(self.table, sink)
            data = sink.getvalue().to_pybytes()
        if self.tear_at is not None:
            data = data[: max(1, int(len(data) * self.tear_at))]
        return data


def _arrow_array(values: Sequence[object], old: pa.DataType) -> pa.Array:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.nulls(len(values), old)
    if kinds <= {bool}:
        return pa.array(values, pa.bool_())
    if kinds <= {int}:
        try:
            return pa.array(values, old if pa.types.is_integer(old) else pa.int64())
        except (OverflowError, pa.ArrowInvalid):
            return pa.array([None if v is None else float(v) for v in values], pa.float64())  # type: ignore[arg-type]
    if kinds <= {int, float}:
        target = old if pa.types.is_floating(old) else pa.float64()
        return pa.array([None if v is None else float(v) for v in values], target)  # type: ignore[arg-type]
    return pa.array([None if v is None else number_text(v) for v in values], pa.string())


# --- CSV -------------------------------------------------------------------------------------


class _TextFrame(Frame):
    """A text batch of one row per line: a garbled row is replaced by a garbage line."""

    garbage: dict[int, bytes]

    def garble(self, rows: np.ndarray, rng: np.random.Generator) -> int:
        for i in rows.tolist():
            self.garbage[i] = garbage_line(rng)
        return len(rows)


class CsvFrame(_TextFrame):
    """A CSV batch with a header row. Cells are parsed to numbers only when a fault reads them,
    and a row no fault changed keeps its exact text (quoting, line ending)."""

    format = "csv"

    def __init__(self, data: bytes):
        self.bom = data.startswith(codecs.BOM_UTF8)  # kept, but not part of the first name
        text = data.decode("utf-8-sig")
        self.newline = "\r\n" if "\r\n" in text[:65536] else "\n"
        rows, self.raw = _csv_records(text)
        if not rows:
            raise ValueError("no header row")
        self.header, self.rows = rows[0], rows[1:]
        self.dirty: set[int] = set()
        self.garbage: dict[int, bytes] = {}

    @property
    def names(self) -> list[str]:
        return list(self.header)

    @property
    def num_rows(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[object]:
        j = self.header.index(name)
        return [_parse_cell(row[j]) if j < len(row) else None for row in self.rows]

    def set_column(self, name: str, values: Sequence[object]) -> None:
        j = self.header.index(name)
        for i, (row, value) in enumerate(zip(self.rows, values, strict=True)):
            text = "" if value is None else _cell_text(value)
            if (row[j] if j < len(row) else None) != text:
                row.extend([""] * (j + 1 - len(row)))
                row[j] = text
                self.dirty.add(i)

    def clear_rows(self) -> int:
        rows = len(self.rows)
        self.rows, self.raw, self.dirty, self.garbage = [], self.raw[:1], set(), {}
        return rows

    def to_bytes(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator=self.newline)
        parts = [codecs.BOM_UTF8 if self.bom else b"", self.raw[0].encode()]
        for i, row in enumerate(self.rows):
            if i in self.garbage:
                parts.append(self.garbage[i] + self.newline.encode())
            elif i in self.dirty:
                out.seek(0)
                out.truncate()
                writer.writerow(row)
                parts.append(out.getvalue().encode())
            else:
                parts.append(self.raw[i + 1].encode())
        return b"".join(parts)


def _csv_records(text: str) -> tuple[list[list[str]], list[str]]:
    """CSV records and, for each, the exact source text it came from (blank lines skipped)."""
    lines: list[str] = []

    def feed() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            lines.append(line)
            yield line

    rows, raw, start = [], [], 0
    for row in csv.reader(feed()):
        chunk, start = "".join(lines[start:]), len(lines)
        if row:
            rows.append(row)
            raw.append(chunk if chunk.endswith(("\n", "\r")) else chunk + _ending(text))
    return rows, raw


def _ending(text: str) -> str:
    return "\r\n" if "\r\n" in text[:65536] else "\n"


def _parse_cell(text: str) -> object:
    if text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _cell_text(value: object) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- JSON Lines ------------------------------------------------------------------------------


class JsonlFrame(_TextFrame):
    """A JSON Lines batch (one object per line); unchanged rows keep their exact bytes."""

    format = "jsonl"

    def __init__(self, data: bytes):
        self.raw = [line for line in data.split(b"\n") if line.strip()]
        self.records = [json.loads(line) for line in self.raw]
        if any(not isinstance(record, dict) for record in self.records):
            raise ValueError("a line is not a JSON object")
        self.trailing_newline = data.endswith(b"\n")
        self.dirty: set[int] = set()
        self.garbage: dict[int, bytes] = {}

    @property
    def names(self) -> list[str]:
        seen: dict[str, None] = {}
        for record in self.records:
            seen.update(dict.fromkeys(record))
        return list(seen)

    @property
    def num_rows(self) -> int:
        return len(self.records)

    def column(self, name: str) -> list[object]:
        return [record.get(name) for record in self.records]

    def set_column(self, name: str, values: Sequence[object]) -> None:
        for i, (record, given) in enumerate(zip(self.records, values, strict=True)):
            # JSON has no NaN
            value = None if isinstance(given, float) and not math.isfinite(given) else given
            old = record.get(name)
            if name not in record or old != value or type(old) is not type(value):
                record[name] = value
                self.dirty.add(i)

    def clear_rows(self) -> int:
        rows = len(self.records)
        self.raw, self.records, self.dirty, self.garbage = [], [], set(), {}
        return rows

    def to_bytes(self) -> bytes:
        lines = [self._line(i) for i in range(len(self.records))]
        body = b"\n".join(lines)
        return body + b"\n" if lines and self.trailing_newline else body

    def _line(self, i: int) -> bytes:
        if i in self.garbage:
            return self.garbage[i]
        if i in self.dirty:
            return json.dumps(self.records[i], separators=(",", ":")).encode()
        return self.raw[i]
