"""The ``data_quality`` expectation: injected bad batches never reach the feature store and
every one of them sits in quarantine.

The bad batches are exactly those the run's data faults changed (each data injector returns
their ids on revert; batches a fault only dropped are not batches). The evidence is the
pipeline's own books as the run captured them: the rows the feature store stored from each
bad batch and the quarantine reasons. An environment without those books cannot be checked
this way, and the check says so (undecided, never passed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from gameday.evidence.model import BatchBook, FaultEvidence, RunEvidence
from gameday.scenario.expectations import DataQualityExpectation, Expectation
from gameday.verifiers.base import Check, PhaseName, Verifier

KIND = "data_quality"
_HOLD_ONLY = frozenset({"data.stale", "data.label_delay"})  # they hold batches, never change one


def bad_batches(faults: Sequence[FaultEvidence]) -> list[str]:
    """Ids of the batches the run's data faults changed, in order, without duplicates
    (batches ``data.stale`` or ``data.label_delay`` only held back or dropped are not bad:
    what was delivered, if anything, was delivered unchanged)."""
    ids: list[str] = []
    dropped: set[str] = set()
    for fault in faults:
        batches = fault.reverted.get("batches")
        if not fault.injector.startswith("data.") or not isinstance(batches, list):
            continue
        names = [str(b) for b in batches]
        if fault.injector in _HOLD_ONLY:
            dropped.update(names)
        ids += [b for b in names if b not in ids]
    return [b for b in ids if b not in dropped]


class DataQualityVerifier(Verifier[DataQualityExpectation]):
    """Decides ``data_quality`` expectations from the feature store's and pipeline's books."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = DataQualityExpectation
    summary: ClassVar[str] = "no row of an injected bad batch was stored; all are quarantined"

    def check(self, expectation: DataQualityExpectation, evidence: RunEvidence) -> Check:
        data = evidence.data
        if not data.collected:
            detail = f"the pipeline's books were not captured: {data.error or 'no evidence'}"
            return Check.undecided(KIND, expectation.title, detail)
        bad = bad_batches(evidence.timeline.faults)
        if not bad:
            detail = "no batch was changed by a data fault: nothing to check"
            return Check.undecided(KIND, expectation.title, detail)
        return _verdict(expectation, bad, data.stored, data.quarantined)

    def done(
        self, expectation: DataQualityExpectation, evidence: RunEvidence, phase: PhaseName
    ) -> bool:
        """Decided at the end from what the faults changed; never holds a phase open."""
        return True


def _verdict(
    exp: DataQualityExpectation,
    bad: list[str],
    stored: dict[str, BatchBook],
    quarantined: dict[str, tuple[str, ...]],
) -> Check:
    reasons = {b: quarantined[b] for b in bad if b in quarantined}
    rows = sum(stored[b].written for b in bad if b in stored)
    leaked = sorted(b for b in bad if b in stored and stored[b].written)
    problems, parts = [], []
    if exp.corrupt_rows_stored is not None:
        parts.append(
            f"{rows} row(s) of {len(bad)} bad batch(es) stored (allowed {exp.corrupt_rows_stored})"
        )
        if rows > exp.corrupt_rows_stored:
            problems.append(f"rows stored from {', '.join(leaked[:5])}")
    if exp.bad_batches_quarantined is not None:
        want = len(bad) if exp.bad_batches_quarantined == "all" else exp.bad_batches_quarantined
        parts.append(f"{len(reasons)} of {len(bad)} bad batch(es) in quarantine (need {want})")
        if len(reasons) < want:
            missing = [b for b in bad if b not in reasons]
            problems.append(f"not quarantined: {', '.join(missing[:5]) or 'none left to count'}")
    detail = "; ".join(parts) + (f": {'; '.join(problems)}" if problems else "")
    by_reason: dict[str, int] = {}
    for rs in reasons.values():
        for r in rs:
            by_reason[r] = by_reason.get(r, 0) + 1
    out = {
        "bad_batches": bad,
        "rows_stored": rows,
        "stored": {b: stored[b].model_dump() for b in bad if b in stored},
        "quarantined": {b: list(r) for b, r in reasons.items()},
        "quarantine_reasons": by_reason,
    }
    return Check(KIND, exp.title, not problems, detail, out)


VERIFIERS = (DataQualityVerifier,)
