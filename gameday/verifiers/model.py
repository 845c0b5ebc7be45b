"""The ``model`` expectation: the serving model version changed during the run, or did not.

Read from the ``model_info{version}`` series the model server exports (value 1 for the version
it serves), as the run captured it: every version seen, in order. ``version_changed: false``
is how a scenario says "this corrupted training data must not reach production". No series
at all is undecided: a version that cannot be seen cannot be said not to have changed.
"""

from __future__ import annotations

from typing import ClassVar

from gameday.evidence.model import RunEvidence
from gameday.scenario.expectations import Expectation, ModelExpectation
from gameday.verifiers.base import Check, PhaseName, Verifier

KIND = "model"


class ModelVerifier(Verifier[ModelExpectation]):
    """Decides ``model`` expectations from the served model version over the run."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = ModelExpectation
    summary: ClassVar[str] = "the serving model version changed during the run (or did not)"

    def check(self, expectation: ModelExpectation, evidence: RunEvidence) -> Check:
        model = evidence.model
        if not model.collected:
            detail = f"the served version was not captured: {model.error or 'no evidence'}"
            return Check.undecided(KIND, expectation.title, detail)
        if not model.versions:
            detail = "no model_info series in Prometheus: the served version cannot be told"
            return Check.undecided(KIND, expectation.title, detail)
        names = [v.version for v in model.versions]
        changed = len(set(names)) > 1
        words = " -> ".join(names)
        detail = f"served {'versions' if changed else 'version'} {words}: " + (
            "the version changed" if changed else "unchanged for the whole run"
        )
        out = {
            "versions": [
                {"version": v.version, "first_seen": v.first_seen, "last_seen": v.last_seen}
                for v in model.versions
            ]
        }
        passed = changed == expectation.version_changed
        return Check(KIND, expectation.title, passed, detail, out)

    def done(self, expectation: ModelExpectation, evidence: RunEvidence, phase: PhaseName) -> bool:
        """Read at the end; it never holds a phase open."""
        return True


VERIFIERS = (ModelVerifier,)
