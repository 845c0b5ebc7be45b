"""The platform's feature schema: one entity, six features, three models and who owns them.

Every process agrees on these names: the producer writes them, ingestion validates and pushes
them, the Feast repository declares them and each model reads its own subset. ``generate``
draws the healthy distribution; ingestion compares every batch against ``reference()`` (the
same generator, a fixed seed) to measure drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ENTITY = "customer_id"
TIMESTAMP = "event_timestamp"
FEATURE_VIEW = "customer_features"
PUSH_SOURCE = "customer_push"

FEATURES: tuple[str, ...] = (
    "txn_amount_avg_7d",
    "txn_count_24h",
    "merchant_risk",
    "account_age_days",
    "category_affinity",
    "session_clicks",
)

RANGES: dict[str, tuple[float, float]] = {
    "txn_amount_avg_7d": (0.0, 100_000.0),
    "txn_count_24h": (0.0, 10_000.0),
    "merchant_risk": (0.0, 1.0),
    "account_age_days": (0.0, 36_500.0),
    "category_affinity": (0.0, 1.0),
    "session_clicks": (0.0, 100_000.0),
}
"""Plausible bounds of each feature: a value outside is a unit or corruption error."""


@dataclass(frozen=True)
class ModelSpec:
    """One model: its name, the team that owns it, the features it reads, and how the
    synthetic label it learns depends on them (weights on standardised features)."""

    name: str
    team: str
    weights: dict[str, float]
    bias: float

    @property
    def features(self) -> tuple[str, ...]:
        """The features the model reads, in the order it was trained on them."""
        return tuple(self.weights)

    @property
    def service(self) -> str:
        """Its OpenTelemetry ``service.name`` and Prometheus job: ``fraud-model``."""
        return f"{self.name}-model"


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "fraud",
            "fraud",
            {
                "txn_amount_avg_7d": 1.0,
                "txn_count_24h": 0.8,
                "merchant_risk": 2.0,
                "account_age_days": -1.2,
            },
            bias=-2.0,
        ),
        ModelSpec(
            "ranking",
            "ranking",
            {"merchant_risk": -1.0, "category_affinity": 1.8, "session_clicks": 0.7},
            bias=0.0,
        ),
        ModelSpec(
            "personalization",
            "personalization",
            {"category_affinity": 2.0, "session_clicks": 0.9, "account_age_days": 0.5},
            bias=-0.5,
        ),
    )
}


def customer_id(index: int) -> str:
    """The entity key of customer ``index``: ``c000123``."""
    return f"c{index:06d}"


def draw(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    """``rows`` healthy values of every feature (float64)."""
    return {
        "txn_amount_avg_7d": rng.lognormal(mean=3.6, sigma=0.5, size=rows),
        "txn_count_24h": rng.poisson(4.0, size=rows).astype(np.float64),
        "merchant_risk": rng.beta(2.0, 6.0, size=rows),
        "account_age_days": np.clip(rng.gamma(2.0, 250.0, size=rows), 1.0, 3650.0),
        "category_affinity": rng.beta(3.0, 3.0, size=rows),
        "session_clicks": rng.poisson(12.0, size=rows).astype(np.float64),
    }


def generate(
    rng: np.random.Generator, rows: int, entities: int, now: pd.Timestamp | None = None
) -> pd.DataFrame:
    """One healthy batch: ``rows`` customers drawn from ``entities``, every feature, and the
    event time ``now`` (UTC) on every row."""
    return _frame(rng, rng.integers(0, entities, size=rows), now)


def snapshot(
    rng: np.random.Generator, entities: int, now: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Every customer once: the full load an upstream pipeline starts with."""
    return _frame(rng, np.arange(entities), now)


def _frame(rng: np.random.Generator, ids: np.ndarray, now: pd.Timestamp | None) -> pd.DataFrame:
    stamp = now if now is not None else pd.Timestamp.now(tz="UTC")
    frame = pd.DataFrame({ENTITY: [customer_id(int(i)) for i in ids]})
    for name, values in draw(rng, len(ids)).items():
        frame[name] = values
    frame[TIMESTAMP] = pd.Series([stamp] * len(ids), dtype="datetime64[us, UTC]")
    return frame


def reference(rows: int = 20_000, seed: int = 20_240_601) -> pd.DataFrame:
    """A large healthy sample (fixed seed): the baseline for drift and for standardising."""
    return pd.DataFrame(draw(np.random.default_rng(seed), rows))


def labels(spec: ModelSpec, frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Synthetic ground truth for ``spec``: 1 with probability sigmoid(bias + w . z)."""
    base = reference()
    logit = np.full(len(frame), spec.bias)
    for name, weight in spec.weights.items():
        logit += weight * (frame[name].to_numpy() - base[name].mean()) / base[name].std()
    return (rng.random(len(frame)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
