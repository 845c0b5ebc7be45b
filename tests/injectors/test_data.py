"""Learning-loop feed faults: the label feed counts what each one changed, and the injector
judges from that count whether the fault took effect (the label feed runs in-process here:
its evidence is exactly what ``DELETE /internal/faults/{id}`` returns)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gameday.injectors.base import Applied, Injector
from gameday.injectors.data import ConceptDriftInjector, LabelDelayInjector
from gameday.stack import features as F
from gameday.stack.label_feed import LabelFeed


def _served(n: int, first_seq: int = 1) -> list[dict[str, Any]]:
    """``n`` predictions as the model server lists them (features, seq, time, score)."""
    cols = F.generate(np.random.default_rng(first_seq), n, nulls=False)
    rows = []
    for i in range(n):
        row: dict[str, Any] = {name: cols[name][i].item() for name in F.FEATURE_NAMES}
        rows.append({**row, "seq": first_seq + i, "t": 1000.0, "score": 0.5})
    return rows


def _feed() -> LabelFeed:
    return LabelFeed("http://127.0.0.1:9", delay_s=3.0, window=4000, threshold=0.5, seed=1)


def _effect(injector: Injector, evidence: dict[str, Any]) -> Any:
    """The injector's judgement of the evidence the label feed returns on removal."""
    applied = Applied(injector.name, "f1", "labels", {}, {"feed_fault": {"id": "f1"}})
    effect = injector.effect(applied, evidence)
    assert effect is not None
    return effect


def test_concept_drift_counts_the_labels_drawn_under_the_new_concept():
    feed = _feed()
    fault = feed.faults.add({"id": "f1", "kind": "concept_drift", "params": {"concept": "shifted"}})
    feed.label(_served(2000), now=1000.0)
    evidence = fault.to_json()["evidence"]
    assert evidence["labels"] == 2000
    assert 0 < evidence["changed"] < 2000  # the same draws, another concept: some labels moved
    effect = _effect(ConceptDriftInjector(), evidence)
    assert effect.took_effect is True
    assert effect.evidence == {"labels": 2000, "changed": evidence["changed"]}


def test_concept_drift_without_predictions_to_label_took_no_effect():
    feed = _feed()
    fault = feed.faults.add({"id": "f1", "kind": "concept_drift", "params": {"concept": "shifted"}})
    feed.label([], now=1000.0)
    effect = _effect(ConceptDriftInjector(), fault.to_json()["evidence"])
    assert effect.took_effect is False


@pytest.mark.parametrize(("params", "held"), [({"delay_s": 60.0}, 300), ({"stop": True}, 300),
                                              ({"delay_s": 1.0}, 0)])  # fmt: skip
def test_label_delay_counts_the_labels_it_held_back(params, held):
    """Labels due later than the feed's own delay (3 s), or never, are held back."""
    feed = _feed()
    fault = feed.faults.add({"id": "f1", "kind": "label_delay", "params": params})
    feed.label(_served(300), now=1000.0)
    evidence = fault.to_json()["evidence"]
    assert evidence.get("held_back", 0) == held
    assert _effect(LabelDelayInjector(), evidence).took_effect is (held > 0)
