"""The ``data_quality`` expectation: injected bad batches never reach the feature store and
every one of them sits in quarantine.

The bad batches are exactly those the run's data faults changed (each data injector returns
their ids on revert; batches a fault only dropped are not batches). The evidence comes from
the reference stack's own books: the feature store records which batch every stored row came
from, the pipeline lists what it quarantined and why. An environment without those endpoints
cannot be checked this way, and the check says so (undecided, never passed).
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from gameday.run.record import RunRecord
from gameday.scenario.expectations import DataQualityExpectation, Expectation
from gameday.verifiers.base import Check, Verifier

KIND = "data_quality"
TIMEOUT_S = 10.0


def bad_batches(run: RunRecord) -> list[str]:
    """Ids of the batches the run's data faults changed, in order, without duplicates."""
    ids: list[str] = []
    for fr in run.faults:
        if fr.fault.injector.startswith("data."):
            ids += [b for b in fr.revert_evidence.get("batches", []) if b not in ids]
    if not any(fr.fault.injector == "data.stale" for fr in run.faults):
        return ids
    dropped = {
        b
        for fr in run.faults
        if fr.fault.injector == "data.stale"
        for b in fr.revert_evidence.get("batches", [])
    }
    return [b for b in ids if b not in dropped]


def _get(url: str, params: dict[str, str] | None = None) -> Any:
    response = requests.get(url, params=params, timeout=TIMEOUT_S)
    response.raise_for_status()
    return response.json()


class DataQualityVerifier(Verifier):
    """Decides ``data_quality`` expectations from the feature store's and pipeline's books."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = DataQualityExpectation
    summary: ClassVar[str] = "no row of an injected bad batch was stored; all are quarantined"

    def check(self, expectation: Expectation, run: RunRecord) -> Check:
        assert isinstance(expectation, DataQualityExpectation)
        env = run.environment
        if not env.feature_store or not env.pipeline:
            why = "the environment has no feature_store/pipeline endpoints to read the books from"
            return Check.undecided(KIND, expectation.title, why)
        bad = bad_batches(run)
        if not bad:
            return Check(KIND, expectation.title, False, "no batch was changed by a data fault")
        stored = _get(f"{env.feature_store}/internal/batches", {"ids": ",".join(bad)})["batches"]
        quarantine = _get(f"{env.pipeline}/internal/quarantine")["batches"]
        reasons = {q["batch_id"]: q["reasons"] for q in quarantine if q["batch_id"] in bad}
        return _verdict(expectation, bad, stored, reasons)

    def done(self, expectation: Expectation, run: RunRecord, phase: str) -> bool:
        """Decided at the end from what the faults changed; never holds a phase open."""
        return True


def _verdict(
    exp: DataQualityExpectation,
    bad: list[str],
    stored: dict[str, dict[str, int]],
    reasons: dict[str, list[str]],
) -> Check:
    rows = sum(v["written"] for v in stored.values())
    leaked = sorted(b for b, v in stored.items() if v["written"])
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
            problems.append(f"not quarantined: {', '.join(missing[:5])}")
    detail = "; ".join(parts) + (f": {'; '.join(problems)}" if problems else "")
    by_reason: dict[str, int] = {}
    for rs in reasons.values():
        for r in rs:
            by_reason[r] = by_reason.get(r, 0) + 1
    evidence = {
        "bad_batches": bad,
        "rows_stored": rows,
        "stored": stored,
        "quarantined": reasons,
        "quarantine_reasons": by_reason,
    }
    return Check(KIND, exp.title, not problems, detail, evidence)


VERIFIERS = (DataQualityVerifier,)
