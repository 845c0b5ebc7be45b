"""The reference fraud model: logistic regression in numpy, trained on seeded data.

Serving imputes missing numeric features with the training medians (and an unknown channel
with the most common one), standardises, and scores. A model is plain JSON, so the model
server, the drift monitor and (with the learning loop) the trainer share it through files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gameday.stack import features as F

TRAINING_SEED = 20261128
TRAINING_ROWS = 20_000
THRESHOLD = 0.5


@dataclass(frozen=True)
class Model:
    """A trained fraud classifier with everything needed to serve it."""

    version: str
    medians: Mapping[str, float]
    means: Mapping[str, float]
    stds: Mapping[str, float]
    weights: tuple[float, ...]
    threshold: float = THRESHOLD

    def design(self, cols: Mapping[str, np.ndarray]) -> np.ndarray:
        """Imputed, standardised design matrix with an intercept and one-hot channel."""
        n = len(cols[F.NUMERIC_NAMES[0]])
        parts = [np.ones(n)]
        for name in F.NUMERIC_NAMES:
            x = np.asarray(cols[name], dtype=float)
            x = np.where(np.isnan(x), self.medians[name], x)
            parts.append((_transform(name, x) - self.means[name]) / self.stds[name])
        channel = np.asarray(cols["channel"])
        parts.extend((channel == c).astype(float) for c in F.CHANNELS[:-1])
        return np.column_stack(parts)

    def predict_proba(self, cols: Mapping[str, np.ndarray]) -> np.ndarray:
        z = self.design(cols) @ np.asarray(self.weights)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "medians": dict(self.medians),
            "means": dict(self.means),
            "stds": dict(self.stds),
            "weights": list(self.weights),
            "threshold": self.threshold,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        return cls(
            version=data["version"],
            medians=data["medians"],
            means=data["means"],
            stds=data["stds"],
            weights=tuple(data["weights"]),
            threshold=data.get("threshold", THRESHOLD),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()))

    @classmethod
    def load(cls, path: Path) -> Model:
        return cls.from_json(json.loads(path.read_text()))


def _transform(name: str, x: np.ndarray) -> np.ndarray:
    # Heavy-tailed features are modelled on a log scale, like the true concept.
    if name in ("distance_from_home_km", "avg_amount_30d"):
        return np.log1p(np.maximum(x, 0.0))
    return x


def train(cols: Mapping[str, np.ndarray], y: np.ndarray, *, version: str | None = None) -> Model:
    """Fit a logistic regression by Newton's method (IRLS) with a small ridge penalty."""
    medians = {n: float(np.nanmedian(cols[n])) for n in F.NUMERIC_NAMES}
    filled = {n: np.where(np.isnan(cols[n]), medians[n], cols[n]) for n in F.NUMERIC_NAMES}
    means = {n: float(_transform(n, filled[n]).mean()) for n in F.NUMERIC_NAMES}
    stds = {n: float(_transform(n, filled[n]).std()) or 1.0 for n in F.NUMERIC_NAMES}
    draft = Model("draft", medians, means, stds, ())
    x = draft.design(cols)
    w = _irls(x, y.astype(float))
    digest = hashlib.sha256(np.round(w, 6).tobytes()).hexdigest()[:8]
    return Model(version or f"fraud-lr-{digest}", medians, means, stds, tuple(float(v) for v in w))


def _irls(x: np.ndarray, y: np.ndarray, ridge: float = 1e-3, iterations: int = 25) -> np.ndarray:
    w = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) + ridge * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def training_data(
    seed: int = TRAINING_SEED, n: int = TRAINING_ROWS
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The seeded training set the reference model (and the drift reference) come from."""
    rng = np.random.default_rng(seed)
    cols = F.generate(rng, n)
    return cols, F.labels(rng, cols)


def bootstrap(seed: int = TRAINING_SEED) -> tuple[Model, dict[str, np.ndarray]]:
    """Train the reference model; return it with its training features (the drift reference)."""
    cols, y = training_data(seed)
    return train(cols, y, version="fraud-lr-1"), cols
