"""Feature store: the latest features per entity, in SQLite, behind HTTP.

``GET /features/{entity_id}`` serves one entity; ``POST /features`` upserts a batch (the
pipeline's write path) and records which batch each row came from, so a verifier can prove
that no row of a quarantined batch was ever stored. ``GET /internal/changes`` is a change
feed (by write sequence) that the drift monitor tails.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace
from prometheus_client import Counter, Gauge

from gameday.stack import _runtime as rt
from gameday.stack import features as F

SERVICE = "feature-store"
SEED = 7

ROWS = Gauge("feature_store_entities", "Entities held by the feature store.")
WRITES = Counter("feature_store_rows_written_total", "Rows upserted, by writer batch.")
LAST_WRITE = Gauge("feature_store_last_write_timestamp_seconds", "Unix time of the last upsert.")
LOOKUPS = Counter("feature_store_lookups_total", "Entity lookups, by result.", ["result"])

_COLUMNS = ", ".join(F.FEATURE_NAMES)


class Store:
    """The SQLite tables behind the service (one connection, used from the event loop)."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        cols = ", ".join(f"{n} REAL" for n in F.NUMERIC_NAMES)
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS features (entity_id TEXT PRIMARY KEY, {cols}, "
            "channel TEXT, event_time REAL, updated_at REAL, batch_id TEXT, seq INTEGER)"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS features_seq ON features(seq)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS writes (batch_id TEXT, rows INTEGER, written_at REAL)"
        )
        self.seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM features").fetchone()[0]

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM features").fetchone()[0])

    def get(self, entity_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS}, event_time, updated_at, batch_id FROM features "
            "WHERE entity_id = ?",
            (entity_id,),
        ).fetchone()
        if row is None:
            return None
        n = len(F.FEATURE_NAMES)
        feats = dict(zip(F.FEATURE_NAMES, row[:n], strict=True))
        return {
            "entity_id": entity_id,
            "features": feats,
            "event_time": row[n],
            "updated_at": row[n + 1],
            "batch_id": row[n + 2],
        }

    def upsert(self, rows: list[dict[str, Any]], batch_id: str) -> int:
        now = time.time()
        values = []
        for row in rows:
            self.seq += 1
            feats = [_sql_value(row.get(name)) for name in F.FEATURE_NAMES]
            values.append(
                (row["entity_id"], *feats, row.get("event_time"), now, batch_id, self.seq)
            )
        marks = ", ".join("?" * (len(F.FEATURE_NAMES) + 5))
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                f"INSERT OR REPLACE INTO features (entity_id, {_COLUMNS}, event_time, updated_at, "
                f"batch_id, seq) VALUES ({marks})",
                values,
            )
            self.db.execute("INSERT INTO writes VALUES (?, ?, ?)", (batch_id, len(rows), now))
        return len(rows)

    def changes(self, after: int, limit: int) -> list[dict[str, Any]]:
        cur = self.db.execute(
            f"SELECT seq, {_COLUMNS} FROM features WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [{"seq": r[0], **dict(zip(F.FEATURE_NAMES, r[1:], strict=True))} for r in cur]

    def batch_rows(self, batch_ids: list[str]) -> dict[str, dict[str, int]]:
        """Per batch id: rows ever written from it, and rows currently holding its values."""
        out = {}
        for bid in batch_ids:
            written = self.db.execute(
                "SELECT COALESCE(SUM(rows), 0) FROM writes WHERE batch_id = ?", (bid,)
            ).fetchone()[0]
            current = self.db.execute(
                "SELECT COUNT(*) FROM features WHERE batch_id = ?", (bid,)
            ).fetchone()[0]
            out[bid] = {"written": int(written), "current": int(current)}
        return out


def _sql_value(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def seed(store: Store, entities: int, seed_value: int = SEED) -> None:
    """Fill an empty store with ``entities`` deterministic rows (batch id ``seed``)."""
    if store.count() >= entities:
        return
    cols = F.generate(np.random.default_rng(seed_value), entities)
    now = time.time()
    rows = [
        {
            "entity_id": F.entity_id(i),
            "event_time": now,
            **{name: _py(cols[name][i]) for name in F.FEATURE_NAMES},
        }
        for i in range(entities)
    ]
    store.upsert(rows, "seed")


def _py(value: Any) -> Any:
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    return value.item() if isinstance(value, np.generic) else value


def build_app(store: Store, tracer: trace.Tracer, log: Any) -> FastAPI:
    """The feature store's HTTP API over ``store``."""
    app = rt.create_app(SERVICE, tracer, log)
    ROWS.set(store.count())
    LAST_WRITE.set(time.time())
    for result in ("hit", "miss"):
        LOOKUPS.labels(result)

    @app.get("/features/{entity_id}")
    async def get_features(entity_id: str) -> JSONResponse:
        with tracer.start_as_current_span("sqlite.select"):
            row = store.get(entity_id)
        LOOKUPS.labels("hit" if row else "miss").inc()
        if row is None:
            return rt.error(404, f"unknown entity {entity_id!r}")
        return JSONResponse(row)

    @app.post("/features")
    async def upsert(request: Request) -> JSONResponse:
        return _upsert(store, tracer, await request.body())

    @app.get("/internal/changes")
    async def changes(after: int = 0, limit: int = 2000) -> dict[str, Any]:
        rows = store.changes(after, min(limit, 10_000))
        return {"seq": rows[-1]["seq"] if rows else after, "rows": rows}

    @app.get("/internal/batches")
    async def batches(ids: str = "") -> dict[str, Any]:
        wanted = [b for b in ids.split(",") if b]
        return {"batches": store.batch_rows(wanted), "entities": store.count()}

    return app


def _upsert(store: Store, tracer: trace.Tracer, body: bytes) -> JSONResponse:
    try:
        doc = json.loads(body)
        rows, batch_id = doc["rows"], str(doc.get("batch_id", "unknown"))
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and "entity_id" in r for r in rows
        ):
            raise TypeError("rows must be a list of objects with entity_id")
    except (ValueError, KeyError, TypeError) as exc:
        return rt.error(400, f"bad upsert body: {exc}")
    with tracer.start_as_current_span("sqlite.upsert") as span:
        span.set_attribute("gameday.batch_id", batch_id)
        span.set_attribute("gameday.rows", len(rows))
        written = store.upsert(rows, batch_id)
    WRITES.inc(written)
    LAST_WRITE.set(time.time())
    ROWS.set(store.count())
    return JSONResponse({"written": written, "batch_id": batch_id})


def main(argv: list[str] | None = None) -> None:
    p = rt.parser("gameday reference stack: feature store")
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--entities", type=int, default=2000)
    args: argparse.Namespace = p.parse_args(argv)
    log = rt.setup_logging(SERVICE, args.log_level)
    tracer = rt.setup_tracing(SERVICE, args.otlp)
    store = Store(args.db)
    seed(store, args.entities)
    rt.serve(build_app(store, tracer, log), args, service=SERVICE)


if __name__ == "__main__":
    main()
