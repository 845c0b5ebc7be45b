"""The ``root_cause`` expectation: traces of slow or failed requests blame the right component.

The requests analysed are those of the fault window that failed or were slower than the
baseline's p95 (:mod:`gameday.evidence.traces` picks them; the bundle holds their traces).
Each trace's critical path names the culprit (:mod:`gameday.analysis.critical_path`): the
error origin for a failed request, else the span with the largest critical-path self time.
A CLIENT span's self time is time on the wire or inside the callee before the callee's own
span began, so it is credited to the callee (``peer.service``): latency on the model server's
link to the feature store blames ``feature-store`` / ``feature_store.get``. The same analysis
over the baseline's slow requests is reported beside it, for comparison.

A verdict needs at least ``min_traces`` analysed traces (default 20); with fewer, or with
most of the wanted traces missing from the backend, the check is undecided.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import ClassVar

from gameday.analysis.critical_path import Blame, RootCauseSummary, aggregate, blame
from gameday.evidence.model import RunEvidence
from gameday.evidence.requests import Record, from_columns, summarize
from gameday.evidence.traces import stored, suspects
from gameday.scenario.expectations import Expectation, RootCauseExpectation
from gameday.telemetry.spans import SPAN_KIND_CLIENT, Trace
from gameday.verifiers.base import Check, PhaseName, Verifier

KIND = "root_cause"
EXAMPLES = 5  # trace ids of the slowest analysed requests, for reports
MOSTLY_MISSING = 0.5  # more than this share of wanted traces missing: undecided
MIN_ENTRY_TRACES = 5  # fewest analysed traces of an entry service for ``per_entry`` to judge it


def credit_callee(b: Blame | None) -> Blame | None:
    """A blamed CLIENT span's time belongs to the service it called (its ``peer.service``)."""
    if b is not None and b.kind == SPAN_KIND_CLIENT and b.peer_service:
        return dataclasses.replace(b, service=b.peer_service)
    return b


def analyse(traces: Iterable[Trace]) -> RootCauseSummary:
    """Blame over ``traces``, callees credited."""
    return aggregate(credit_callee(blame(t)) for t in traces)


def shares(summary: RootCauseSummary) -> dict[str, object]:
    """A summary as check evidence: analysed count, reasons, shares per service and span."""
    return {
        "analysed": summary.analysed,
        "by_reason": dict(summary.by_reason),
        "services": {c.service: round(c.share, 3) for c in summary.services},
        "spans": {f"{c.service}/{c.span_name}": round(c.share, 3) for c in summary.spans},
    }


def by_entry(traces: Iterable[Trace]) -> dict[str, RootCauseSummary]:
    """Blame over ``traces`` for each entry service (on a platform: per model), by name."""
    groups: dict[str, list[Trace]] = {}
    for t in traces:
        groups.setdefault(t.entry_service() or "", []).append(t)
    return {entry: analyse(group) for entry, group in sorted(groups.items())}


def fault_and_baseline(evidence: RunEvidence) -> tuple[RootCauseSummary, RootCauseSummary, int]:
    """Blame over the fault window's and the baseline's stored traces, and how many of the
    fault window's wanted traces the backend did not have."""
    tr = evidence.traces
    fault, missing = stored(tr.traces, tr.fault_ids)
    baseline, _ = stored(tr.traces, tr.baseline_ids)
    return analyse(fault), analyse(baseline), missing


class RootCauseVerifier(Verifier[RootCauseExpectation]):
    """Decides ``root_cause`` expectations from the traces of slow or failed requests."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = RootCauseExpectation
    summary: ClassVar[str] = "traces of slow or failed requests blame the expected component"

    def check(self, expectation: RootCauseExpectation, evidence: RunEvidence) -> Check:
        title, tr = expectation.title, evidence.traces
        if not tr.fetched:
            return Check.undecided(KIND, title, f"no traces were read: {tr.error or 'no backend'}")
        if not tr.fault_ids:
            why = "no request of the fault window failed or was slower than the baseline p95"
            return Check.undecided(KIND, title, f"no traces to analyse: {why}")
        fault, baseline, missing = fault_and_baseline(evidence)
        wanted = len(tr.fault_ids)
        out: dict[str, object] = {
            "baseline_p95_ms": tr.baseline_p95_ms,
            "candidates": tr.candidates,
            "wanted": wanted,
            "traces_missing": missing,
            "fault": shares(fault),
            "baseline": shares(baseline),
            "examples": _examples(evidence),
        }
        if missing > MOSTLY_MISSING * wanted:
            detail = (
                f"{missing} of {wanted} traces of slow/failed requests are missing from the backend"
            )
            return Check.undecided(KIND, title, detail, out)
        if fault.analysed < expectation.min_traces:
            detail = (
                f"only {fault.analysed} traces analysed (need {expectation.min_traces}); "
                f"{missing} missing from the backend"
            )
            return Check.undecided(KIND, title, detail, out)
        entries = {
            entry: (summary.analysed, _share(expectation, summary))
            for entry, summary in by_entry(stored(tr.traces, tr.fault_ids)[0]).items()
        }
        out["by_entry"] = {
            e: {"analysed": n, "share": round(x, 3)} for e, (n, x) in entries.items()
        }
        check = _verdict(expectation, fault, baseline, missing, out)
        return (
            _per_entry(expectation, check, entries)
            if len(entries) > 1 or expectation.per_entry
            else check
        )

    def done(
        self, expectation: RootCauseExpectation, evidence: RunEvidence, phase: PhaseName
    ) -> bool:
        """Fault phase: decided once enough slow or failed requests have been recorded."""
        if phase != "fault":
            return True
        records = from_columns(evidence.load.requests)
        timeline = evidence.timeline
        base = _p95(records, timeline.window("baseline"))
        window = timeline.window("fault", evidence.captured_at)
        found = suspects(records, window, base, evidence.captured_at)
        return len(found) >= math.ceil(1.5 * expectation.min_traces)  # room for missing ones


def _p95(records: list[Record], window: tuple[float, float] | None) -> float | None:
    return summarize(records, *(window or (0.0, 0.0))).p95_ms


def _verdict(
    exp: RootCauseExpectation,
    fault: RootCauseSummary,
    baseline: RootCauseSummary,
    missing: int,
    out: dict[str, object],
) -> Check:
    top = fault.top_service
    share = _share(exp, fault)
    top_span = fault.top
    on_top = top is not None and top.service == exp.service
    if exp.span:
        on_top = on_top and top_span is not None and top_span.span_name == exp.span
    passed = on_top and share >= exp.min_share
    culprit = f"{exp.service}/{exp.span}" if exp.span else exp.service
    named = (
        f"{top_span.service}/{top_span.span_name}"
        if top_span and exp.span
        else (top.service if top else "nobody")
    )
    base_share = _service_share(baseline, exp.service)
    detail = (
        f"{fault.analysed} traces of slow/failed requests blame {named} first; {culprit} in "
        f"{share:.0%} (need {exp.min_share:.0%}); in the baseline's slowest: {base_share:.0%}"
        + (f"; {missing} trace(s) missing from the backend" if missing else "")
    )
    return Check(KIND, exp.title, passed, detail, out, extra={"share": round(share, 3)})


def _share(exp: RootCauseExpectation, summary: RootCauseSummary) -> float:
    """The share of ``summary``'s analysed traces that blame the expected service (and span)."""
    if exp.span:
        rows = [c for c in summary.spans if c.service == exp.service and c.span_name == exp.span]
        return rows[0].share if rows else 0.0
    return _service_share(summary, exp.service)


def _per_entry(
    exp: RootCauseExpectation, check: Check, entries: dict[str, tuple[int, float]]
) -> Check:
    """Add the per-entry breakdown to ``check``'s detail; with ``per_entry``, every entry
    service with at least :data:`MIN_ENTRY_TRACES` analysed traces must reach ``min_share``."""
    shown = ", ".join(f"{e or '?'} {x:.0%} of {n}" for e, (n, x) in entries.items())
    detail = f"{check.detail}; per entry service: {shown}"
    if not exp.per_entry:
        return dataclasses.replace(check, detail=detail)
    judged = {e: x for e, (n, x) in entries.items() if n >= MIN_ENTRY_TRACES}
    if not judged:
        why = f"no entry service has {MIN_ENTRY_TRACES} analysed traces"
        return Check.undecided(KIND, exp.title, f"{detail}; {why}", check.evidence)
    short = [e or "?" for e, x in judged.items() if x < exp.min_share]
    if short:
        detail += f"; below {exp.min_share:.0%} for {', '.join(short)}"
    return dataclasses.replace(check, passed=check.passed and not short, detail=detail)


def _examples(evidence: RunEvidence) -> list[str]:
    """The trace ids of the slowest analysed requests (traces worth a look)."""
    tr = evidence.traces
    ids = {i for i in tr.fault_ids if tr.traces.get(i)}
    records = [r for r in from_columns(evidence.load.requests) if r.trace_id in ids]
    return [r.trace_id or "" for r in sorted(records, key=lambda r: -r.ms)[:EXAMPLES]]


def _service_share(summary: RootCauseSummary, service: str) -> float:
    return next((c.share for c in summary.services if c.service == service), 0.0)


VERIFIERS = (RootCauseVerifier,)
