"""Batch validation for the pipeline: schema, types, ranges, null share, emptiness.

A batch is a Parquet file (what the upstream producer writes) or a CSV file with a header
row (what a person drops by hand); either is read into rows of raw values, then checked the
same way. A file that cannot be read as its format is a ``parse`` rejection.

A batch with any schema, type or range violation is quarantined whole: a corrupted row must
never reach the feature store, and a batch with one bad row is suspect in all its rows.
Nulls are different: tolerated (and imputed at serving) up to ``MAX_NULL_SHARE`` per
feature, above which the batch is quarantined too (a column nulled by a schema change).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gameday.stack import features as F

MAX_NULL_SHARE = 0.5
MAX_BATCH_BYTES = 32 * 1024 * 1024
REASONS = ("parse", "schema", "type", "out_of_range", "null_share", "empty", "duplicate")


@dataclass
class Report:
    """What validation found in one batch; ``reasons`` empty means accepted."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    nulls: dict[str, int] = field(default_factory=dict)
    type_errors: dict[str, int] = field(default_factory=dict)
    out_of_range: dict[str, int] = field(default_factory=dict)
    row_count: int = 0

    @property
    def accepted(self) -> bool:
        return not self.reasons

    def fail(self, reason: str, message: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        if len(self.messages) < 20:
            self.messages.append(message)

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "reasons": self.reasons,
            "messages": self.messages,
            "rows": self.row_count,
            "nulls": self.nulls,
            "type_errors": self.type_errors,
            "out_of_range": self.out_of_range,
        }


@dataclass(frozen=True)
class _Rows:
    """A batch read into rows of raw values, and how a row is named in messages."""

    header: list[str]
    rows: list[dict[Any, Any]]
    unit: str  # "line" (CSV: file lines, the header is line 1) or "row" (Parquet: 1-based)

    def where(self, index: int) -> str:
        return f"line {index + 2}" if self.unit == "line" else f"row {index + 1}"


def validate(data: bytes, fmt: str = "csv") -> Report:
    """Validate one batch (``fmt``: ``parquet`` or ``csv``); the report holds the parsed rows
    when it is accepted."""
    report = Report()
    if len(data) > MAX_BATCH_BYTES:
        report.fail("parse", f"batch is {len(data)} bytes, over {MAX_BATCH_BYTES}")
        return report
    try:
        table = _read_parquet(data) if fmt == "parquet" else _read_csv(data)
    except _Unreadable as exc:
        report.fail("parse", str(exc))
        return report
    if not _check_schema(table.header, report):
        return report
    report.row_count = len(table.rows)
    if not table.rows:
        report.fail("empty", "batch has no rows")
        return report
    report.rows = [_check_row(table.where(i), r, report) for i, r in enumerate(table.rows)]
    _check_null_share(report)
    if not report.accepted:
        report.rows = []
    return report


class _Unreadable(Exception):
    """The bytes are not a readable batch of the format."""


def _read_csv(data: bytes) -> _Rows:
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
        header = list(reader.fieldnames or [])
        return _Rows(header, list(reader), "line")
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _Unreadable(f"not a UTF-8 CSV file: {exc}") from exc


def _read_parquet(data: bytes) -> _Rows:
    try:
        table = pq.read_table(pa.BufferReader(data))
        return _Rows(list(table.column_names), table.to_pylist(), "row")
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _Unreadable(f"not a readable Parquet file: {exc}") from exc


def _check_schema(header: Sequence[str], report: Report) -> bool:
    missing = [c for c in F.BATCH_COLUMNS if c not in header]
    extra = [c for c in header if c not in F.BATCH_COLUMNS]
    if missing:
        report.fail("schema", f"missing columns: {', '.join(missing)}")
    if extra:
        report.fail("schema", f"unexpected columns: {', '.join(extra)}")
    return not (missing or extra)


def _check_row(line: str, raw: dict[Any, Any], report: Report) -> dict[str, Any]:
    if None in raw:  # more fields than the header: csv puts them under the key None
        report.fail("schema", f"{line}: more fields than columns")
    row: dict[str, Any] = {"entity_id": _text(raw.get("entity_id"))}
    if not row["entity_id"]:
        report.fail("schema", f"{line}: empty entity_id")
    row["event_time"] = _number(raw.get("event_time"))
    for feat in F.NUMERIC:
        row[feat.name] = _check_numeric(line, feat, raw.get(feat.name), report)
    row["channel"] = _check_channel(line, raw.get("channel"), report)
    return row


def _check_numeric(line: str, feat: F.NumericFeature, text: Any, report: Report) -> float | None:
    if _text(text) == "" or (isinstance(text, float) and math.isnan(text)):
        report.nulls[feat.name] = report.nulls.get(feat.name, 0) + 1
        return None
    value = _number(text)
    if value is None:
        report.type_errors[feat.name] = report.type_errors.get(feat.name, 0) + 1
        report.fail("type", f"{line}: {feat.name}={str(text)[:40]!r} is not a number")
        return None
    if not feat.low <= value <= feat.high:
        report.out_of_range[feat.name] = report.out_of_range.get(feat.name, 0) + 1
        report.fail(
            "out_of_range",
            f"{line}: {feat.name}={value:g} outside [{feat.low:g}, {feat.high:g}]",
        )
    return value


def _check_channel(line: str, text: Any, report: Report) -> str | None:
    value = _text(text)
    if not value:
        report.nulls["channel"] = report.nulls.get("channel", 0) + 1
        return None
    if value not in F.CHANNELS:
        report.out_of_range["channel"] = report.out_of_range.get("channel", 0) + 1
        report.fail("out_of_range", f"{line}: channel={value[:40]!r} not in {F.CHANNELS}")
    return value


def _check_null_share(report: Report) -> None:
    for name, count in report.nulls.items():
        share = count / report.row_count
        if share > MAX_NULL_SHARE:
            report.fail(
                "null_share", f"{name} is null in {share:.0%} of rows (max {MAX_NULL_SHARE:.0%})"
            )


def _text(value: Any) -> str:
    """A cell as stripped text ("" for a null)."""
    return "" if value is None else str(value).strip()


def _number(text: Any) -> float | None:
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
