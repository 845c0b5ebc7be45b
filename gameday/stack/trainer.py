"""Trainer: retrain on recent labelled data, gate the candidate, promote only if it passes.

Every ``interval`` seconds one training run (one trace): fetch the label feed's recent
labelled rows, validate them (schema, null share, label balance, enough rows), train a
candidate, evaluate it and the live model on a held-out split and on a fixed *golden set*
(seeded data from the reference concept: the regression test), and decide:

- **blocked**: the data failed validation, or the candidate is clearly worse than the live
  model on the golden set. Nothing changes; ``ModelPromotionBlocked`` tells a human.
- **promoted**: the candidate is clearly better on the golden set: it is written to the
  model folder and the model server loads it (the serving version changes).
- **kept**: neither (the usual healthy outcome: a fresh model is no better than the live one).
- **skipped**: not enough labelled rows yet (e.g. no traffic).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from fastapi import FastAPI
from opentelemetry import trace
from prometheus_client import Counter, Gauge

from gameday.stack import _runtime as rt
from gameday.stack import features as F
from gameday.stack.model import Model, train, training_data
from gameday.stack.quality import auc

SERVICE = "trainer"
OUTCOMES = ("promoted", "kept", "blocked", "skipped")
GOLDEN_SEED = 424242
MIN_ROWS = 1000
MAX_NULL_SHARE = 0.2
LABEL_BALANCE = (0.01, 0.15)
WORSE_BY, BETTER_BY = 0.05, 0.02

RUNS = Counter("trainer_runs_total", "Training runs, by outcome.", ["outcome"])
LAST_OUTCOME = Gauge("trainer_last_outcome", "1 for the outcome of the last run.", ["outcome"])
LAST_RUN = Gauge("trainer_last_run_timestamp_seconds", "Unix time of the last training run.")
AUC = Gauge("trainer_auc", "AUC of the candidate and the live model.", ["model", "set"])
ROWS = Gauge("trainer_training_rows", "Rows in the last training set.")
BALANCE = Gauge("trainer_label_balance", "Share of positive labels in the last training set.")


@dataclass(frozen=True)
class Decision:
    """What one training run decided, and why."""

    outcome: str
    reason: str
    figures: dict[str, float]


def check_data(rows: list[dict[str, Any]]) -> str | None:
    """Why these training rows must not be trained on (``None``: they are fine)."""
    if len(rows) < MIN_ROWS:
        return f"only {len(rows)} labelled rows (need {MIN_ROWS})"
    for name in F.FEATURE_NAMES:
        nulls = sum(r.get(name) is None for r in rows) / len(rows)
        if nulls > MAX_NULL_SHARE:
            return f"{name} is null in {nulls:.0%} of rows (max {MAX_NULL_SHARE:.0%})"
    balance = sum(r["label"] for r in rows) / len(rows)
    low, high = LABEL_BALANCE
    if not low <= balance <= high:
        return f"label balance {balance:.1%} outside [{low:.0%}, {high:.0%}]"
    return None


def gate(candidate_golden: float, live_golden: float) -> tuple[str, str]:
    """The promotion gate on the golden set: ``(outcome, reason)``."""
    if np.isnan(candidate_golden) or candidate_golden < live_golden - WORSE_BY:
        return "blocked", f"candidate AUC {candidate_golden:.3f} worse than live {live_golden:.3f}"
    if candidate_golden >= live_golden + BETTER_BY:
        return "promoted", f"candidate AUC {candidate_golden:.3f} beats live {live_golden:.3f}"
    return "kept", f"candidate AUC {candidate_golden:.3f} no better than live {live_golden:.3f}"


def _subset(cols: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in cols.items()}


class Trainer:
    """The periodic training loop and its decisions."""

    def __init__(self, label_feed: str, model_server: str, model_dir: Path, tracer: trace.Tracer):
        self.label_feed, self.model_server = label_feed.rstrip("/"), model_server.rstrip("/")
        self.model_dir = model_dir
        self.tracer = tracer
        self.live = Model.load(model_dir / "live.json")
        self.golden = training_data(GOLDEN_SEED, 5000)
        self.decisions: list[dict[str, Any]] = []
        self.session = rt.LazySession(10.0)

    async def run_once(self) -> Decision:
        """One training run, traced; its outcome is exported and remembered."""
        with self.tracer.start_as_current_span("trainer.run") as span:
            with self.tracer.start_as_current_span("trainer.fetch_training_data"):
                rows = await self._fetch()
            decision = await self._decide(rows)
            span.set_attribute("gameday.outcome", decision.outcome)
            span.set_attribute("gameday.reason", decision.reason)
        _export(decision)
        self.decisions = [*self.decisions[-99:], {"t": time.time(), **decision.__dict__}]
        return decision

    async def _fetch(self) -> list[dict[str, Any]]:
        try:
            async with self.session().get(f"{self.label_feed}/internal/training") as response:
                return list((await response.json())["rows"])
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
            return []

    async def _decide(self, rows: list[dict[str, Any]]) -> Decision:
        with self.tracer.start_as_current_span("trainer.validate_data"):
            problem = check_data(rows)
        if problem and len(rows) < MIN_ROWS:
            return Decision("skipped", problem, {"rows": len(rows)})
        balance = sum(r["label"] for r in rows) / len(rows) if rows else 0.0
        if problem:
            return Decision(
                "blocked", f"training data: {problem}", {"rows": len(rows), "balance": balance}
            )
        with self.tracer.start_as_current_span("trainer.train_and_evaluate"):
            candidate, figures = self._train(rows)
        outcome, reason = gate(figures["candidate_golden"], figures["live_golden"])
        if outcome == "promoted":
            with self.tracer.start_as_current_span("trainer.promote"):
                await self._promote(candidate)
        return Decision(outcome, reason, {**figures, "rows": len(rows), "balance": balance})

    def _train(self, rows: list[dict[str, Any]]) -> tuple[Model, dict[str, float]]:
        cols, y = F.columns_from_rows(rows), np.array([r["label"] for r in rows])
        order = np.random.default_rng(len(rows)).permutation(len(rows))
        cut = int(len(rows) * 0.8)
        fit, held = order[:cut], order[cut:]
        candidate = train(_subset(cols, fit), y[fit], version=f"fraud-lr-{int(time.time())}")
        golden_cols, golden_y = self.golden
        figures = {
            "candidate_holdout": auc(candidate.predict_proba(_subset(cols, held)), y[held]),
            "live_holdout": auc(self.live.predict_proba(_subset(cols, held)), y[held]),
            "candidate_golden": auc(candidate.predict_proba(golden_cols), golden_y),
            "live_golden": auc(self.live.predict_proba(golden_cols), golden_y),
        }
        return candidate, figures

    async def _promote(self, candidate: Model) -> None:
        path = self.model_dir / f"{candidate.version}.json"
        candidate.save(path)
        async with self.session().post(
            f"{self.model_server}/internal/model", json={"path": str(path)}
        ) as r:
            r.raise_for_status()
        candidate.save(self.model_dir / "live.json")
        self.live = candidate

    async def loop(self, interval: float, log: Any) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                decision = await self.run_once()
                log.info("training run", outcome=decision.outcome, reason=decision.reason)
            except Exception:
                log.exception("training run failed")


def _export(decision: Decision) -> None:
    RUNS.labels(decision.outcome).inc()
    for outcome in OUTCOMES:
        LAST_OUTCOME.labels(outcome).set(1.0 if outcome == decision.outcome else 0.0)
    LAST_RUN.set(time.time())
    for key, value in decision.figures.items():
        if "_" in key and not np.isnan(value):
            model, dataset = key.split("_", 1)
            AUC.labels(model, dataset).set(value)
    ROWS.set(decision.figures.get("rows", 0))
    if "balance" in decision.figures:
        BALANCE.set(decision.figures["balance"])


def build_app(trainer: Trainer, interval: float, log: Any) -> FastAPI:
    """The trainer's HTTP surface: health, metrics, decisions, and a manual run."""
    app = rt.create_app(
        SERVICE,
        trainer.tracer,
        log,
        background=lambda: trainer.loop(interval, log),
        closers=(trainer.session.close,),
    )
    for outcome in OUTCOMES:
        RUNS.labels(outcome)
        LAST_OUTCOME.labels(outcome).set(0.0)

    @app.get("/internal/decisions")
    async def decisions() -> dict[str, Any]:
        return {"decisions": trainer.decisions, "live_version": trainer.live.version}

    @app.post("/internal/train")
    async def train_now() -> dict[str, Any]:
        decision = await trainer.run_once()
        return decision.__dict__

    return app


def main(argv: list[str] | None = None) -> None:
    p = rt.parser("gameday reference stack: retraining with a promotion gate")
    p.add_argument("--label-feed", required=True)
    p.add_argument("--model-server", required=True)
    p.add_argument("--model-dir", type=Path, required=True, help="holds live.json and candidates")
    p.add_argument("--interval", type=float, default=15.0, help="seconds between training runs")
    args: argparse.Namespace = p.parse_args(argv)
    log = rt.setup_logging(SERVICE, args.log_level)
    tracer = rt.setup_tracing(SERVICE, args.otlp)
    trainer = Trainer(args.label_feed, args.model_server, args.model_dir, tracer)
    rt.serve(build_app(trainer, args.interval, log), args, service=SERVICE)


if __name__ == "__main__":
    main()
