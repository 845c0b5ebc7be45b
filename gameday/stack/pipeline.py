"""Batch pipeline: watch the landing folder, validate each batch, store or quarantine it.

Batches are Parquet files (``.parquet``, ``.pq``: what the batch relay delivers from the
upstream producer) or CSV files with a header (``.csv``: dropped by hand); a batch's id is
its file name without the suffix, and batches are taken in id order (so a delivered copy,
``<id>-dup``, comes after the batch it copies). Dot-files and ``*.tmp`` are files still
being written. Accepted batches are upserted into the feature store (through toxiproxy's
``feature_store_writes`` proxy in the embedded stack) and moved to ``processed/``. Rejected
ones are moved to ``quarantine/`` beside a ``<batch>.reason.json`` saying why. A batch whose
write fails stays in landing and is retried: it is not bad data. Byte-identical batches
already ingested are quarantined as duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram

from gameday.stack import _runtime as rt
from gameday.stack import features as F
from gameday.stack import validation

SERVICE = "pipeline"
KEEP_PROCESSED = 200
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
"""The batch files the pipeline takes, by suffix, and how each is read."""

BATCHES = Counter("pipeline_batches_total", "Batches handled, by outcome.", ["outcome"])
REJECTED = Counter("pipeline_batches_rejected_total", "Batches quarantined, by reason.", ["reason"])
ROWS = Counter("pipeline_rows_total", "Rows validated (accepted or not).")
NULLS = Counter("pipeline_feature_nulls_total", "Null values seen at ingestion.", ["feature"])
OUT_OF_RANGE = Counter("pipeline_out_of_range_total", "Values outside their range.", ["feature"])
TYPE_ERRORS = Counter("pipeline_type_errors_total", "Values of the wrong type.", ["feature"])
WRITE_ERRORS = Counter("pipeline_write_errors_total", "Failed feature store writes.", ["reason"])
LAST_SUCCESS = Gauge(
    "pipeline_last_success_timestamp_seconds", "Unix time of the last batch stored."
)
DURATION = Histogram(
    "pipeline_batch_duration_seconds", "Time to handle one batch.", buckets=rt.LATENCY_BUCKETS
)


class Pipeline:
    """The landing → validate → store/quarantine loop and its bookkeeping."""

    def __init__(self, landing: Path, feature_store: str, tracer: trace.Tracer, log: Any):
        self.landing = landing
        self.quarantine = landing.parent / "quarantine"
        self.processed = landing.parent / "processed"
        for d in (self.landing, self.quarantine, self.processed):
            d.mkdir(parents=True, exist_ok=True)
        self.feature_store = feature_store.rstrip("/")
        self.session = rt.LazySession(5.0, connect_s=1.0)
        self.tracer, self.log = tracer, log
        self.seen: dict[str, str] = {}  # content hash -> batch id already stored
        self.quarantined: list[dict[str, Any]] = []
        self.stored: list[str] = []

    def pending(self) -> list[Path]:
        """Complete batch files waiting in landing, in batch id order."""
        return sorted(
            (p for p in self.landing.iterdir() if _is_batch(p)), key=lambda p: (p.stem, p.name)
        )

    async def run(self, interval: float) -> None:
        while True:
            for path in self.pending():
                with DURATION.time():
                    try:
                        await self.handle(path)
                    except Exception:  # the loop must outlive one bad file; it is retried
                        self.log.exception("handling a batch failed", batch=path.name)
            await asyncio.sleep(interval)

    async def handle(self, path: Path) -> None:
        """Validate one batch file and store or quarantine it (or leave it for a retry)."""
        batch_id = path.stem
        with self.tracer.start_as_current_span("pipeline.process_batch") as span:
            span.set_attribute("gameday.batch_id", batch_id)
            data = path.read_bytes()
            with self.tracer.start_as_current_span("pipeline.validate"):
                report = validation.validate(data, FORMATS[path.suffix.lower()])
                digest = hashlib.sha256(data).hexdigest()
                if report.accepted and digest in self.seen:
                    report.fail("duplicate", f"same content as batch {self.seen[digest]}")
            _count(report)
            span.set_attribute("gameday.outcome", "accepted" if report.accepted else "rejected")
            if not report.accepted:
                self._quarantine(path, batch_id, report)
            elif await self._store(batch_id, report.rows):
                self.seen[digest] = batch_id
                self._processed(path, batch_id)

    async def _store(self, batch_id: str, rows: list[dict[str, Any]]) -> bool:
        with self.tracer.start_as_current_span(
            "feature_store.upsert", kind=SpanKind.CLIENT
        ) as span:
            span.set_attribute("peer.service", "feature-store")
            headers: dict[str, str] = {}
            propagate.inject(headers)
            body = {"batch_id": batch_id, "rows": rows}
            try:
                url = f"{self.feature_store}/features"
                async with self.session().post(url, json=body, headers=headers) as response:
                    response.raise_for_status()
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = "timeout" if isinstance(exc, TimeoutError) else "error"
                WRITE_ERRORS.labels(reason).inc()
                span.set_status(Status(StatusCode.ERROR, repr(exc)))
                self.log.warning(
                    "feature store write failed; will retry", batch_id=batch_id, error=repr(exc)
                )
                return False
        return True

    def _quarantine(self, path: Path, batch_id: str, report: validation.Report) -> None:
        BATCHES.labels("rejected").inc()
        for reason in report.reasons:
            REJECTED.labels(reason).inc()
        record = {"batch_id": batch_id, "quarantined_at": time.time(), **report.to_json()}
        target = self.quarantine / path.name
        (self.quarantine / f"{path.stem}.reason.json").write_text(json.dumps(record, indent=2))
        path.replace(target)
        self.quarantined = [*self.quarantined[-999:], record]
        self.log.warning("batch quarantined", batch_id=batch_id, reasons=report.reasons)

    def _processed(self, path: Path, batch_id: str) -> None:
        BATCHES.labels("accepted").inc()
        LAST_SUCCESS.set(time.time())
        path.replace(self.processed / path.name)
        self.stored.append(batch_id)
        done = sorted(self.processed.iterdir())
        for stale in done[:-KEEP_PROCESSED]:
            stale.unlink(missing_ok=True)
        self.log.info("batch stored", batch_id=batch_id)


def _is_batch(path: Path) -> bool:
    name = path.name
    return path.suffix.lower() in FORMATS and not name.startswith(".") and not name.endswith(".tmp")


def _count(report: validation.Report) -> None:
    ROWS.inc(report.row_count)
    for name, n in report.nulls.items():
        NULLS.labels(name).inc(n)
    for name, n in report.out_of_range.items():
        OUT_OF_RANGE.labels(name).inc(n)
    for name, n in report.type_errors.items():
        TYPE_ERRORS.labels(name).inc(n)


def _init_metrics() -> None:
    # Every label value exists from the start: rate() cannot see a series' first increment.
    for outcome in ("accepted", "rejected"):
        BATCHES.labels(outcome)
    for reason in validation.REASONS:
        REJECTED.labels(reason)
    for name in F.FEATURE_NAMES:
        NULLS.labels(name)
        OUT_OF_RANGE.labels(name)
        TYPE_ERRORS.labels(name)
    for reason in ("timeout", "error"):
        WRITE_ERRORS.labels(reason)
    LAST_SUCCESS.set(time.time())


def build_app(pipeline: Pipeline, interval: float) -> FastAPI:
    """The pipeline's HTTP surface: health, metrics, quarantine and stored listings."""

    async def ready() -> str | None:
        try:
            async with pipeline.session().get(f"{pipeline.feature_store}/healthz") as response:
                response.raise_for_status()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"feature store unreachable: {exc!r}"
        return None

    app = rt.create_app(
        SERVICE,
        pipeline.tracer,
        pipeline.log,
        ready,
        background=lambda: pipeline.run(interval),
        closers=(pipeline.session.close,),
    )
    _init_metrics()

    @app.get("/internal/quarantine")
    async def quarantine() -> dict[str, Any]:
        return {"batches": pipeline.quarantined}

    @app.get("/internal/stored")
    async def stored() -> dict[str, Any]:
        return {"batches": pipeline.stored[-1000:], "pending": [p.stem for p in pipeline.pending()]}

    return app


def main(argv: list[str] | None = None) -> None:
    p = rt.parser("gameday reference stack: batch pipeline")
    p.add_argument("--landing", type=Path, required=True)
    p.add_argument("--feature-store", required=True)
    p.add_argument("--interval", type=float, default=0.25, help="landing folder poll interval (s)")
    args: argparse.Namespace = p.parse_args(argv)
    log = rt.setup_logging(SERVICE, args.log_level)
    tracer = rt.setup_tracing(SERVICE, args.otlp)
    pipeline = Pipeline(args.landing, args.feature_store, tracer, log)
    rt.serve(build_app(pipeline, args.interval), args, service=SERVICE)


if __name__ == "__main__":
    main()
