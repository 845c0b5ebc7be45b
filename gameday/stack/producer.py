"""Upstream producer: drops a fresh batch of feature rows into the landing folder.

Batch ``k`` covers the next ``rows`` entities in turn (so the whole entity space is
refreshed every ``entities / rows`` batches) with values drawn, seeded by ``k``, from the
healthy distributions. Files appear atomically (written under a dot-name, then renamed).
Data faults act here, on batches as they are emitted: ``/internal/faults`` registers
transforms (see :mod:`gameday.stack.batch_faults`); source data is never edited in place.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI
from opentelemetry import trace
from prometheus_client import Counter, Gauge

from gameday.stack import _runtime as rt
from gameday.stack import batch_faults
from gameday.stack import features as F
from gameday.stack.service_faults import ServiceFaults

SERVICE = "producer"

EMITTED = Counter("producer_batches_total", "Batches written to the landing folder.")
EMITTED_ROWS = Counter("producer_rows_total", "Rows written to the landing folder.")
LAST_EMIT = Gauge("producer_last_batch_timestamp_seconds", "Unix time of the last batch.")


class Producer:
    """Generates batch after batch and lets active data faults transform them."""

    def __init__(self, landing: Path, rows: int, entities: int, seed: int, tracer: trace.Tracer):
        self.landing = landing
        self.landing.mkdir(parents=True, exist_ok=True)
        self.rows, self.entities, self.seed = rows, entities, seed
        self.tracer = tracer
        self.faults = ServiceFaults(batch_faults.KINDS)
        self.index = 0

    def clean_batch(self, index: int) -> batch_faults.Batch:
        """The healthy batch number ``index``: the same every time (seeded by index)."""
        rng = np.random.default_rng((self.seed, index))
        cols = F.generate(rng, self.rows)
        first = index * self.rows
        ids = [F.entity_id((first + i) % self.entities) for i in range(self.rows)]
        cols_out: dict[str, Any] = {
            "entity_id": np.array(ids),
            "event_time": np.full(self.rows, time.time()),
        }
        cols_out.update(cols)
        return batch_faults.Batch(f"batch-{index:06d}", cols_out)

    def emit(self) -> list[str]:
        """Write the next batch (as the faults shape it); return the batch ids written."""
        with self.tracer.start_as_current_span("producer.emit_batch") as span:
            batch = self.clean_batch(self.index)
            self.index += 1
            out = batch_faults.apply_all(self.faults.active(), batch)
            for item in out:
                self._write(item)
            span.set_attribute("gameday.batches", [b.batch_id for b in out])
            return [b.batch_id for b in out]

    def _write(self, batch: batch_faults.Batch) -> None:
        tmp = self.landing / f".{batch.batch_id}.tmp"
        tmp.write_bytes(batch.raw if batch.raw is not None else batch_faults.to_csv(batch.columns))
        tmp.replace(self.landing / f"{batch.batch_id}.csv")
        EMITTED.inc()
        EMITTED_ROWS.inc(batch.row_count)
        LAST_EMIT.set(time.time())

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
    """The producer's HTTP surface: health, metrics and the data-fault control API."""
    app = rt.create_app(
        SERVICE, producer.tracer, log, background=lambda: producer.run(interval, log)
    )
    LAST_EMIT.set(time.time())
    producer.faults.mount(app)
    return app


def main(argv: list[str] | None = None) -> None:
    p = rt.parser("gameday reference stack: upstream batch producer")
    p.add_argument("--landing", type=Path, required=True)
    p.add_argument("--interval", type=float, default=2.0, help="seconds between batches")
    p.add_argument("--rows", type=int, default=500)
    p.add_argument("--entities", type=int, default=2000)
    p.add_argument("--seed", type=int, default=11)
    args: argparse.Namespace = p.parse_args(argv)
    log = rt.setup_logging(SERVICE, args.log_level)
    tracer = rt.setup_tracing(SERVICE, args.otlp)
    producer = Producer(args.landing, args.rows, args.entities, args.seed, tracer)
    rt.serve(build_app(producer, args.interval, log), args, service=SERVICE)


if __name__ == "__main__":
    main()
