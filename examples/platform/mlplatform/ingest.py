"""Ingestion: Parquet batches from a landing folder, validated, pushed to Feast's online store.

``python -m mlplatform.ingest --landing DIR --repo FEAST_REPO [--port 0] [--otlp URL]
[--poll 0.5] [--max-null-fraction 0.5]`` takes each complete batch in ``DIR`` (dot-files and
``*.tmp`` are still being written), oldest name first, and

- validates it (:mod:`mlplatform.validation`); a rejected batch moves to
  ``DIR/../quarantine`` beside ``NAME.reason.json`` (the reasons and what failed);
- pushes an accepted one to the push source ``customer_push`` (Redis, online) and moves it
  to ``DIR/../processed``;
- when Redis cannot be written, leaves the batch where it is and tries again next poll
  (counted in ``mlp_ingest_write_errors_total``): the data was fine, the store was not.

Rows, nulls and drift are measured once per batch, whatever the verdict.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from prometheus_client import Counter, Gauge

from mlplatform import features as F
from mlplatform import service, telemetry
from mlplatform import validation as V

SERVICE = "ingest"

BATCHES = Counter("mlp_ingest_batches", "Batches taken from landing, by outcome.", ["outcome"])
REJECTED = Counter("mlp_ingest_rejected", "Rejected batches, once per reason found.", ["reason"])
ROWS = Counter("mlp_ingest_rows", "Rows read from batches (stored or rejected).")
NULLS = Counter("mlp_ingest_feature_nulls", "Null feature values read, by feature.", ["feature"])
WRITE_ERRORS = Counter("mlp_ingest_write_errors", "Pushes to the online store that failed.")
LAST_SUCCESS = Gauge(
    "mlp_ingest_last_success_timestamp_seconds",
    "Unix time a batch was last stored online (0: none yet).",
)
PSI = Gauge("mlp_feature_psi", "PSI of the last batch against the healthy reference.", ["feature"])


def _prime_series() -> None:
    # Every series exists from the start at 0, so rate() and absent() read the same from the
    # first scrape on, before anything has gone wrong.
    for outcome in ("stored", "rejected"):
        BATCHES.labels(outcome)
    for reason in V.REASONS:
        REJECTED.labels(reason)
    for name in F.FEATURES:
        NULLS.labels(name)


def complete_batches(landing: Path) -> list[Path]:
    """Batches in ``landing`` that are fully written, sorted by name."""
    names = (n for n in os.listdir(landing) if not n.startswith(".") and not n.endswith(".tmp"))
    return [landing / n for n in sorted(names) if n.endswith(".parquet")]


class Ingest:
    """Moves batches from ``landing`` to the online store (or to quarantine)."""

    def __init__(self, landing: Path, repo: Path, max_null_fraction: float, log: logging.Logger):
        from feast import FeatureStore

        self.landing = landing
        self.processed = landing.parent / "processed"
        self.quarantine = landing.parent / "quarantine"
        for folder in (landing, self.processed, self.quarantine):
            folder.mkdir(parents=True, exist_ok=True)
        self.store = FeatureStore(repo_path=str(repo))
        self.max_null_fraction = max_null_fraction
        self.drift = V.DriftMeter()
        self.log = log
        self.tracer = trace.get_tracer(SERVICE)
        self._verdicts: dict[str, V.Verdict] = {}  # batches waiting for the store to come back

    def drain(self) -> int:
        """Take every complete batch now; how many left landing. Stops at the first batch
        the store would not take, so batches are stored in the order they arrived."""
        moved = 0
        for path in complete_batches(self.landing):
            if not self.take(path):
                break
            moved += 1
        return moved

    def take(self, path: Path) -> bool:
        """Validate (once) and store or quarantine one batch; False if it must wait."""
        with self.tracer.start_as_current_span("ingest batch") as span:
            span.set_attribute("batch.name", path.name)
            verdict = self._verdicts.pop(path.name, None) or self._examine(path)
            if not verdict.accepted:
                self._reject(path, verdict)
                span.set_attribute("batch.outcome", "rejected")
                return True
            if not self._push(path, verdict):
                self._verdicts[path.name] = verdict
                span.set_status(Status(StatusCode.ERROR, "online store unavailable"))
                return False
            span.set_attribute("batch.outcome", "stored")
            return True

    def _examine(self, path: Path) -> V.Verdict:
        with self.tracer.start_as_current_span("validate batch"):
            try:
                frame = V.read(path)
            except Exception as exc:  # noqa: BLE001 (any unreadable file is the batch's fault)
                return V.Verdict(None, ("unreadable",), [{"error": f"{type(exc).__name__}: {exc}"}])
            ROWS.inc(len(frame))
            for name, count in V.null_counts(frame).items():
                NULLS.labels(name).inc(count)
            for name, value in self.drift.psi(frame).items():
                PSI.labels(name).set(value)
            return V.validate(frame, self.max_null_fraction)

    def _push(self, path: Path, verdict: V.Verdict) -> bool:
        from feast.data_source import PushMode
        from redis.exceptions import RedisError

        assert verdict.frame is not None
        with self.tracer.start_as_current_span("push features") as span:
            span.set_attribute("batch.rows", len(verdict.frame))
            try:
                self.store.push(F.PUSH_SOURCE, verdict.frame, to=PushMode.ONLINE)
            except (RedisError, OSError) as exc:
                WRITE_ERRORS.inc()
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                telemetry.log(
                    self.log, "push failed", logging.WARNING, batch=path.name, error=str(exc)
                )
                return False
        os.replace(path, self.processed / path.name)
        BATCHES.labels("stored").inc()
        LAST_SUCCESS.set(time.time())
        telemetry.log(self.log, "batch stored", batch=path.name, rows=len(verdict.frame))
        return True

    def _reject(self, path: Path, verdict: V.Verdict) -> None:
        os.replace(path, self.quarantine / path.name)
        note = {"batch": path.name, "reasons": list(verdict.reasons), "failures": verdict.failures}
        (self.quarantine / f"{path.name}.reason.json").write_text(json.dumps(note, indent=2))
        BATCHES.labels("rejected").inc()
        for reason in verdict.reasons:
            REJECTED.labels(reason).inc()
        telemetry.log(
            self.log, "batch rejected", logging.WARNING, batch=path.name, reasons=verdict.reasons
        )

    async def run(self, poll_s: float) -> None:
        """Drain landing every ``poll_s`` seconds until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.drain)
            except Exception:  # the loop must outlive any one bad pass
                self.log.exception("ingest pass failed; trying again")
            await asyncio.sleep(poll_s)


def main(argv: list[str] | None = None) -> int:
    """Parse options, then ingest and serve until SIGTERM; the exit code."""
    p = service.parser("python -m mlplatform.ingest", "landing folder -> pandera -> Feast online")
    p.add_argument("--landing", required=True, type=Path, help="folder batches arrive in")
    p.add_argument("--repo", required=True, type=Path, help="Feast repository folder")
    p.add_argument("--poll", type=float, default=0.5, help="seconds between looks (0.5)")
    p.add_argument(
        "--max-null-fraction",
        type=float,
        default=V.DEFAULT_MAX_NULL_FRACTION,
        help="reject a batch with more of any feature null (0.5)",
    )
    args = p.parse_args(argv)
    if not (args.repo / "feature_store.yaml").is_file():
        print(f"--repo: no feature_store.yaml in {args.repo}", file=sys.stderr)
        return 2
    log = telemetry.setup_logging(SERVICE, args.log_level)
    telemetry.setup_tracing(SERVICE, args.otlp)
    _prime_series()
    ingest = Ingest(args.landing, args.repo, args.max_null_fraction, log)
    app = service.create_app(SERVICE, lambda: ingest.run(args.poll))
    return service.serve(app, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
