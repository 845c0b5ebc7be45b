"""The upstream data pipeline: a Parquet batch of customer features every ``--interval`` s.

``python -m mlplatform.producer --upstream DIR [--interval 2] [--rows 200] [--entities 2000]
[--seed 7] [--port 0] [--otlp URL]`` writes ``DIR/batch-000001.parquet``, ``-000002``, ...
Each file is written under a dot-name and renamed into place, so a reader (the batch relay,
or ingestion reading DIR directly) never sees half a file. The first batch, written at
start, is a full snapshot (every customer once), so the online store knows every customer
from then on; later batches update ``--rows`` customers drawn at random. Serves
``/healthz`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
from opentelemetry import trace
from prometheus_client import Counter, Gauge

from mlplatform import features as F
from mlplatform import service, telemetry

SERVICE = "producer"

BATCHES = Counter("mlp_producer_batches", "Batches written to the upstream folder.")
LAST_BATCH = Gauge(
    "mlp_producer_last_batch_timestamp_seconds", "Unix time of the last batch written."
)


class Producer:
    """Writes numbered healthy batches into ``upstream`` from a seeded generator."""

    def __init__(self, upstream: Path, rows: int, entities: int, seed: int, log: logging.Logger):
        self.upstream = upstream
        self.rows, self.entities = rows, entities
        self.rng = np.random.default_rng(seed)
        self.log = log
        self.number = 0
        self.tracer = trace.get_tracer(SERVICE)

    def write_next(self) -> Path:
        """Write the next batch atomically; its final path."""
        self.number += 1
        name = f"batch-{self.number:06d}.parquet"
        with self.tracer.start_as_current_span("produce batch") as span:
            frame = (
                F.snapshot(self.rng, self.entities)
                if self.number == 1
                else F.generate(self.rng, self.rows, self.entities)
            )
            final = self.upstream / name
            temp = self.upstream / f".{name}.{os.getpid()}.tmp"
            frame.to_parquet(temp, index=False)
            os.replace(temp, final)
            span.set_attribute("batch.name", name)
            span.set_attribute("batch.rows", len(frame))
            BATCHES.inc()
            LAST_BATCH.set(time.time())
            telemetry.log(self.log, "batch written", batch=name, rows=len(frame))
        return final

    async def run(self, interval_s: float) -> None:
        """Write a batch now and then every ``interval_s`` seconds, until cancelled."""
        next_at = time.monotonic()
        while True:
            try:
                await asyncio.to_thread(self.write_next)
            except Exception:  # the loop must outlive any one bad batch
                self.log.exception("cannot write a batch into %s", self.upstream)
            next_at += interval_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def main(argv: list[str] | None = None) -> int:
    """Parse options, then produce and serve until SIGTERM; the exit code."""
    p = service.parser("python -m mlplatform.producer", "Parquet batches into an upstream folder")
    p.add_argument("--upstream", required=True, type=Path, help="folder batches are written to")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between batches (2)")
    p.add_argument("--rows", type=int, default=200, help="rows a batch (200)")
    p.add_argument("--entities", type=int, default=2000, help="distinct customers (2000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (7)")
    args = p.parse_args(argv)
    if args.interval <= 0 or args.rows < 1 or args.entities < 1:
        print("--interval must be > 0, --rows and --entities at least 1", file=sys.stderr)
        return 2
    log = telemetry.setup_logging(SERVICE, args.log_level)
    telemetry.setup_tracing(SERVICE, args.otlp)
    args.upstream.mkdir(parents=True, exist_ok=True)
    producer = Producer(args.upstream, args.rows, args.entities, args.seed, log)
    app = service.create_app(SERVICE, lambda: producer.run(args.interval))
    return service.serve(app, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
