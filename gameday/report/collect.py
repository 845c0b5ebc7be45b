"""Read what the report needs from the stack, right after a run, while the stack is still up.

Two things only the stack can tell: the alert episodes (Prometheus ``ALERTS``, through
:func:`gameday.verifiers.alerts.episodes`) and one slow request's trace (the trace backend).
Either may be unavailable; the report then says so in its notes instead of failing the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from gameday.report.data import (
    AlertRow,
    AlertSpan,
    ReportData,
    Waterfall,
    assemble,
    expected_alerts,
    waterfall,
)
from gameday.run.load import Record
from gameday.run.record import RunRecord
from gameday.run.results import ScenarioResult
from gameday.verifiers.alerts import Episode, episodes

T = TypeVar("T")

TRACE_TRIES = 5  # candidate traces fetched before the report goes without a waterfall
SPAN_ARRIVAL_S = 1.5  # spans are exported in batches: a just-finished request's may be late


def collect(result: ScenarioResult) -> ReportData:
    """The report of ``result``: its own figures plus alert episodes and one slow trace.

    Never raises for an unreachable Prometheus or trace backend: what could not be read is
    left out and named in ``notes``.
    """
    notes: list[str] = []
    rows = _attempt(notes, "alert episodes", lambda: alert_rows(result))
    trace = _attempt(notes, "slow trace", lambda: slow_trace(result))
    return assemble(result, rows or (), trace, notes)


def _attempt(notes: list[str], what: str, fetch: Callable[[], T]) -> T | None:
    try:
        return fetch()
    except Exception as exc:  # noqa: BLE001 - a report must never turn a verdict into a crash
        notes.append(f"{what} unavailable: {type(exc).__name__}: {exc}")
        return None


def alert_rows(result: ScenarioResult) -> list[AlertRow]:
    """One row per alert active during the run: expected-to-fire first, then by first activity."""
    record = result.record
    expected = expected_alerts(result)
    rows = []
    for name in active_alert_names(record):
        spans = tuple(_span(e, record.started_at) for e in episodes(record, name))
        if spans:
            rows.append(AlertRow(name, spans, expected.get(name, "")))
    order = {"fires": 0, "silent": 1, "": 2}
    return sorted(rows, key=lambda r: (order[r.expected], r.spans[0].start, r.alert))


def active_alert_names(record: RunRecord) -> list[str]:
    """Every alert name that was pending or firing at some point of the run."""
    step = record.observe.evaluation_interval
    end = time.time()
    start = end - math.ceil((end - record.started_at) / step) * step
    series = record.observe.prometheus.query_range("ALERTS", start, end, step)
    return sorted({s.labels.get("alertname", "") for s in series} - {""})


def _span(e: Episode, origin: float) -> AlertSpan:
    start = e.pending_at if e.pending_at is not None else e.firing_at
    labels = ", ".join(
        f"{k}={v}" for k, v in sorted(e.labels.items()) if k not in ("alertname", "severity")
    )
    return AlertSpan(
        max(0.0, (start or origin) - origin),
        None if e.firing_at is None else max(0.0, e.firing_at - origin),
        None if e.resolved_at is None else e.resolved_at - origin,
        labels,
    )


def slow_trace(result: ScenarioResult) -> Waterfall | None:
    """The waterfall of the first candidate trace the backend has (see :func:`candidates`)."""
    client = result.record.observe.traces
    if client is None:
        return None
    for tries, (record, why) in enumerate(candidates(result)):
        if tries >= TRACE_TRIES:
            break
        assert record.trace_id is not None
        trace = client.get_trace(record.trace_id)
        if trace is not None and trace.spans:
            return waterfall(trace, f"{why}: {record.ms:.0f} ms, {_status(record)}")
    return None


def _status(record: Record) -> str:
    return "ok" if record.ok else f"failed (status {record.status})"


def candidates(result: ScenarioResult) -> Iterator[tuple[Record, str]]:
    """Requests whose trace is worth showing, best first, each with why it was chosen.

    The root_cause check's ``examples`` (the slowest traces it analysed) come first; then the
    fault window's failed requests, slowest first; then its slowest; then the run's slowest.
    """
    rec = result.record
    settled = (rec.finished_at or time.time()) - SPAN_ARRIVAL_S
    traced = [r for r in rec.requests if r.trace_id and r.end <= settled]
    by_id = {r.trace_id: r for r in traced}
    seen: set[str] = set()
    for check in result.checks:
        for tid in check.evidence.get("examples", ()) if check.kind == "root_cause" else ():
            if tid in by_id and tid not in seen:
                seen.add(tid)
                yield by_id[tid], "slowest request analysed by the root-cause check"
    fault = rec.window("fault")
    in_fault = [r for r in traced if fault and fault[0] <= r.t < fault[1]]
    slowest = sorted(in_fault, key=lambda r: (r.ok, -r.ms))
    for r in [*slowest, *sorted(traced, key=lambda r: -r.ms)]:
        if r.trace_id not in seen:
            seen.add(r.trace_id or "")
            where = "fault window" if r in in_fault else "run"
            yield r, f"{'failed' if not r.ok else 'slowest'} request of the {where}"
