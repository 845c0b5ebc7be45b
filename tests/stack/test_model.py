"""The reference model: trained deterministically, imputes nulls, scores sensibly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gameday.stack import features as F
from gameday.stack.model import Model, bootstrap


def test_training_is_deterministic() -> None:
    first, _ = bootstrap()
    second, _ = bootstrap()
    assert first.weights == second.weights
    assert first.version == "fraud-lr-1"


def test_model_separates_fraud_from_legit_on_fresh_data() -> None:
    model, _ = bootstrap()
    rng = np.random.default_rng(99)
    cols = F.generate(rng, 20_000)
    y = F.labels(rng, cols)
    p = model.predict_proba(cols)
    ranks = np.empty(len(p))
    ranks[np.argsort(p)] = np.arange(1, len(p) + 1)
    pos = y == 1
    auc = (ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum())
    assert auc > 0.85


def test_nulls_are_imputed_with_training_medians() -> None:
    model, _ = bootstrap()
    row = {n: np.array([model.medians[n]]) for n in F.NUMERIC_NAMES} | {
        "channel": np.array(["app"])
    }
    nulls = {n: np.array([np.nan]) for n in F.NUMERIC_NAMES} | {"channel": np.array(["app"])}
    assert model.predict_proba(nulls)[0] == model.predict_proba(row)[0]


def test_model_round_trips_through_json(tmp_path: Path) -> None:
    model, cols = bootstrap()
    model.save(tmp_path / "m.json")
    loaded = Model.load(tmp_path / "m.json")
    assert np.allclose(loaded.predict_proba(cols), model.predict_proba(cols))
