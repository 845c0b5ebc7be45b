"""What a run's HTML report shows, gathered into one plain value: :class:`ReportData`.

:func:`assemble` is pure: it derives from a :class:`~gameday.run.results.ScenarioResult` the
load buckets, phases, fault windows, detection times, checks, root-cause shares and who was
paged (:mod:`gameday.report.paging`); the alert rows and the slow trace, read from the run's
evidence by :func:`gameday.report.collect.collect`, are handed in.
Every time in a :class:`ReportData` is seconds since the run started.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gameday.analysis.critical_path import critical_path
from gameday.evidence.requests import LoadStats, Record, from_columns
from gameday.redaction import redact, redact_text
from gameday.report.paging import Paging, who_was_paged
from gameday.run.results import ScenarioResult
from gameday.scenario.expectations import AlertExpectation, Expectation, RootCauseExpectation
from gameday.telemetry.spans import Span, Trace
from gameday.verifiers.base import Check

MAX_WATERFALL_SPANS = 60  # a waterfall taller than a screen helps nobody


@dataclass(frozen=True)
class Bucket:
    """One second of load: the requests that started in ``[t, t + 1)``."""

    t: float
    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Window:
    """A labelled stretch of the timeline; ``end`` is ``None`` when it was still open."""

    label: str
    start: float
    end: float | None


@dataclass(frozen=True)
class AlertSpan:
    """One episode of an alert: active (pending) from ``start``, firing from ``firing``."""

    start: float
    firing: float | None
    end: float | None  # resolved; None while still active when the report was made
    labels: str = ""


@dataclass(frozen=True)
class AlertRow:
    """One alert that was active during the run, with every episode of it."""

    alert: str
    spans: tuple[AlertSpan, ...]
    expected: str = ""  # "fires", "silent" or "" (the scenario says nothing about it)


@dataclass(frozen=True)
class Detection:
    """An alert check's measured detection: fired ``after_s`` after the fault, at ``at``; and
    the detection time its rule's timing predicts, once the condition holds."""

    alert: str
    at: float
    after_s: float
    passed: bool
    predicted: tuple[float, float] | None = None  # the rule's least and most detection time


@dataclass(frozen=True)
class ShareRow:
    """A service's share of blame among slow traces, in the baseline and under the fault."""

    service: str
    baseline: float
    fault: float
    expected: bool


@dataclass(frozen=True)
class RootCause:
    """The root_cause check's evidence, as the chart needs it."""

    rows: tuple[ShareRow, ...]
    analysed_fault: int
    analysed_baseline: int
    passed: bool


@dataclass(frozen=True)
class WaterfallSpan:
    """One span of the waterfall; ``critical`` are its stretches on the critical path."""

    span_id: str
    service: str
    name: str
    depth: int
    start_ms: float
    end_ms: float
    error: bool
    critical: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Waterfall:
    """One slow or failed request's trace, spans in tree order, times from the trace start."""

    trace_id: str
    why: str
    duration_ms: float
    spans: tuple[WaterfallSpan, ...]
    hidden: int = 0  # spans left out beyond MAX_WATERFALL_SPANS


@dataclass(frozen=True)
class ReportData:
    """Everything one scenario's report shows (see the module docstring for the times)."""

    scenario: str
    summary: str
    verdict: str
    reason: str | None
    started_at: float
    duration_s: float
    runbook: str | None
    source: str | None
    load: LoadStats
    phases: tuple[Window, ...]
    faults: tuple[Window, ...]
    buckets: tuple[Bucket, ...]
    detections: tuple[Detection, ...]
    checks: tuple[Check, ...]
    alerts: tuple[AlertRow, ...] = ()
    root_cause: RootCause | None = None
    waterfall: Waterfall | None = None
    notes: tuple[str, ...] = ()
    unnamed: tuple[str, ...] = ()  # alerts active during the run that the scenario did not name
    paging: Paging | None = None  # who was paged; None: the run says nothing about it


def assemble(
    result: ScenarioResult,
    alerts: Iterable[AlertRow] = (),
    waterfall: Waterfall | None = None,
    notes: Iterable[str] = (),
) -> ReportData:
    """The report of ``result``, given its alert rows and slow trace (pure, no I/O)."""
    tl = result.evidence.timeline
    origin, end = tl.started_at, tl.finished_at or tl.started_at
    records = from_columns(result.evidence.load.requests)
    return ReportData(
        scenario=result.scenario.name,
        summary=result.scenario.summary,
        verdict=result.verdict,
        reason=redact_text(result.reason) if result.reason else None,
        started_at=origin,
        duration_s=max(0.0, end - origin),
        runbook=result.scenario.runbook,
        source=result.evidence.scenario_file,
        load=result.stats("run"),
        phases=tuple(
            Window(p.name, p.start - origin, _rel(p.end, origin)) for p in tl.phases.values()
        ),
        faults=tuple(
            Window(
                _fault_label(f.title, f.params), f.applied_at - origin, _rel(f.reverted_at, origin)
            )
            for f in tl.faults
            if f.applied_at is not None
        ),
        buckets=buckets(records, origin, end),
        detections=detections(result),
        checks=tuple(redacted(c) for c in result.checks),
        alerts=tuple(alerts),
        root_cause=root_cause(result),
        waterfall=waterfall,
        notes=tuple(redact_text(n) for n in notes),
        unnamed=tuple(result.unnamed_alerts()),
        paging=who_was_paged(result),
    )


def redacted(check: Check) -> Check:
    """The check with secrets masked in its detail and evidence (reports leave the machine)."""
    return dataclasses.replace(
        check, detail=redact_text(check.detail), evidence=redact(dict(check.evidence))
    )


def _rel(t: float | None, origin: float) -> float | None:
    return None if t is None else t - origin


def _fault_label(title: str, params: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{title} ({shown})" if shown else title


def buckets(records: Sequence[Record], start: float, end: float) -> tuple[Bucket, ...]:
    """Per-second figures of the requests that started in ``[start, end)``."""
    n = max(0, int(np.ceil(end - start)))
    by_second: list[list[Record]] = [[] for _ in range(n)]
    for r in records:
        i = int(r.t - start)
        if 0 <= i < n and r.t >= start:
            by_second[i].append(r)
    return tuple(_bucket(float(i), rows) for i, rows in enumerate(by_second))


def _bucket(t: float, rows: list[Record]) -> Bucket:
    failures = sum(not r.ok for r in rows)
    if not rows:
        return Bucket(t, 0, 0, None, None)
    p50, p95 = (float(v) for v in np.percentile([r.ms for r in rows], [50, 95]))
    return Bucket(t, len(rows), failures, p50, p95)


def paired(result: ScenarioResult) -> list[tuple[Expectation | None, Check]]:
    """Each check with the expectation it decided (the runner keeps the scenario's order)."""
    expect = list(result.scenario.expect)
    if len(expect) != len(result.checks):
        return [(None, c) for c in result.checks]
    return list(zip(expect, result.checks, strict=True))


def alert_name(expectation: Expectation | None, check: Check) -> str | None:
    """The alert an alert check is about (from its expectation, else from its evidence)."""
    if isinstance(expectation, AlertExpectation):
        return expectation.alert
    labels = check.evidence.get("labels") if check.kind == "alert" else None
    return labels.get("alertname") if isinstance(labels, Mapping) else None


def detections(result: ScenarioResult) -> tuple[Detection, ...]:
    """Where on the timeline each alert check measured its detection time."""
    origin, start = result.started_at, result.evidence.timeline.fault_start
    if start is None:
        return ()
    out = []
    for exp, check in paired(result):
        after = check.extra.get("detected_after_s")
        name = alert_name(exp, check)
        if isinstance(after, int | float) and name:
            low, high = check.extra.get("predicted_min_s"), check.extra.get("predicted_max_s")
            predicted = (
                (float(low), float(high))
                if isinstance(low, int | float) and isinstance(high, int | float)
                else None
            )
            at = start - origin + float(after)
            out.append(Detection(name, at, float(after), check.passed, predicted))
    return tuple(out)


def expected_alerts(result: ScenarioResult) -> dict[str, str]:
    """What the scenario expects of each alert it names: ``fires`` or ``silent``."""
    return {
        e.alert: ("silent" if e.silent else "fires")
        for e in result.scenario.expect
        if isinstance(e, AlertExpectation)
    }


def root_cause(result: ScenarioResult) -> RootCause | None:
    """The blame shares of the first root_cause check that has them (else ``None``)."""
    for exp, check in paired(result):
        fault = check.evidence.get("fault")
        if check.kind != "root_cause" or not isinstance(fault, Mapping):
            continue
        base = check.evidence.get("baseline")
        base = base if isinstance(base, Mapping) else {}
        expected = exp.service if isinstance(exp, RootCauseExpectation) else None
        return _root_cause(fault, base, expected, check.passed)
    return None


def _root_cause(
    fault: Mapping[str, Any], base: Mapping[str, Any], expected: str | None, passed: bool
) -> RootCause:
    f_shares, b_shares = fault.get("services") or {}, base.get("services") or {}
    names = sorted({*f_shares, *b_shares}, key=lambda s: (-f_shares.get(s, 0.0), s))
    rows = tuple(
        ShareRow(s, float(b_shares.get(s, 0.0)), float(f_shares.get(s, 0.0)), s == expected)
        for s in names
    )
    return RootCause(rows, int(fault.get("analysed", 0)), int(base.get("analysed", 0)), passed)


def waterfall(trace: Trace, why: str) -> Waterfall:
    """The waterfall of ``trace``: spans in tree order with their critical-path stretches."""
    spans = list({s.span_id: s for s in reversed(trace.spans)}.values())  # first copy wins
    if not spans:
        return Waterfall(trace.trace_id, why, 0.0, ())
    t0 = min(s.start_ns for s in spans)
    total = max(s.end_ns for s in spans) - t0
    path: dict[str, list[tuple[float, float]]] = {}
    for seg in critical_path(trace):
        path.setdefault(seg.span_id, []).append(
            ((seg.start_ns - t0) / 1e6, (seg.end_ns - t0) / 1e6)
        )
    rows = [_row(s, depth, t0, path.get(s.span_id, ())) for s, depth in tree_order(spans)]
    shown = rows[:MAX_WATERFALL_SPANS]
    return Waterfall(trace.trace_id, why, total / 1e6, tuple(shown), len(rows) - len(shown))


def _row(span: Span, depth: int, t0: int, critical: Iterable[tuple[float, float]]) -> WaterfallSpan:
    start, end = (span.start_ns - t0) / 1e6, (max(span.start_ns, span.end_ns) - t0) / 1e6
    return WaterfallSpan(
        span.span_id, span.service, span.name, depth, start, end, span.error, tuple(critical)
    )


def tree_order(spans: Sequence[Span]) -> list[tuple[Span, int]]:
    """Spans depth first (children by start time) with their depth; orphans start trees."""
    ids = {s.span_id for s in spans}
    kids: dict[str, list[Span]] = {}
    tops = []
    for s in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        if s.parent_id and s.parent_id in ids and s.parent_id != s.span_id:
            kids.setdefault(s.parent_id, []).append(s)
        else:
            tops.append(s)
    out: list[tuple[Span, int]] = []
    seen: set[str] = set()
    stack = [(s, 0) for s in reversed(tops)]
    while stack:
        span, depth = stack.pop()
        if span.span_id in seen:  # a parent cycle in bad data: show each span once
            continue
        seen.add(span.span_id)
        out.append((span, depth))
        stack.extend((c, depth + 1) for c in reversed(kids.get(span.span_id, [])))
    # Spans only reachable through a parent cycle (bad data) still deserve a row.
    out.extend((s, 0) for s in spans if s.span_id not in seen)
    return out
