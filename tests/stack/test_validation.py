"""Batch validation: what the pipeline accepts, and why it quarantines the rest."""

from __future__ import annotations

import numpy as np

from gameday.stack import features as F
from gameday.stack import validation
from gameday.stack.batch_faults import to_csv


def _batch(n: int = 50, **overrides: np.ndarray) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {
        "entity_id": np.array([F.entity_id(i) for i in range(n)]),
        "event_time": np.full(n, 1.7e9),
    }
    cols.update(F.generate(np.random.default_rng(1), n, nulls=False))
    cols.update(overrides)
    return cols


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
