"""The ``slo`` expectation: error rate and p95 latency of one phase, from the load's requests."""

from __future__ import annotations

from typing import ClassVar

from gameday.evidence.model import RunEvidence
from gameday.evidence.requests import from_columns, summarize
from gameday.scenario.expectations import Expectation, SloExpectation
from gameday.verifiers.base import Check, PhaseName, Verifier

KIND = "slo"


class SloVerifier(Verifier[SloExpectation]):
    """Decides ``slo`` expectations over the requests that started in the named phase."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = SloExpectation
    summary: ClassVar[str] = "error rate and/or p95 of a phase stay under their bounds"

    def check(self, expectation: SloExpectation, evidence: RunEvidence) -> Check:
        window = evidence.timeline.window(expectation.phase)
        records = from_columns(evidence.load.requests)
        stats = summarize(records, *window) if window else summarize([])
        if stats.requests == 0:
            detail = f"no request was made in {expectation.phase}: nothing to measure"
            return Check.undecided(KIND, expectation.title, detail)
        problems, figures = [], []
        if expectation.error_rate_below is not None:
            figures.append(
                f"error rate {stats.error_rate:.2%} (bound {expectation.error_rate_below:.2%})"
            )
            if stats.error_rate >= expectation.error_rate_below:
                problems.append("error rate")
        if expectation.p95_below_ms is not None and stats.p95_ms is not None:
            figures.append(f"p95 {stats.p95_ms:.0f} ms (bound {expectation.p95_below_ms:g} ms)")
            if stats.p95_ms >= expectation.p95_below_ms:
                problems.append("p95")
        verdict = f"over bound: {', '.join(problems)}" if problems else "within bounds"
        detail = f"{expectation.phase}: {stats.requests} requests, {'; '.join(figures)}: {verdict}"
        return Check(KIND, expectation.title, not problems, detail, stats.to_json())

    def done(self, expectation: SloExpectation, evidence: RunEvidence, phase: PhaseName) -> bool:
        """Measured over the phase as it ran: never a reason to keep a phase going."""
        return True


VERIFIERS = (SloVerifier,)
