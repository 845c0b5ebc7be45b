"""The trace store is bounded, thread-safe, and answers lookups and time windows."""

from __future__ import annotations

import json
import threading

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from gameday.servers.sink.store import TraceStore
from gameday.servers.sink.testing import BASE_TIME_NS, otlp_request, otlp_span
from gameday.telemetry.otlp import decode_export
from gameday.telemetry.spans import Trace

SECOND = 1_000_000_000


def _trace(n: int) -> str:
    return f"{n + 1:032x}"


def _request(trace_n: int, spans: int = 1, start_ns: int = BASE_TIME_NS, service: str = "svc"):
    """A request with one trace of ``spans`` spans: a root and its children."""
    root = otlp_span(_trace(trace_n), "0000000000000001", "root", start_ns=start_ns, duration_ms=50)
    children = [
        otlp_span(
            _trace(trace_n),
            f"{i + 2:016x}",
            f"child{i}",
            parent="0000000000000001",
            start_ns=start_ns + i,
        )
        for i in range(spans - 1)
    ]
    return _decode(otlp_request(service, root, *children))


def _decode(body: dict) -> ExportTraceServiceRequest:
    return decode_export(json.dumps(body).encode(), "application/json")


def _stored(store: TraceStore, trace_id: str) -> Trace:
    """The stored trace with this id, which must be there."""
    trace = store.get(trace_id)
    assert trace is not None, f"trace {trace_id} is not in the store"
    return trace


def test_store_evicts_oldest_traces_first_when_over_max_spans():
    store = TraceStore(max_spans=5)
    for n in range(3):
        store.ingest(_request(n, spans=2))

    assert store.trace_ids() == [_trace(1), _trace(2)]
    assert store.get(_trace(0)) is None
    stats = store.stats()
    assert (stats.spans, stats.evicted, stats.evicted_traces, stats.received) == (4, 2, 1, 6)


def test_spans_arriving_later_join_their_trace_without_reordering_eviction():
    store = TraceStore(max_spans=4)
    store.ingest(_request(0, spans=1))
    store.ingest(_request(1, spans=1))
    store.ingest(_request(0, spans=2))  # more spans of the oldest trace

    assert store.trace_ids() == [_trace(0), _trace(1)]
    store.ingest(_request(2, spans=1))
    assert store.trace_ids() == [_trace(1), _trace(2)]  # trace 0 (oldest first arrival) went whole


def test_lookup_returns_spans_sorted_by_start_with_parent_links():
    store = TraceStore()
    store.ingest(_request(7, spans=3, service="feature-store"))

    trace = _stored(store, _trace(7).upper())

    assert trace.trace_id == _trace(7)
    assert [s.name for s in trace.spans] == ["root", "child0", "child1"]
    assert trace.roots() == [trace.spans[0]]
    assert {s.parent_id for s in trace.spans[1:]} == {"0000000000000001"}
    assert trace.services() == {"feature-store"}


def test_window_lists_traces_whose_root_starts_inside():
    store = TraceStore()
    for n in range(5):
        store.ingest(_request(n, spans=2, start_ns=BASE_TIME_NS + n * SECOND))

    found = store.window(BASE_TIME_NS + 1 * SECOND, BASE_TIME_NS + 3 * SECOND)

    assert [s.trace_id for s in found] == [_trace(3), _trace(2), _trace(1)]  # most recent first
    assert found[0].root_service == "svc"
    assert found[0].root_name == "root"
    assert found[0].start_ns == BASE_TIME_NS + 3 * SECOND
    assert found[0].duration_ms == 50
    assert len(store.window(0, 2**63, limit=2)) == 2


def test_window_uses_earliest_span_when_root_has_not_arrived():
    store = TraceStore()
    orphan = otlp_span(
        _trace(9),
        "00000000000000aa",
        "late child",
        parent="00000000000000ff",
        start_ns=BASE_TIME_NS,
    )
    store.ingest(_decode(otlp_request("svc", orphan)))

    [summary] = store.window(BASE_TIME_NS, BASE_TIME_NS)

    assert summary.root_service == "<root span not yet received>"


def test_resource_and_scope_are_kept_as_received():
    store = TraceStore()
    store.ingest(_request(1, spans=2, service="model-server"))

    found = store.resource_spans(_trace(1))

    assert found is not None
    [resource_spans] = found
    assert resource_spans.resource.attributes[0].value.string_value == "model-server"
    assert resource_spans.scope_spans[0].scope.name == "tests"
    assert len(resource_spans.scope_spans[0].spans) == 2


def test_concurrent_ingest_from_threads_keeps_counts_exact():
    store = TraceStore(max_spans=1_000)
    requests = [_request(n, spans=3) for n in range(400)]

    def work(chunk):
        for request in chunk:
            store.ingest(request)

    threads = [threading.Thread(target=work, args=(requests[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stats = store.stats()
    assert stats.received == 1_200
    assert stats.spans <= 1_000
    assert stats.spans + stats.evicted == 1_200
    assert stats.spans == sum(len(_stored(store, t).spans) for t in store.trace_ids())


def test_empty_request_and_bad_bound():
    assert TraceStore().ingest(ExportTraceServiceRequest()).accepted == 0
    with pytest.raises(ValueError, match="max_spans"):
        TraceStore(max_spans=0)
