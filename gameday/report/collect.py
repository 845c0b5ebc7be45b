"""Read what the report shows from a run's evidence: alert episodes and one slow trace.

Pure: everything comes from the bundle (:class:`~gameday.evidence.model.RunEvidence`), so a
report can be written long after the stack is gone (``gameday report RUN_DIR``). What the
evidence lacks is named in the report's notes instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from gameday.evidence.alerts import Episode, all_episodes
from gameday.evidence.requests import Record, from_columns
from gameday.evidence.traces import to_trace
from gameday.report.data import (
    AlertRow,
    AlertSpan,
    ReportData,
    Waterfall,
    assemble,
    expected_alerts,
    waterfall,
)
from gameday.run.results import ScenarioResult

TRACE_TRIES = 5  # candidate traces looked at before the report goes without a waterfall


def collect(result: ScenarioResult) -> ReportData:
    """The report of ``result``: its own figures plus alert episodes and one slow trace."""
    notes: list[str] = []
    evidence = result.evidence
    if evidence.alerts is None:
        notes.append("alert episodes unavailable: no Prometheus evidence in the bundle")
    elif evidence.alerts.errors:
        notes += [f"alert evidence incomplete: {e}" for e in evidence.alerts.errors]
    if evidence.traces.error:
        notes.append(f"traces unavailable: {evidence.traces.error}")
    return assemble(result, alert_rows(result), slow_trace(result), notes)


def alert_rows(result: ScenarioResult) -> list[AlertRow]:
    """One row per alert active during the run: expected-to-fire first, then by first activity."""
    alerts = result.evidence.alerts
    if alerts is None:
        return []
    expected = expected_alerts(result)
    origin = result.started_at
    by_name: dict[str, list[AlertSpan]] = {}
    for e in all_episodes(alerts):
        if e.resolved_at is None or e.resolved_at >= origin:
            by_name.setdefault(e.alertname, []).append(_span(e, origin))
    rows = [AlertRow(name, tuple(spans), expected.get(name, "")) for name, spans in by_name.items()]
    order = {"fires": 0, "silent": 1, "": 2}
    return sorted(rows, key=lambda r: (order[r.expected], r.spans[0].start, r.alert))


def _span(e: Episode, origin: float) -> AlertSpan:
    start = e.pending_at if e.pending_at is not None else e.active_at
    labels = ", ".join(
        f"{k}={v}" for k, v in sorted(e.labels.items()) if k not in ("alertname", "severity")
    )
    return AlertSpan(
        max(0.0, start - origin),
        None if e.firing_at is None else max(0.0, e.firing_at - origin),
        None if e.resolved_at is None else e.resolved_at - origin,
        labels,
    )


def slow_trace(result: ScenarioResult) -> Waterfall | None:
    """The waterfall of the first candidate trace the bundle holds (see :func:`candidates`)."""
    traces = result.evidence.traces.traces
    for tries, (record, why) in enumerate(candidates(result)):
        if tries >= TRACE_TRIES:
            break
        assert record.trace_id is not None
        spans = traces.get(record.trace_id)
        if spans:
            trace = to_trace(record.trace_id, spans)
            return waterfall(trace, f"{why}: {record.ms:.0f} ms, {_status(record)}")
    return None


def _status(record: Record) -> str:
    return "ok" if record.ok else f"failed (status {record.status})"


def candidates(result: ScenarioResult) -> Iterator[tuple[Record, str]]:
    """Requests whose trace is worth showing, best first, each with why it was chosen.

    The root_cause check's ``examples`` (the slowest traces it analysed) come first; then the
    fault window's failed requests, slowest first; then its slowest; then the run's slowest.
    Only requests whose trace the bundle holds are candidates.
    """
    stored = result.evidence.traces.traces
    traced = [
        r
        for r in from_columns(result.evidence.load.requests)
        if r.trace_id and stored.get(r.trace_id)
    ]
    by_id = {r.trace_id: r for r in traced}
    seen: set[str] = set()
    for check in result.checks:
        examples = check.evidence.get("examples", ()) if check.kind == "root_cause" else ()
        for tid in examples if isinstance(examples, list) else ():
            if tid in by_id and tid not in seen:
                seen.add(tid)
                yield by_id[tid], "slowest request analysed by the root-cause check"
    fault = result.evidence.timeline.window("fault")
    in_fault = [r for r in traced if fault and fault[0] <= r.t < fault[1]]
    slowest = sorted(in_fault, key=lambda r: (r.ok, -r.ms))
    for r in [*slowest, *sorted(traced, key=lambda r: -r.ms)]:
        if r.trace_id not in seen:
            seen.add(r.trace_id or "")
            where = "fault window" if r in in_fault else "run"
            yield r, f"{'failed' if not r.ok else 'slowest'} request of the {where}"
