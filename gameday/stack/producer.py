"""Upstream producer: drops a fresh Parquet batch of feature rows into the upstream folder.

Batch ``k`` covers the next ``rows`` entities in turn (so the whole entity space is
refreshed every ``entities / rows`` batches) with values drawn, seeded by ``k``, from the
healthy distributions. Columns: ``entity_id``, ``event_time``, then every feature (a null
is a Parquet null). Files appear atomically: written under a dot-name, then renamed.

The producer only ever writes healthy data. Data faults act on the way to the pipeline, in
the batch relay that moves each batch from upstream to the pipeline's landing folder.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import FastAPI
from opentelemetry import trace
from prometheus_client import Counter, Gauge

from gameday.stack import _runtime as rt
from gameday.stack import features as F

SERVICE = "producer"
SUFFIX = ".parquet"

EMITTED = Counter("producer_batches_total", "Batches written to the upstream folder.")
EMITTED_ROWS = Counter("producer_rows_total", "Rows written to the upstream folder.")
LAST_EMIT = Gauge("producer_last_batch_timestamp_seconds", "Unix time of the last batch.")


def batch_table(columns: dict[str, np.ndarray]) -> pa.Table:
    """Batch columns (NaN or None marks a null) as an Arrow table in batch column order."""
    arrays = {name: _array(columns[name]) for name in F.BATCH_COLUMNS}
    return pa.table(arrays)


def _array(values: np.ndarray) -> pa.Array:
    if values.dtype.kind == "f":
        return pa.array(values, type=pa.float64(), mask=np.isnan(values))
    return pa.array([None if v is None else str(v) for v in values.tolist()], type=pa.string())


def write_parquet(folder: Path, batch_id: str, table: pa.Table) -> Path:
    """Write ``table`` as ``folder/<batch_id>.parquet`` atomically (dot-named temp, rename)."""
    final = folder / f"{batch_id}{SUFFIX}"
    tmp = folder / f".{batch_id}{SUFFIX}.tmp"
    pq.write_table(table, tmp)
    tmp.replace(final)
    return final


class Producer:
    """Generates batch after batch into the upstream folder."""

    def __init__(self, upstream: Path, rows: int, entities: int, seed: int, tracer: trace.Tracer):
        self.upstream = upstream
        self.upstream.mkdir(parents=True, exist_ok=True)
        self.rows, self.entities, self.seed = rows, entities, seed
        self.tracer = tracer
        self.index = 0

    def clean_batch(self, index: int) -> dict[str, np.ndarray]:
        """The healthy batch number ``index``: the same values every time (seeded by index)."""
        rng = np.random.default_rng((self.seed, index))
        first = index * self.rows
        ids = [F.entity_id((first + i) % self.entities) for i in range(self.rows)]
        return {
            "entity_id": np.array(ids),
            "event_time": np.full(self.rows, time.time()),
            **F.generate(rng, self.rows),
        }

    def emit(self) -> str:
        """Write the next batch; return its id (the file name without its suffix)."""
        with self.tracer.start_as_current_span("producer.emit_batch") as span:
            batch_id = f"batch-{self.index:06d}"
            table = batch_table(self.clean_batch(self.index))
            self.index += 1
            write_parquet(self.upstream, batch_id, table)
            span.set_attribute("gameday.batch_id", batch_id)
        EMITTED.inc()
        EMITTED_ROWS.inc(table.num_rows)
        LAST_EMIT.set(time.time())
        return batch_id

    async def run(self, interval: float, log: Any) -> None:
        next_at = time.monotonic()
        while True:
            try:
                self.emit()
            except Exception:
                log.exception("emitting a batch failed")
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def build_app(producer: Producer, interval: float, log: Any) -> FastAPI:
    """The producer's HTTP surface: health and metrics."""
    app = rt.create_app(
        SERVICE, producer.tracer, log, background=lambda: producer.run(interval, log)
    )
    LAST_EMIT.set(time.time())
    return app


def main(argv: list[str] | None = None) -> None:
    p = rt.parser("gameday reference stack: upstream batch producer")
    p.add_argument("--upstream", type=Path, required=True, help="folder batches are written to")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between batches")
    p.add_argument("--rows", type=int, default=500)
    p.add_argument("--entities", type=int, default=2000)
    p.add_argument("--seed", type=int, default=11)
    args: argparse.Namespace = p.parse_args(argv)
    log = rt.setup_logging(SERVICE, args.log_level)
    tracer = rt.setup_tracing(SERVICE, args.otlp)
    producer = Producer(args.upstream, args.rows, args.entities, args.seed, tracer)
    rt.serve(build_app(producer, args.interval, log), args, service=SERVICE)


if __name__ == "__main__":
    main()
