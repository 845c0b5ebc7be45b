"""The ``root_cause`` expectation: traces of slow or failed requests blame the right component.

The requests analysed are those of the fault window that failed or were slower than the
baseline's p95. Each one's trace (by the trace id the load gave it) is fetched from the trace
backend; its critical path names the culprit (:mod:`gameday.analysis.critical_path`): the
error origin for a failed request, else the span with the largest critical-path self time.
A CLIENT span's self time is time on the wire or inside the callee before the callee's own
span began, so it is credited to the callee (``peer.service``): latency on the model server's
link to the feature store blames ``feature-store`` / ``feature_store.get``. The same analysis
over the baseline's slowest requests is reported beside it, for comparison.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from typing import Any, ClassVar

from gameday.analysis.critical_path import Blame, RootCauseSummary, aggregate, blame
from gameday.run.load import Record, summarize
from gameday.run.record import RunRecord
from gameday.scenario.expectations import Expectation, RootCauseExpectation
from gameday.telemetry.spans import SPAN_KIND_CLIENT
from gameday.telemetry.traces import get_traces
from gameday.verifiers.base import Check, Verifier

KIND = "root_cause"
MAX_TRACES = 300
MIN_TRACES = 20
EXAMPLES = 5  # trace ids of the slowest analysed requests, for reports
SPAN_ARRIVAL_S = 1.5  # spans are batched for export; give a request's spans this long to land


def credit_callee(b: Blame | None) -> Blame | None:
    """A blamed CLIENT span's time belongs to the service it called (its ``peer.service``)."""
    if b is not None and b.kind == SPAN_KIND_CLIENT and b.peer_service:
        return dataclasses.replace(b, service=b.peer_service)
    return b


def suspects(run: RunRecord, phase: str, threshold_ms: float | None) -> list[Record]:
    """Requests of ``phase`` that failed or took longer than ``threshold_ms``, with a trace id."""
    window = run.window(phase)
    if window is None:
        return []
    start, end = window
    settled = time.time() - SPAN_ARRIVAL_S
    return [
        r
        for r in run.requests
        if start <= r.t < end
        and r.end <= settled
        and r.trace_id
        and (not r.ok or (threshold_ms is not None and r.ms > threshold_ms))
    ]


def _spread(records: list[Record], limit: int) -> list[Record]:
    """At most ``limit`` records spread evenly over time (deterministic, no sampling bias)."""
    if len(records) <= limit:
        return records
    step = len(records) / limit
    return [records[int(i * step)] for i in range(limit)]


def analyse(run: RunRecord, records: Iterable[Record]) -> tuple[RootCauseSummary, int]:
    """Blame over the traces of ``records``; also how many traces the backend did not have."""
    client = run.observe.traces
    if client is None:
        raise LookupError("the environment names no trace backend (traces:)")
    ids = [r.trace_id for r in records if r.trace_id]
    traces = get_traces(client, ids)
    found = [t for t in traces.values() if t is not None and t.spans]
    return aggregate(credit_callee(blame(t)) for t in found), len(ids) - len(found)


def _shares(summary: RootCauseSummary) -> dict[str, Any]:
    return {
        "analysed": summary.analysed,
        "by_reason": dict(summary.by_reason),
        "services": {c.service: round(c.share, 3) for c in summary.services},
        "spans": {f"{c.service}/{c.span_name}": round(c.share, 3) for c in summary.spans},
    }


class RootCauseVerifier(Verifier):
    """Decides ``root_cause`` expectations from the traces of slow or failed requests."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = RootCauseExpectation
    summary: ClassVar[str] = "traces of slow or failed requests blame the expected component"

    def check(self, expectation: Expectation, run: RunRecord) -> Check:
        assert isinstance(expectation, RootCauseExpectation)
        base_p95 = summarize(run.requests, *(run.window("baseline") or (0, 0))).p95_ms
        chosen = suspects(run, "fault", base_p95)
        if not chosen:
            why = "no request of the fault window failed or was slower than the baseline p95"
            return Check(KIND, expectation.title, False, f"no traces to analyse: {why}")
        analysed = _spread(chosen, MAX_TRACES)
        fault, missing = analyse(run, analysed)
        if fault.analysed == 0:
            detail = f"none of {missing} traces of slow/failed requests reached the trace backend"
            return Check(KIND, expectation.title, False, detail)
        baseline_rows = suspects(run, "baseline", base_p95)
        baseline, _ = analyse(run, _spread(baseline_rows, MAX_TRACES // 3))
        check = _verdict(expectation, fault, baseline, base_p95, len(chosen), missing)
        return _with_examples(check, analysed)

    def done(self, expectation: Expectation, run: RunRecord, phase: str) -> bool:
        """Fault phase: decided once enough slow or failed requests have been recorded."""
        if phase != "fault":
            return True
        base_p95 = summarize(run.requests, *(run.window("baseline") or (0, 0))).p95_ms
        return len(suspects(run, "fault", base_p95)) >= MIN_TRACES


def _verdict(
    exp: RootCauseExpectation,
    fault: RootCauseSummary,
    baseline: RootCauseSummary,
    base_p95: float | None,
    candidates: int,
    missing: int,
) -> Check:
    top = fault.top_service
    rows = [c for c in fault.spans if c.service == exp.service and c.span_name == exp.span]
    share = (rows[0].share if rows else 0.0) if exp.span else _service_share(fault, exp.service)
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
    )
    evidence = {
        "baseline_p95_ms": base_p95,
        "candidates": candidates,
        "traces_missing": missing,
        "fault": _shares(fault),
        "baseline": _shares(baseline),
    }
    return Check(KIND, exp.title, passed, detail, evidence, extra={"share": round(share, 3)})


def _with_examples(check: Check, analysed: list[Record]) -> Check:
    """Add ``examples``: the trace ids of the slowest analysed requests (traces worth a look)."""
    slowest = sorted(analysed, key=lambda r: -r.ms)[:EXAMPLES]
    examples = [r.trace_id for r in slowest if r.trace_id]
    return dataclasses.replace(check, evidence={**check.evidence, "examples": examples})


def _service_share(summary: RootCauseSummary, service: str) -> float:
    return next((c.share for c in summary.services if c.service == service), 0.0)


VERIFIERS = (RootCauseVerifier,)
