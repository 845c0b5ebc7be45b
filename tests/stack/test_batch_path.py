"""The stack's batch path: the producer writes Parquet upstream, the relay moves each batch to
landing (through its faults), the pipeline stores exactly what it delivers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import requests
from opentelemetry import trace

from gameday.stack import features as F
from gameday.stack.launcher import Stack
from gameday.stack.producer import Producer, batch_table, write_parquet
from gameday.testing import wait_until


def test_producer_writes_each_batch_as_parquet_into_upstream(tmp_path: Path) -> None:
    producer = Producer(tmp_path / "upstream", 50, 120, seed=3, tracer=trace.get_tracer("t"))
    assert [producer.emit(), producer.emit(), producer.emit()] == [
        "batch-000000", "batch-000001", "batch-000002",
    ]  # fmt: skip
    files = sorted(p.name for p in (tmp_path / "upstream").iterdir())
    assert files == ["batch-000000.parquet", "batch-000001.parquet", "batch-000002.parquet"]
    table = pq.read_table(tmp_path / "upstream" / "batch-000002.parquet")
    assert table.column_names == list(F.BATCH_COLUMNS)
    assert table.num_rows == 50
    assert table.column("entity_id").to_pylist()[0] == F.entity_id(100)
    assert table.schema.field("merchant_risk").type == "double"
    trust = table.column("device_trust")
    assert 0 <= trust.null_count < 10  # the natural 2% null rate, as Parquet nulls (not NaN)
    assert not np.isnan(trust.drop_null().to_numpy()).any()


def test_a_written_batch_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    """The file is renamed into place from a dot-named temp file, which is never left."""
    table = batch_table(_probe_columns(["p1", "p2"], 1000.0))
    path = write_parquet(tmp_path, "batch-000007", table)
    assert path == tmp_path / "batch-000007.parquet"
    assert [p.name for p in tmp_path.iterdir()] == ["batch-000007.parquet"]
    assert pq.read_table(path).equals(table)


def _probe_columns(ids: list[str], event_time: float) -> dict[str, np.ndarray]:
    cols = F.generate(np.random.default_rng(5), len(ids), nulls=False)
    return {"entity_id": np.array(ids), "event_time": np.full(len(ids), event_time), **cols}


def _stored(stack: Stack, entity: str) -> dict[str, Any]:
    """The feature store's row of ``entity`` (empty until it is stored)."""
    reply = requests.get(f"{stack.endpoints['feature_store']}/features/{entity}", timeout=5)
    return dict(reply.json()) if reply.status_code == 200 else {}


@pytest.mark.integration
def test_a_batch_dropped_upstream_is_stored_as_the_relay_delivers_it(stack: Stack) -> None:
    """A relay fault on a column nothing watches (event_time x2): the store holds the
    relayed values, under the batch's id, and the fault lists that batch."""
    relay = f"{stack.endpoints['relay']}/relays/batches/faults"
    name, probe = f"probe-{uuid.uuid4().hex[:8]}", f"probe-{uuid.uuid4().hex[:8]}"
    fault = {"name": name, "type": "unit_change", "gameday_ttl_s": 60,
             "attributes": {"column": "event_time", "factor": 2}}  # fmt: skip
    requests.post(relay, json=fault, timeout=5).raise_for_status()
    try:
        cols = _probe_columns([f"{probe}-a", f"{probe}-b"], 1000.0)
        upstream = Path(stack.endpoints["relays"]["batches"]["upstream"])
        write_parquet(upstream, probe, batch_table(cols))
        row = wait_until(lambda: _stored(stack, f"{probe}-b"), 20, "the probe batch stored")
    finally:
        evidence = requests.delete(f"{relay}/{name}", timeout=5).json()["evidence"]
    assert row["batch_id"] == probe
    assert row["event_time"] == 2000.0
    assert row["features"]["merchant_risk"] == pytest.approx(float(cols["merchant_risk"][1]))
    assert probe in evidence["batches"]


@pytest.mark.integration
def test_a_csv_batch_dropped_into_landing_by_hand_is_stored(stack: Stack) -> None:
    probe = f"hand-{uuid.uuid4().hex[:8]}"
    cols = _probe_columns([f"{probe}-a"], 1500.0)
    header = ",".join(F.BATCH_COLUMNS)
    line = ",".join(str(cols[name][0]) for name in F.BATCH_COLUMNS)
    landing = Path(stack.endpoints["landing"])
    (landing / f".{probe}.tmp").write_text(f"{header}\n{line}\n")
    (landing / f".{probe}.tmp").replace(landing / f"{probe}.csv")
    row = wait_until(lambda: _stored(stack, f"{probe}-a"), 20, "the hand-dropped batch stored")
    assert (row["batch_id"], row["event_time"]) == (probe, 1500.0)
    assert row["features"]["channel"] == str(cols["channel"][0])
