"""Label feed: ground truth for served predictions, arriving late, and what it says.

It tails the model server's served predictions, draws each one's true label from the world's
concept (:func:`gameday.stack.features.labels`, seeded per prediction) and reveals it after a
delay (seconds here, weeks in real life). Over a rolling window of labelled predictions it
exports realised quality (AUC, accuracy, precision, recall) and the business figure (share of
the fraudulent amount caught). It also serves the trainer its training data
(``GET /internal/training``): recent labelled rows.

Faults (``/internal/faults``, each with a TTL): ``label_flip`` (a fraction of labels flipped),
``concept_drift`` (labels drawn from another concept while inputs stay put), ``label_delay``
(ground truth lags by ``delay_s``, or stops), and on the training feed ``corrupt_training_batch``
(``mode``: shuffled_labels, nulls, garbage). Each counts what it changed in its evidence
(returned when it is removed): ``flipped``; ``labels`` drawn under the new concept and how many
of them ``changed``; labels ``held_back``; training ``batches`` and ``rows`` corrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import heapq
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import numpy as np
from fastapi import FastAPI
from prometheus_client import Counter, Gauge

from gameday.stack import _runtime as rt
from gameday.stack import features as F
from gameday.stack import quality
from gameday.stack.service_faults import ActiveFault, ServiceFaults

SERVICE = "label-feed"
INF = float("inf")

QUALITY = Gauge("model_quality", "Realised quality over the labelled window.", ["metric"])
WINDOW_ROWS = Gauge("model_quality_window_rows", "Labelled predictions in the quality window.")
CAUGHT = Gauge("business_fraud_amount_caught_ratio", "Share of fraudulent amount flagged.")
PENDING_AGE = Gauge(
    "ground_truth_pending_oldest_age_seconds",
    "Age of the oldest prediction still waiting for its label (0: none waiting).",
)
LAST_LABEL = Gauge("ground_truth_last_label_timestamp_seconds", "Unix time of the last label.")
REVEALED = Counter("ground_truth_labels_total", "Labels revealed, by label.", ["label"])


def _fraction(params: Mapping[str, Any]) -> dict[str, Any]:
    value = float(params.get("fraction", 0.2))
    if not 0 < value <= 1:
        raise ValueError("fraction must be within (0, 1]")
    return {"fraction": value, "seed": int(params.get("seed", 0))}


def _concept(params: Mapping[str, Any]) -> dict[str, Any]:
    concept = str(params.get("concept", "shifted"))
    if concept not in F.CONCEPTS:
        raise ValueError(f"concept must be one of {', '.join(F.CONCEPTS)}")
    return {"concept": concept}


def _delay(params: Mapping[str, Any]) -> dict[str, Any]:
    delay, stop = float(params.get("delay_s", 60.0)), bool(params.get("stop", False))
    if delay < 0:
        raise ValueError("delay_s must be >= 0")
    return {"delay_s": delay, "stop": stop}


def _training(params: Mapping[str, Any]) -> dict[str, Any]:
    mode = str(params.get("mode", "shuffled_labels"))
    if mode not in ("shuffled_labels", "nulls", "garbage"):
        raise ValueError("mode must be one of shuffled_labels, nulls, garbage")
    return {"mode": mode, **_fraction({"fraction": params.get("fraction", 0.5), **params})}


KINDS = {
    "label_flip": _fraction,
    "concept_drift": _concept,
    "label_delay": _delay,
    "corrupt_training_batch": _training,
}


class LabelFeed:
    """Pending labels, the quality window and the training store."""

    def __init__(self, model_server: str, delay_s: float, window: int, threshold: float, seed: int):
        self.model_server = model_server.rstrip("/")
        self.delay_s, self.threshold, self.seed = delay_s, threshold, seed
        self.faults = ServiceFaults(KINDS)
        self.pending: list[tuple[float, int, float, dict[str, Any], int]] = []
        self.held: list[tuple[float, int, float, dict[str, Any], int]] = []  # feed stopped
        self.window: collections.deque[tuple[float, int, float]] = collections.deque(maxlen=window)
        self.training: collections.deque[dict[str, Any]] = collections.deque(maxlen=5000)
        self.seq = 0
        self.session = rt.LazySession(2.0)

    async def poll(self) -> list[dict[str, Any]]:
        """New served predictions since the last poll (empty if the model server is away)."""
        try:
            url = f"{self.model_server}/internal/recent"
            async with self.session().get(url, params={"after": self.seq}) as response:
                doc = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return []
        seq = int(doc.get("seq", self.seq))
        if seq < self.seq:  # the model server restarted: its sequence began again
            self.seq = 0
            return []
        self.seq = seq
        return list(doc.get("rows", []))

    def label(self, rows: list[dict[str, Any]], now: float) -> None:
        """Draw each prediction's truth now; schedule its reveal (faults shape both)."""
        if not rows:
            return
        cols = F.columns_from_rows(rows)
        truth = self._truth(cols, rows[0]["seq"])
        truth = self._flip(truth, rows[0]["seq"])
        delay = self._delay(len(rows))
        for row, label in zip(rows, truth, strict=True):
            served = float(row.get("t", now))
            entry = (served + delay, row["seq"], served, row, int(label))
            if delay == INF:
                self.held.append(entry)
            else:
                heapq.heappush(self.pending, entry)

    def _truth(self, cols: dict[str, np.ndarray], salt: int) -> np.ndarray:
        """The labels of ``cols`` under the world's concept (a concept_drift fault's, if any)."""
        drift = next(iter(self.faults.active("concept_drift")), None)
        if drift is None:
            return F.labels(np.random.default_rng((self.seed, salt)), cols)
        truth = F.labels(np.random.default_rng((self.seed, salt)), cols, drift.params["concept"])
        # The same draws under the base concept: how many labels the drift actually changed.
        base = F.labels(np.random.default_rng((self.seed, salt)), cols)
        ev = drift.evidence
        ev["labels"] = ev.get("labels", 0) + len(truth)
        ev["changed"] = ev.get("changed", 0) + int((truth != base).sum())
        return truth

    def _flip(self, truth: np.ndarray, salt: int) -> np.ndarray:
        for fault in self.faults.active("label_flip"):
            rng = np.random.default_rng((fault.params["seed"], salt))
            flip = rng.random(len(truth)) < fault.params["fraction"]
            fault.evidence["flipped"] = fault.evidence.get("flipped", 0) + int(flip.sum())
            truth = np.where(flip, 1 - truth, truth)
        return truth

    def _delay(self, count: int) -> float:
        """The reveal delay of ``count`` new labels; a label_delay fault that lengthens it counts
        them as held back."""
        for fault in self.faults.active("label_delay"):
            delay = INF if fault.params["stop"] else fault.params["delay_s"]
            if delay > self.delay_s:
                fault.evidence["held_back"] = fault.evidence.get("held_back", 0) + count
            return float(delay)
        return self.delay_s

    def reveal(self, now: float) -> int:
        """Reveal every label that is due; return how many."""
        count = 0
        # Labels held back by a stopped feed are delivered as a backlog once it flows again.
        if self.held and not any(f.params["stop"] for f in self.faults.active("label_delay")):
            for _, seq, served, row, label in self.held:
                heapq.heappush(self.pending, (now, seq, served, row, label))
            self.held.clear()
        while self.pending and self.pending[0][0] <= now:
            _, _, _, row, label = heapq.heappop(self.pending)
            self.window.append(
                (float(row["score"]), label, float(row.get("avg_amount_30d") or 0.0))
            )
            self.training.append({**{n: row.get(n) for n in F.FEATURE_NAMES}, "label": label})
            REVEALED.labels(str(label)).inc()
            count += 1
        if count:
            LAST_LABEL.set(now)
        return count

    def export(self, now: float) -> quality.Quality | None:
        """Refresh the gauges from the window and the pending queue."""
        oldest = min((p[2] for p in [*self.pending, *self.held[:1]]), default=None)
        PENDING_AGE.set(now - oldest if oldest is not None else 0.0)
        WINDOW_ROWS.set(len(self.window))
        if len(self.window) < 50:
            return None
        scores, labels, amounts = (np.array(c) for c in zip(*self.window, strict=True))
        q = quality.quality(scores, labels, amounts, self.threshold)
        for metric in ("auc", "accuracy", "precision", "recall", "fraud_rate"):
            value = getattr(q, metric)
            if not np.isnan(value):
                QUALITY.labels(metric).set(value)
        if not np.isnan(q.fraud_amount_caught):
            CAUGHT.set(q.fraud_amount_caught)
        return q

    def training_rows(self, n: int) -> list[dict[str, Any]]:
        """The last ``n`` labelled rows, as a training-data fault (if any) delivers them."""
        rows = [dict(r) for r in list(self.training)[-n:]]
        for fault in self.faults.active("corrupt_training_batch"):
            rows = _corrupt(rows, fault)
        return rows

    async def run(self, interval: float, log: Any) -> None:
        while True:
            now = time.time()
            self.label(await self.poll(), now)
            self.reveal(now)
            try:
                self.export(now)
            except Exception:
                log.exception("quality export failed")
            await asyncio.sleep(interval)


def _corrupt(rows: list[dict[str, Any]], fault: ActiveFault) -> list[dict[str, Any]]:
    """Corrupt a fraction of the training rows as the fault's ``mode`` says; record it."""
    rng = np.random.default_rng((fault.params["seed"], len(rows)))
    hit = np.flatnonzero(rng.random(len(rows)) < fault.params["fraction"])
    mode = fault.params["mode"]
    if mode == "shuffled_labels":  # labels detached from their rows: the model learns noise
        for i, label in zip(hit, rng.permutation([rows[i]["label"] for i in hit]), strict=True):
            rows[i]["label"] = int(label)
    else:  # nulls: a feature missing; garbage: a feature with absurd values
        for i in hit:
            rows[i]["merchant_risk"] = None if mode == "nulls" else float(rng.normal(0, 1e6))
    fault.evidence["batches"] = fault.evidence.get("batches", 0) + 1
    fault.evidence["rows"] = fault.evidence.get("rows", 0) + len(hit)
    return rows


def build_app(feed: LabelFeed, interval: float, tracer: Any, log: Any) -> FastAPI:
    """The label feed's HTTP surface: health, metrics, training data, faults."""
    app = rt.create_app(
        SERVICE,
        tracer,
        log,
        background=lambda: feed.run(interval, log),
        closers=(feed.session.close,),
    )
    for label in ("0", "1"):
        REVEALED.labels(label)

    @app.get("/internal/training")
    async def training(n: int = 5000) -> dict[str, Any]:
        with tracer.start_as_current_span("label_feed.training_batch") as span:
            rows = feed.training_rows(max(0, min(n, 5000)))
            span.set_attribute("gameday.rows", len(rows))
            return {"rows": rows}

    @app.get("/internal/quality")
    async def current() -> dict[str, Any]:
        q = feed.export(time.time())
        return {"quality": q.to_json() if q else None, "pending": len(feed.pending)}

    feed.faults.mount(app)
    return app


def main(argv: list[str] | None = None) -> None:
    p = rt.parser("gameday reference stack: delayed ground truth and realised quality")
    p.add_argument("--model-server", required=True)
    p.add_argument("--delay", type=float, default=3.0, help="seconds until a label arrives")
    p.add_argument("--window", type=int, default=2000, help="labelled predictions in the window")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=23)
    args: argparse.Namespace = p.parse_args(argv)
    log = rt.setup_logging(SERVICE, args.log_level)
    tracer = rt.setup_tracing(SERVICE, args.otlp)
    feed = LabelFeed(args.model_server, args.delay, args.window, args.threshold, args.seed)
    rt.serve(build_app(feed, args.interval, tracer, log), args, service=SERVICE)


if __name__ == "__main__":
    main()
