"""The three scikit-learn models, trained at start on seeded synthetic data (deterministic).

``fraud`` and ``personalization`` are logistic regressions on standardised features,
``ranking`` a histogram gradient-boosted classifier; each learns the label
:func:`mlplatform.features.labels` draws for it. A missing feature is imputed with its
training mean, which is what the service reports as ``missing``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from mlplatform import features as F

TRAINING_ROWS = 4000
TRAINING_SEED = 11


def _estimator(name: str) -> Pipeline | ClassifierMixin:
    if name == "ranking":
        return HistGradientBoostingClassifier(max_iter=60, random_state=TRAINING_SEED)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))


class TrainedModel:
    """A fitted model for one :class:`~mlplatform.features.ModelSpec`."""

    def __init__(self, spec: F.ModelSpec, rows: int = TRAINING_ROWS, seed: int = TRAINING_SEED):
        rng = np.random.default_rng(seed)
        frame = pd.DataFrame(F.draw(rng, rows))[list(spec.features)]
        self.spec = spec
        self.means = {name: float(frame[name].mean()) for name in spec.features}
        self.estimator = _estimator(spec.name)
        self.estimator.fit(frame.to_numpy(), F.labels(spec, frame, rng))

    def score(self, values: Mapping[str, float | None]) -> tuple[float, list[str]]:
        """The positive-class probability for one customer, and the features imputed."""
        row, missing = [], []
        for name in self.spec.features:
            value = values.get(name)
            if value is None or np.isnan(value):
                missing.append(name)
                value = self.means[name]
            row.append(float(value))
        proba = self.estimator.predict_proba(np.array([row], dtype=np.float64))
        return float(proba[0, 1]), missing
