"""The reference stack's data: the fraud model's feature schema and a seeded generator.

Upstream batches carry ``entity_id``, ``event_time`` and the features below (CONTRACT.md).
Each numeric feature has a generating distribution and a *valid range*; the pipeline
refuses values outside it. A small natural null rate on ``device_trust`` keeps imputation
and the null-share metrics honest in a healthy run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

CHANNELS = ("web", "app", "pos")
CHANNEL_P = (0.40, 0.45, 0.15)


@dataclass(frozen=True)
class NumericFeature:
    """A numeric feature: how it is generated and which values are valid."""

    name: str
    low: float
    high: float
    draw: Callable[[np.random.Generator, int], np.ndarray]
    natural_null_share: float = 0.0
    integer: bool = False


def _gamma(shape: float, scale: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, n: rng.gamma(shape, scale, n)


NUMERIC: tuple[NumericFeature, ...] = (
    NumericFeature("account_age_days", 0, 36_500, _gamma(2.0, 400.0), integer=True),
    NumericFeature(
        "txn_count_7d", 0, 1_000, lambda r, n: r.poisson(12, n).astype(float), integer=True
    ),
    NumericFeature("avg_amount_30d", 0, 100_000, lambda r, n: r.lognormal(4.0, 0.6, n)),
    NumericFeature("distance_from_home_km", 0, 20_000, lambda r, n: r.exponential(15.0, n)),
    NumericFeature("merchant_risk", 0, 1, lambda r, n: r.beta(2.0, 5.0, n)),
    NumericFeature("device_trust", 0, 1, lambda r, n: r.beta(5.0, 2.0, n), natural_null_share=0.02),
)
NUMERIC_NAMES: tuple[str, ...] = tuple(f.name for f in NUMERIC)
CATEGORICAL_NAMES: tuple[str, ...] = ("channel",)
FEATURE_NAMES: tuple[str, ...] = NUMERIC_NAMES + CATEGORICAL_NAMES
BATCH_COLUMNS: tuple[str, ...] = ("entity_id", "event_time", *FEATURE_NAMES)


def entity_id(index: int) -> str:
    """The id of the ``index``-th entity of the reference stack (``e00042``)."""
    return f"e{index:05d}"


def generate(rng: np.random.Generator, n: int, *, nulls: bool = True) -> dict[str, np.ndarray]:
    """``n`` rows of features drawn from the healthy distributions (NaN marks a null)."""
    cols: dict[str, np.ndarray] = {}
    for feat in NUMERIC:
        values = feat.draw(rng, n).astype(float)
        values = np.clip(values, feat.low, feat.high)
        if feat.integer:
            values = np.round(values)
        if nulls and feat.natural_null_share:
            values[rng.random(n) < feat.natural_null_share] = np.nan
        cols[feat.name] = values
    cols["channel"] = rng.choice(np.array(CHANNELS), size=n, p=CHANNEL_P)
    return cols


def columns_from_rows(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Rows as JSON objects (``None`` for a null) to feature columns (NaN for a null number;
    an unknown or missing channel becomes the most common one, as serving imputes it)."""
    cols = {
        name: np.array([np.nan if r.get(name) is None else float(r[name]) for r in rows])
        for name in NUMERIC_NAMES
    }
    cols["channel"] = np.array([r.get("channel") or "app" for r in rows])
    return cols


def fraud_logit(cols: dict[str, np.ndarray], concept: str = "base") -> np.ndarray:
    """The true relationship between features and fraud (the *concept*).

    ``base`` is what the model is trained on; ``shifted`` is the concept-drift variant (a
    new fraud pattern, account takeover) where fraud moves to old accounts on trusted devices
    at low-risk merchants while every input distribution stays put and the base rate barely
    moves: the model's ranking turns upside down, and no input statistic can tell.
    """
    age = np.nan_to_num(cols["account_age_days"], nan=700.0) / 365.0
    trust = np.nan_to_num(cols["device_trust"], nan=0.7)
    risk = cols["merchant_risk"]
    dist = np.log1p(cols["distance_from_home_km"])
    amount = np.log(cols["avg_amount_30d"] + 1.0)
    web = (cols["channel"] == "web").astype(float)
    if concept == "shifted":
        # Account takeover: old accounts on trusted devices at low-risk merchants.
        return -9.3 + 0.9 * age + 6.0 * trust - 6.0 * risk + 0.3 * amount - 0.5 * dist
    return -4.6 + 9.0 * risk - 6.0 * trust + 0.8 * dist - 0.6 * age + 0.15 * amount + 0.6 * web


CONCEPTS = ("base", "shifted")
"""The concepts the world can follow: what the model learnt, and the drifted one."""


def labels(
    rng: np.random.Generator, cols: dict[str, np.ndarray], concept: str = "base"
) -> np.ndarray:
    """Fraud labels (0/1) drawn from the concept's probabilities."""
    p = 1.0 / (1.0 + np.exp(-fraud_logit(cols, concept)))
    return (rng.random(len(p)) < p).astype(np.int8)
