"""Batch validation: what the pipeline accepts, and why it quarantines the rest, whether the
batch is Parquet (from the producer, through the relay) or CSV (dropped by hand)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gameday.stack import features as F
from gameday.stack import validation
from gameday.stack.producer import batch_table


def _batch(n: int = 50, **overrides: np.ndarray) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {
        "entity_id": np.array([F.entity_id(i) for i in range(n)]),
        "event_time": np.full(n, 1.7e9),
    }
    cols.update(F.generate(np.random.default_rng(1), n, nulls=False))
    cols.update(overrides)
    return cols


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def to_csv(columns: dict[str, np.ndarray]) -> bytes:
    """Columns as a CSV file with a header (None and NaN as empty fields)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(columns))
    rows = zip(*(list(v) for v in columns.values()), strict=True)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue().encode()


def to_parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def test_healthy_batch_is_accepted_with_its_rows() -> None:
    report = validation.validate(to_csv(_batch()))
    assert report.accepted
    assert len(report.rows) == 50
    assert report.rows[0]["entity_id"] == "e00000"


def test_missing_column_is_a_schema_error() -> None:
    cols = _batch()
    del cols["merchant_risk"]
    report = validation.validate(to_csv(cols))
    assert report.reasons == ["schema"]
    assert "merchant_risk" in report.messages[0]
    assert report.rows == []


def test_value_outside_range_quarantines_the_whole_batch() -> None:
    cols = _batch()
    age = cols["account_age_days"].copy()
    age[3] = -1
    report = validation.validate(to_csv({**cols, "account_age_days": age}))
    assert report.reasons == ["out_of_range"]
    assert report.out_of_range == {"account_age_days": 1}
    assert "line 5" in report.messages[0]
    assert report.rows == []


def test_text_in_a_numeric_column_is_a_type_error() -> None:
    cols = _batch()
    txn = cols["txn_count_7d"].astype(object)
    txn[0] = "12 units"
    report = validation.validate(to_csv({**cols, "txn_count_7d": txn}))
    assert report.reasons == ["type"]
    assert report.type_errors == {"txn_count_7d": 1}


def test_a_few_nulls_are_tolerated_but_counted() -> None:
    cols = _batch()
    trust = cols["device_trust"].astype(object)
    trust[:10] = None
    report = validation.validate(to_csv({**cols, "device_trust": trust}))
    assert report.accepted
    assert report.nulls == {"device_trust": 10}
    assert report.rows[0]["device_trust"] is None


def test_a_mostly_null_column_is_quarantined() -> None:
    report = validation.validate(to_csv({**_batch(), "merchant_risk": np.full(50, None)}))
    assert report.reasons == ["null_share"]
    assert "merchant_risk is null in 100% of rows" in report.messages[0]


def test_empty_and_garbage_batches_are_refused() -> None:
    header_only = validation.validate(to_csv({k: v[:0] for k, v in _batch().items()}))
    assert header_only.reasons == ["empty"]
    assert validation.validate(b"\xff\xfe\x00garbage").reasons == ["parse"]
    assert validation.validate(b"a,b\n1,2\n").reasons == ["schema"]


def test_unknown_channel_is_out_of_range() -> None:
    report = validation.validate(to_csv({**_batch(3), "channel": np.array(["web", "fax", "app"])}))
    assert report.reasons == ["out_of_range"]
    assert report.out_of_range == {"channel": 1}


# --- Parquet: the producer's batches, as the relay delivers them -------------------------------


def test_a_parquet_batch_reads_as_the_same_rows_as_its_csv() -> None:
    cols = _batch()
    trust = cols["device_trust"].copy()
    trust[:5] = np.nan  # a null in the producer's columns
    cols["device_trust"] = trust
    from_parquet = validation.validate(to_parquet(batch_table(cols)), "parquet")
    from_csv = validation.validate(to_csv(cols))
    assert from_parquet.accepted and from_csv.accepted
    assert from_parquet.rows == from_csv.rows
    assert from_parquet.nulls == {"device_trust": 5}


@pytest.mark.parametrize(
    ("column", "values", "reason"),
    [
        ("account_age_days", pa.array([-1.0] + [10.0] * 49), "out_of_range"),
        ("txn_count_7d", pa.array(["12 units"] * 50), "type"),
        ("merchant_risk", pa.nulls(50, pa.float64()), "null_share"),
        ("channel", pa.array(["fax"] * 50), "out_of_range"),
    ],
)
def test_a_bad_parquet_column_is_refused_for_its_reason(
    column: str, values: pa.Array, reason: str
) -> None:
    table = batch_table(_batch())
    index = table.column_names.index(column)
    bad = table.set_column(index, pa.field(column, values.type), values)
    report = validation.validate(to_parquet(bad), "parquet")
    assert report.reasons == [reason]
    assert report.rows == []


def test_a_torn_or_foreign_parquet_file_is_a_parse_rejection() -> None:
    data = to_parquet(batch_table(_batch()))
    for broken in (data[: len(data) // 2], b"PAR1 not really", to_csv(_batch())):
        report = validation.validate(broken, "parquet")
        assert report.reasons == ["parse"]
        assert "not a readable Parquet file" in report.messages[0]


def test_a_parquet_batch_without_rows_or_with_other_columns_is_refused() -> None:
    table = batch_table(_batch())
    assert validation.validate(to_parquet(table.slice(0, 0)), "parquet").reasons == ["empty"]
    renamed = table.rename_columns(["id", *table.column_names[1:]])
    report = validation.validate(to_parquet(renamed), "parquet")
    assert report.reasons == ["schema"]
    assert "missing columns: entity_id" in report.messages[0]
