"""Drift monitor: PSI of live features and predictions against the training reference.

It tails two streams: the feature store's change feed (what ingestion wrote: drift enters
here first) and the model server's recently served rows (what the model actually saw, and
the scores it gave). Over a sliding window of each it computes, per feature, PSI and the
KS statistic against cached reference quantile bins (:mod:`gameday.analysis.drift`), and PSI of the
score distribution: prediction drift, the proxy for model quality when labels are late.
Nulls are not drift: null share is measured where data enters (pipeline, model server).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from fastapi import FastAPI
from opentelemetry import trace
from prometheus_client import Gauge

from gameday.analysis.drift import Reference
from gameday.stack import _runtime as rt
from gameday.stack import features as F

SERVICE = "drift-monitor"

PSI = Gauge(
    "feature_psi", "PSI of a feature's live window vs the reference.", ["feature", "source"]
)
KS = Gauge(
    "feature_ks_statistic", "KS statistic of a feature's live window.", ["feature", "source"]
)
PREDICTION_PSI = Gauge("prediction_psi", "PSI of served scores vs the reference scores.")
WINDOW_ROWS = Gauge("drift_window_rows", "Rows in the live window.", ["source"])


class Window:
    """The last ``size`` rows of one stream, and the stream position already read."""

    def __init__(self, size: int):
        self.rows: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)
        self.seq = 0

    def columns(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        cols: dict[str, np.ndarray] = {}
        for name in names:
            values = [r.get(name) for r in self.rows]
            if name in F.CATEGORICAL_NAMES:
                cols[name] = np.array(["" if v is None else str(v) for v in values])
            else:
                cols[name] = np.array([np.nan if v is None else float(v) for v in values])
        return cols


class Monitor:
    """Polls both streams and keeps the drift gauges current."""

    def __init__(
        self,
        feature_store: str,
        model_server: str,
        reference: dict[str, Any],
        window: int,
        min_rows: int,
        tracer: trace.Tracer,
    ):
        self.features = Reference.from_json(reference["features"])
        self.scores = Reference.from_json(reference["scores"])
        self.sources = {
            "ingest": (feature_store, Window(window)),
            "serving": (model_server, Window(window)),
        }
        self.min_rows = min_rows
        self.tracer = tracer
        self.session = rt.LazySession(2.0)
        self.last: dict[str, Any] = {}

    async def poll(self, source: str) -> None:
        base, window = self.sources[source]
        path = "/internal/changes" if source == "ingest" else "/internal/recent"
        try:
            async with self.session().get(f"{base}{path}", params={"after": window.seq}) as resp:
                doc = await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return  # the source being down is ServiceDown's alert, not drift
        seq = int(doc.get("seq", window.seq))
        if seq < window.seq:  # the source restarted and its sequence began again
            window.seq = 0
            return
        window.rows.extend(doc.get("rows", []))
        window.seq = seq

    def evaluate(self) -> dict[str, Any]:
        """Recompute every gauge from the current windows; return the figures."""
        with self.tracer.start_as_current_span("drift.evaluate") as span:
            out: dict[str, Any] = {}
            for source, (_, window) in self.sources.items():
                WINDOW_ROWS.labels(source).set(len(window.rows))
                if len(window.rows) >= self.min_rows:
                    out[source] = self._evaluate_source(source, window)
            serving = self.sources["serving"][1]
            if len(serving.rows) >= self.min_rows:
                score_psi = self.scores.psi({"score": serving.columns(("score",))["score"]})[
                    "score"
                ]
                PREDICTION_PSI.set(score_psi)
                out["prediction_psi"] = score_psi
                span.set_attribute("gameday.prediction_psi", score_psi)
            self.last = out
            return out

    def _evaluate_source(self, source: str, window: Window) -> dict[str, Any]:
        cols = window.columns(F.FEATURE_NAMES)
        psi = self.features.psi(cols)
        ks = self.features.ks(cols, names=F.NUMERIC_NAMES)
        for name, value in psi.items():
            PSI.labels(name, source).set(value)
        for name, value in ks.items():
            KS.labels(name, source).set(value)
        return {"psi": psi, "ks": ks, "rows": len(window.rows)}

    async def run(self, interval: float, log: Any) -> None:
        while True:
            await asyncio.gather(self.poll("ingest"), self.poll("serving"))
            try:
                self.evaluate()
            except Exception:
                log.exception("drift evaluation failed")
            await asyncio.sleep(interval)


def build_reference(model_cols: dict[str, np.ndarray], scores: np.ndarray) -> dict[str, Any]:
    """The reference file the monitor loads: training features and training scores."""
    return {
        "features": Reference.fit(model_cols).to_json(),
        "scores": Reference.fit({"score": scores}).to_json(),
    }


def build_app(monitor: Monitor, interval: float, log: Any) -> FastAPI:
    """The drift monitor's HTTP surface: health, metrics and the latest figures."""
    app = rt.create_app(
        SERVICE,
        monitor.tracer,
        log,
        background=lambda: monitor.run(interval, log),
        closers=(monitor.session.close,),
    )

    @app.get("/internal/drift")
    async def drift() -> dict[str, Any]:
        return monitor.last

    return app


def main(argv: list[str] | None = None) -> None:
    p = rt.parser("gameday reference stack: drift monitor")
    p.add_argument("--feature-store", required=True)
    p.add_argument("--model-server", required=True)
    p.add_argument("--reference", type=Path, required=True)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--window", type=int, default=1000)
    p.add_argument("--min-rows", type=int, default=300)
    args: argparse.Namespace = p.parse_args(argv)
    log = rt.setup_logging(SERVICE, args.log_level)
    tracer = rt.setup_tracing(SERVICE, args.otlp)
    reference = json.loads(args.reference.read_text())
    monitor = Monitor(
        args.feature_store, args.model_server, reference, args.window, args.min_rows, tracer
    )
    rt.serve(build_app(monitor, args.interval, log), args, service=SERVICE)


if __name__ == "__main__":
    main()
