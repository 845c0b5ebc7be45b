"""Which traces a run keeps as evidence, and how they are stored.

Root cause is judged from the traces of the fault window's slow or failed requests (slower
than the baseline's p95, or failed), against the same kind of requests of the baseline.
:func:`wanted` picks them, spread evenly over time and bounded in number, so the collector
fetches exactly those and the bundle holds exactly what the verdict used. A request's spans
reach the backend in export batches, so requests that ended less than
:data:`SPAN_ARRIVAL_S` before the capture are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gameday.evidence.model import SpanEvidence, TimelineEvidence
from gameday.evidence.requests import Record, summarize
from gameday.telemetry.spans import Span, Trace

MAX_FAULT_TRACES = 300
MAX_BASELINE_TRACES = 100
SPAN_ARRIVAL_S = 1.5
# Span attributes the bundle keeps: what the analyses and reports read, not every tag.
KEPT_ATTRIBUTES = frozenset(
    {
        "peer.service",
        "http.status_code",
        "http.response.status_code",
        "http.route",
        "error.type",
        "exception.type",
    }
)


@dataclass(frozen=True)
class Wanted:
    """The traces a run keeps: the fault window's suspects and the baseline's, by trace id."""

    fault: tuple[str, ...]
    baseline: tuple[str, ...]
    candidates: int  # suspects in the fault window before spreading
    baseline_p95_ms: float | None

    @property
    def ids(self) -> list[str]:
        return list(dict.fromkeys([*self.fault, *self.baseline]))

    @property
    def kept(self) -> frozenset[str]:
        return frozenset(self.ids)


def suspects(
    records: Sequence[Record],
    window: tuple[float, float] | None,
    threshold_ms: float | None,
    settled: float,
) -> list[Record]:
    """Requests of ``window`` that failed or took longer than ``threshold_ms``, with a trace
    id, that ended before ``settled``."""
    if window is None:
        return []
    start, end = window
    return [
        r
        for r in records
        if start <= r.t < end
        and r.end <= settled
        and r.trace_id
        and (not r.ok or (threshold_ms is not None and r.ms > threshold_ms))
    ]


def spread(records: Sequence[Record], limit: int) -> list[Record]:
    """At most ``limit`` records spread evenly over time (deterministic, no sampling bias)."""
    if len(records) <= limit:
        return list(records)
    step = len(records) / limit
    return [records[int(i * step)] for i in range(limit)]


def wanted(records: Sequence[Record], timeline: TimelineEvidence, captured_at: float) -> Wanted:
    """The traces root cause and the report analyse for this run."""
    base_p95 = summarize(list(records), *(timeline.window("baseline") or (0.0, 0.0))).p95_ms
    settled = captured_at - SPAN_ARRIVAL_S
    fault = suspects(records, timeline.window("fault", captured_at), base_p95, settled)
    baseline = suspects(records, timeline.window("baseline", captured_at), base_p95, settled)
    return Wanted(
        fault=tuple(r.trace_id or "" for r in spread(fault, MAX_FAULT_TRACES)),
        baseline=tuple(r.trace_id or "" for r in spread(baseline, MAX_BASELINE_TRACES)),
        candidates=len(fault),
        baseline_p95_ms=base_p95,
    )


def to_evidence(trace: Trace) -> tuple[SpanEvidence, ...]:
    """A trace's spans as the bundle stores them (attributes: :data:`KEPT_ATTRIBUTES`)."""
    return tuple(
        SpanEvidence(
            span_id=s.span_id,
            parent_id=s.parent_id,
            name=s.name,
            service=s.service,
            start_ns=s.start_ns,
            end_ns=s.end_ns,
            kind=s.kind,
            error=s.error,
            status_message=s.status_message,
            attributes={k: _json(v) for k, v in s.attributes.items() if k in KEPT_ATTRIBUTES},
        )
        for s in trace.spans
    )


def keeps_trace_id(record: Record, wanted: Wanted) -> bool:
    """Whether the bundle keeps ``record``'s trace id: for every request that failed or was
    slower than the baseline p95, and every trace it stores (the rest are dropped: a fast,
    successful request's trace id is noise, and trace ids are most of a bundle's size)."""
    if not record.trace_id:
        return False
    p95 = wanted.baseline_p95_ms
    return (
        (not record.ok) or (p95 is not None and record.ms > p95) or record.trace_id in wanted.kept
    )


def to_trace(trace_id: str, spans: Sequence[SpanEvidence]) -> Trace:
    """A stored trace as the analyses take it."""
    return Trace(
        trace_id,
        tuple(
            Span(
                trace_id=trace_id,
                span_id=s.span_id,
                parent_id=s.parent_id,
                name=s.name,
                service=s.service,
                start_ns=s.start_ns,
                end_ns=s.end_ns,
                kind=s.kind,
                error=s.error,
                status_message=s.status_message,
                attributes=dict(s.attributes),
            )
            for s in spans
        ),
    )


def stored(
    traces: Mapping[str, tuple[SpanEvidence, ...] | None], ids: Sequence[str]
) -> tuple[list[Trace], int]:
    """The stored traces among ``ids`` (with spans), and how many of ``ids`` were missing."""
    found = [to_trace(i, spans) for i in ids if (spans := traces.get(i))]
    return found, len(ids) - len(found)


def _json(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
