"""The learning loop's parts without processes: realised quality, the label feed, the gate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from gameday.stack import features as F
from gameday.stack import trainer
from gameday.stack.label_feed import LabelFeed
from gameday.stack.model import bootstrap
from gameday.stack.quality import auc, quality


def test_auc_matches_mann_whitney_with_ties() -> None:
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(2000), 2)  # many ties
    labels = rng.random(2000) < scores
    u = mannwhitneyu(scores[labels], scores[~labels]).statistic
    assert auc(scores, labels) == pytest.approx(u / (labels.sum() * (~labels).sum()))


def test_auc_without_both_classes_is_undefined() -> None:
    assert math.isnan(auc(np.array([0.1, 0.9]), np.array([0, 0])))


def test_quality_counts_precision_recall_and_the_fraud_amount_caught() -> None:
    scores = np.array([0.9, 0.8, 0.2, 0.1])
    labels = np.array([1, 0, 1, 0])
    amounts = np.array([100.0, 10.0, 300.0, 5.0])
    q = quality(scores, labels, amounts, threshold=0.5)
    assert (q.precision, q.recall, q.accuracy) == (0.5, 0.5, 0.5)
    assert q.fraud_amount_caught == pytest.approx(100 / 400)


def _served(n: int, start_seq: int = 1, t: float = 1000.0) -> list[dict[str, object]]:
    model, _ = bootstrap()
    cols = F.generate(np.random.default_rng(start_seq), n)
    scores = model.predict_proba(cols)
    rows = []
    for i in range(n):
        row: dict[str, object] = {name: _py(cols[name][i]) for name in F.FEATURE_NAMES}
        rows.append({**row, "seq": start_seq + i, "t": t, "score": float(scores[i])})
    return rows


def _py(v: object) -> object:
    if isinstance(v, float | np.floating):
        return None if np.isnan(v) else float(v)
    return str(v)


def _feed(delay: float = 3.0) -> LabelFeed:
    return LabelFeed("http://127.0.0.1:9", delay, window=4000, threshold=0.5, seed=1)


def test_labels_arrive_only_after_their_delay() -> None:
    feed = _feed(delay=3.0)
    feed.label(_served(100), now=1000.0)
    assert feed.reveal(1002.0) == 0
    assert feed.reveal(1003.0) == 100
    assert len(feed.training_rows(5000)) == 100


def test_healthy_labels_show_a_good_model_and_concept_drift_a_bad_one() -> None:
    healthy, drifted = _feed(), _feed()
    drifted.faults.add({"kind": "concept_drift", "params": {"concept": "shifted"}})
    for feed in (healthy, drifted):
        feed.label(_served(3000), now=1000.0)
        feed.reveal(1010.0)
    good, bad = healthy.export(1010.0), drifted.export(1010.0)
    assert good is not None and bad is not None
    assert good.auc > 0.85
    assert bad.auc < 0.5


def test_stopped_feed_holds_labels_and_delivers_the_backlog_on_revert() -> None:
    feed = _feed()
    fault = feed.faults.add({"id": "stop", "kind": "label_delay", "params": {"stop": True}})
    feed.label(_served(50), now=1000.0)
    assert feed.reveal(1100.0) == 0
    feed.export(1100.0)
    feed.faults.remove(fault.id)
    assert feed.reveal(1100.5) == 50


def test_label_flip_flips_about_the_fraction_and_records_it() -> None:
    feed = _feed()
    fault = feed.faults.add({"kind": "label_flip", "params": {"fraction": 0.2}})
    feed.label(_served(5000), now=1000.0)
    feed.reveal(1010.0)
    positives = sum(r["label"] for r in feed.training_rows(5000)) / 5000
    assert 0.18 < positives < 0.30  # about 4% fraud, plus a fifth of the rest flipped to 1
    assert 800 < fault.evidence["flipped"] < 1200


@pytest.mark.parametrize("mode", ["shuffled_labels", "nulls", "garbage"])
def test_corrupt_training_batch_only_touches_what_the_trainer_reads(mode: str) -> None:
    feed = _feed()
    feed.label(_served(2000), now=1000.0)
    feed.reveal(1010.0)
    clean = feed.training_rows(2000)
    fault = feed.faults.add(
        {"kind": "corrupt_training_batch", "params": {"mode": mode, "fraction": 1.0}}
    )
    corrupted = feed.training_rows(2000)
    assert feed.training_rows(2000) is not clean
    assert fault.evidence["rows"] > 0
    if mode == "nulls":
        assert all(r["merchant_risk"] is None for r in corrupted)
        assert trainer.check_data(corrupted) == "merchant_risk is null in 100% of rows (max 20%)"
    feed.faults.remove(fault.id)
    assert feed.training_rows(2000) == clean  # the store itself was never modified


def test_training_data_checks_name_what_is_wrong() -> None:
    rows = [
        {**dict.fromkeys(F.NUMERIC_NAMES, 1.0), "channel": "web", "label": 0} for _ in range(2000)
    ]
    assert trainer.check_data(rows[:10]) == "only 10 labelled rows (need 1000)"
    assert "label balance 0.0%" in str(trainer.check_data(rows))
    for row in rows[:200]:
        row["label"] = 1
    assert trainer.check_data(rows) is None


@pytest.mark.parametrize(
    ("candidate", "live", "outcome"),
    [
        (0.70, 0.92, "blocked"),
        (0.90, 0.92, "kept"),
        (0.95, 0.92, "promoted"),
        (math.nan, 0.9, "blocked"),
    ],
)
def test_promotion_gate(candidate: float, live: float, outcome: str) -> None:
    assert trainer.gate(candidate, live)[0] == outcome
