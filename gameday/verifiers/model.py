"""The ``model`` expectation: the serving model version changed during the run, or did not.

Read from the ``model_info{version}`` series the model server exports (value 1 for the version
it serves): every version seen during the run, in order. ``version_changed: false`` is how a
scenario says "this corrupted training data must not reach production".
"""

from __future__ import annotations

import time
from typing import ClassVar

from gameday.run.record import RunRecord
from gameday.scenario.expectations import Expectation, ModelExpectation
from gameday.verifiers.base import Check, Verifier

KIND = "model"


def versions(run: RunRecord) -> list[tuple[str, float]]:
    """``(version, first seen)`` of each model version served during the run, in order."""
    step = run.observe.scrape_interval
    series = run.observe.prometheus.query_range(
        "model_info == 1", run.started_at, time.time(), step
    )
    seen = [(s.labels.get("version", "?"), s.points[0][0]) for s in series if s.points]
    return sorted(seen, key=lambda v: v[1])


class ModelVerifier(Verifier):
    """Decides ``model`` expectations from the served model version over the run."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = ModelExpectation
    summary: ClassVar[str] = "the serving model version changed during the run (or did not)"

    def check(self, expectation: Expectation, run: RunRecord) -> Check:
        assert isinstance(expectation, ModelExpectation)
        seen = versions(run)
        if not seen:
            detail = "no model_info series in Prometheus: the served version cannot be told"
            return Check.undecided(KIND, expectation.title, detail)
        names = [v for v, _ in seen]
        changed = len(names) > 1
        words = " -> ".join(names)
        detail = f"served {'versions' if changed else 'version'} {words}: " + (
            "the version changed" if changed else "unchanged for the whole run"
        )
        evidence = {"versions": [{"version": v, "first_seen": t} for v, t in seen]}
        return Check(
            KIND, expectation.title, changed == expectation.version_changed, detail, evidence
        )

    def done(self, expectation: Expectation, run: RunRecord, phase: str) -> bool:
        """Read at the end; it never holds a phase open."""
        return True


VERIFIERS = (ModelVerifier,)
