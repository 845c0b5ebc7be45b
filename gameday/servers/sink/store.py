"""The bounded, thread-safe trace store behind the OTLP sink and its Tempo-compatible API.

Spans are kept in their wire form (serialized protobuf) so the query API can serve them back
exactly as received, and normalised to :class:`~gameday.telemetry.spans.Span` on demand.
The bound is on the total number of spans; whole traces are evicted oldest-first (by first
arrival), so a trace is either complete as received or gone, never silently trimmed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2

from gameday.telemetry import otlp
from gameday.telemetry.spans import Span, Trace

DEFAULT_MAX_SPANS = 200_000
# Tempo's placeholder when the root span of a trace has not arrived (yet).
ROOT_NOT_RECEIVED = "<root span not yet received>"


@dataclass(frozen=True)
class TraceSummary:
    """One line of a trace search: the shape of Tempo's ``/api/search`` results."""

    trace_id: str
    root_service: str
    root_name: str
    start_ns: int
    duration_ms: int

    def to_tempo(self) -> dict[str, object]:
        """This summary as a Tempo search result entry."""
        return {
            "traceID": self.trace_id,
            "rootServiceName": self.root_service,
            "rootTraceName": self.root_name,
            "startTimeUnixNano": str(self.start_ns),
            "durationMs": self.duration_ms,
        }


class _SpanLike(Protocol):
    @property
    def parent_id(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def start_ns(self) -> int: ...
    @property
    def end_ns(self) -> int: ...


def root_of(spans: Iterable[_SpanLike]) -> _SpanLike | None:
    """The span without a parent (the earliest if several), or ``None`` if none arrived."""
    roots = [s for s in spans if s.parent_id is None]
    return min(roots, key=lambda s: s.start_ns) if roots else None


def summarise(trace_id: str, spans: Iterable[_SpanLike]) -> TraceSummary:
    """Tempo's summary of a trace: root service and name, start, overall duration.

    The start is the root span's (the earliest span's while the root is missing), the same
    time :meth:`TraceStore.window` selects on; the duration runs to the last span's end.
    """
    spans = list(spans)
    root = root_of(spans)
    earliest = min(s.start_ns for s in spans)
    end = max(s.end_ns for s in spans)
    return TraceSummary(
        trace_id=trace_id,
        root_service=root.service if root else ROOT_NOT_RECEIVED,
        root_name=root.name if root else "",
        start_ns=root.start_ns if root else earliest,
        duration_ms=max(0, end - earliest) // 1_000_000,
    )


@dataclass(frozen=True)
class _Origin:
    """The resource and scope a group of spans arrived with (shared, serialized)."""

    resource: bytes
    resource_schema_url: str
    scope: bytes
    scope_schema_url: str
    service: str


@dataclass(frozen=True, slots=True)
class _Record:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    raw: bytes
    origin: _Origin

    @property
    def service(self) -> str:
        return self.origin.service

    def to_span(self) -> Span:
        return otlp.to_span(trace_pb2.Span.FromString(self.raw), self.origin.service)


@dataclass
class SpanBatch:
    """Spans of one export request, checked and serialized, ready for :meth:`TraceStore.add`."""

    by_trace: dict[str, list[_Record]] = field(default_factory=dict)
    accepted: int = 0
    rejected: int = 0
    error: str = ""


@dataclass(frozen=True)
class StoreStats:
    """Counters of a trace store since it started (spans unless named otherwise)."""

    received: int
    rejected: int
    evicted: int
    evicted_traces: int
    spans: int
    traces: int
    max_spans: int


def prepare(request: ExportTraceServiceRequest) -> SpanBatch:
    """Check and serialize every span of ``request``; spans with bad ids are counted as rejected.

    CPU-bound and lock-free: call it outside the event loop, then hand the batch to ``add``.
    """
    batch = SpanBatch()
    for rs in request.resource_spans:
        service = otlp.service_name(rs.resource)
        resource = rs.resource.SerializeToString()
        for ss in rs.scope_spans:
            origin = _Origin(
                resource, rs.schema_url, ss.scope.SerializeToString(), ss.schema_url, service
            )
            for span in ss.spans:
                _add_span(batch, span, origin)
    return batch


def _add_span(batch: SpanBatch, span: trace_pb2.Span, origin: _Origin) -> None:
    problem = otlp.span_problem(span)
    if problem:
        batch.rejected += 1
        batch.error = batch.error or problem
        return
    record = _Record(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex() if any(span.parent_span_id) else None,
        name=span.name,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        raw=span.SerializeToString(),
        origin=origin,
    )
    batch.by_trace.setdefault(record.trace_id, []).append(record)
    batch.accepted += 1


class TraceStore:
    """Recent traces, bounded by ``max_spans`` in total; thread-safe.

    Lookups take lowercase hex trace ids. When a batch pushes the total over the bound,
    whole traces are evicted, oldest first arrival first, until it fits again.
    """

    def __init__(self, max_spans: int = DEFAULT_MAX_SPANS):
        if max_spans < 1:
            raise ValueError(f"max_spans must be at least 1, not {max_spans}")
        self.max_spans = max_spans
        self._lock = threading.Lock()
        self._traces: OrderedDict[str, list[_Record]] = OrderedDict()
        self._spans = 0
        self._received = 0
        self._rejected = 0
        self._evicted = 0
        self._evicted_traces = 0

    def ingest(self, request: ExportTraceServiceRequest) -> SpanBatch:
        """Check and store every span of ``request``; returns what was accepted and rejected."""
        batch = prepare(request)
        self.add(batch)
        return batch

    def add(self, batch: SpanBatch) -> None:
        """Store a prepared batch and evict old traces beyond the bound."""
        with self._lock:
            for trace_id, records in batch.by_trace.items():
                self._traces.setdefault(trace_id, []).extend(records)
            self._spans += batch.accepted
            self._received += batch.accepted
            self._rejected += batch.rejected
            self._evict()

    def count_rejected(self, spans: int) -> None:
        """Count spans refused before they reached the store (e.g. while under pressure)."""
        with self._lock:
            self._rejected += spans

    def _evict(self) -> None:
        while self._spans > self.max_spans and self._traces:
            _, records = self._traces.popitem(last=False)
            self._spans -= len(records)
            self._evicted += len(records)
            self._evicted_traces += 1

    def _records(self, trace_id: str) -> list[_Record] | None:
        with self._lock:
            records = self._traces.get(trace_id.lower())
            return list(records) if records is not None else None

    def get(self, trace_id: str) -> Trace | None:
        """The trace with this hex id, spans ordered by start time; ``None`` if unknown."""
        records = self._records(trace_id)
        if records is None:
            return None
        spans = sorted((r.to_span() for r in records), key=lambda s: s.start_ns)
        return Trace(trace_id=trace_id.lower(), spans=tuple(spans))

    def resource_spans(self, trace_id: str) -> list[trace_pb2.ResourceSpans] | None:
        """The trace as OTLP ``ResourceSpans``, grouped by resource and scope as received."""
        records = self._records(trace_id)
        if records is None:
            return None
        groups: dict[_Origin, list[_Record]] = {}
        for record in sorted(records, key=lambda r: r.start_ns):
            groups.setdefault(record.origin, []).append(record)
        return _group_resource_spans(groups)

    def otlp_json(self, trace_id: str) -> list[dict[str, object]] | None:
        """The trace's resource spans as protobuf JSON, exactly the shape Tempo serves."""
        resource_spans = self.resource_spans(trace_id)
        if resource_spans is None:
            return None
        return [otlp.to_json(rs) for rs in resource_spans]

    def window(self, start_ns: int, end_ns: int, limit: int | None = None) -> list[TraceSummary]:
        """Traces whose root span (or, lacking one, earliest span) starts in ``[start_ns, end_ns]``.

        Most recent first, at most ``limit``.
        """
        with self._lock:
            snapshot = [(tid, list(records)) for tid, records in self._traces.items()]
        summaries = (summarise(trace_id, records) for trace_id, records in snapshot)
        found = [s for s in summaries if start_ns <= s.start_ns <= end_ns]
        found.sort(key=lambda s: s.start_ns, reverse=True)
        return found[:limit] if limit is not None else found

    def services_of(self, trace_id: str) -> set[str]:
        """Services that contributed spans to a trace (empty if unknown)."""
        return {r.service for r in self._records(trace_id) or []}

    def trace_ids(self) -> list[str]:
        """Ids of every stored trace, oldest first."""
        with self._lock:
            return list(self._traces)

    def stats(self) -> StoreStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return StoreStats(
                received=self._received,
                rejected=self._rejected,
                evicted=self._evicted,
                evicted_traces=self._evicted_traces,
                spans=self._spans,
                traces=len(self._traces),
                max_spans=self.max_spans,
            )

    def __len__(self) -> int:
        with self._lock:
            return len(self._traces)


def _group_resource_spans(groups: dict[_Origin, list[_Record]]) -> list[trace_pb2.ResourceSpans]:
    by_resource: dict[tuple[bytes, str], trace_pb2.ResourceSpans] = {}
    for origin, records in groups.items():
        key = (origin.resource, origin.resource_schema_url)
        rs = by_resource.get(key)
        if rs is None:
            rs = by_resource[key] = trace_pb2.ResourceSpans(schema_url=origin.resource_schema_url)
            rs.resource.ParseFromString(origin.resource)
        ss = rs.scope_spans.add(schema_url=origin.scope_schema_url)
        ss.scope.ParseFromString(origin.scope)
        for record in records:
            ss.spans.add().ParseFromString(record.raw)
    return list(by_resource.values())
