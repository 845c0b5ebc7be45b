"""The sink answers in Tempo's shapes, and TempoClient reads every Tempo dialect."""

from __future__ import annotations

import time

import pytest
import requests

from gameday.errors import StackUnavailable
from gameday.servers.sink.store import TraceSummary
from gameday.servers.sink.testing import BASE_TIME_NS, otlp_request, otlp_span
from gameday.telemetry import TempoClient, get_traces

TRACE = "5b8efff798038103d269b633813fc700"
SECOND = 1_000_000_000


def _post(sink, *spans, service="model-server"):
    response = requests.post(f"{sink.url}/v1/traces", json=otlp_request(service, *spans), timeout=5)
    assert response.status_code == 200


def _two_span_trace(trace_id=TRACE, start_ns=BASE_TIME_NS, duration_ms=10):
    root = otlp_span(
        trace_id,
        "eee19b7ec3c1b100",
        "POST /predict",
        kind=2,
        start_ns=start_ns,
        duration_ms=duration_ms,
    )
    child = otlp_span(
        trace_id,
        "eee19b7ec3c1b101",
        "feature_store.get",
        parent="eee19b7ec3c1b100",
        start_ns=start_ns + 1_000_000,
        duration_ms=1,
        kind=3,
        error=True,
    )
    return root, child


def test_tempo_v1_shape_has_batches_with_base64_ids_enum_names_and_string_times(sink):
    _post(sink, *_two_span_trace())

    document = requests.get(f"{sink.url}/api/traces/{TRACE}", timeout=5).json()

    [batch] = document["batches"]
    assert batch["resource"]["attributes"] == [
        {"key": "service.name", "value": {"stringValue": "model-server"}}
    ]
    root, child = batch["scopeSpans"][0]["spans"]
    assert root["traceId"] == "W47/95gDgQPSabYzgT/HAA=="  # as in Tempo's documentation
    assert root["spanId"] == "7uGbfsPBsQA="
    assert root["kind"] == "SPAN_KIND_SERVER"
    assert "parentSpanId" not in root
    assert root["startTimeUnixNano"] == str(BASE_TIME_NS)
    assert child["status"]["code"] == "STATUS_CODE_ERROR"
    assert child["parentSpanId"] == root["spanId"]


def test_tempo_v2_shape_wraps_resource_spans_in_trace(sink):
    _post(sink, *_two_span_trace())

    document = requests.get(f"{sink.url}/api/v2/traces/{TRACE}", timeout=5).json()

    assert len(document["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 2


def test_unknown_trace_is_404_and_client_returns_none_bad_id_is_400(sink):
    assert requests.get(f"{sink.url}/api/traces/{'ab' * 16}", timeout=5).status_code == 404
    assert requests.get(f"{sink.url}/api/traces/not-hex", timeout=5).status_code == 400
    assert TempoClient(sink.url).get_trace("ab" * 16) is None


def test_ids_with_leading_zeros_trimmed_are_found(sink):
    trace_id = "0000000000000000" + "a3ce929d0e0e4736"
    _post(sink, otlp_span(trace_id, "00f067aa0ba902b7", "root"))

    trace = TempoClient(sink.url).get_trace("a3ce929d0e0e4736")
    assert trace is not None
    assert trace.trace_id == trace_id


def test_search_lists_traces_in_window_most_recent_first_with_limit(sink):
    for n in range(5):
        _post(sink, *_two_span_trace(f"{n + 1:032x}", start_ns=BASE_TIME_NS + n * SECOND))
    client = TempoClient(sink.url)
    start = BASE_TIME_NS / 1e9

    found = client.search(start + 1, start + 3, limit=20)

    assert [s.trace_id for s in found] == [f"{n:032x}" for n in (4, 3, 2)]
    assert found[0] == TraceSummary(
        f"{4:032x}", "model-server", "POST /predict", BASE_TIME_NS + 3 * SECOND, 10
    )
    assert len(client.search(start, start + 10, limit=2)) == 2


def test_search_answers_in_tempo_shape_and_filters_by_service_and_duration(sink):
    _post(sink, *_two_span_trace(f"{1:032x}", duration_ms=5), service="model-server")
    _post(sink, *_two_span_trace(f"{2:032x}", duration_ms=900), service="feature-store")
    start = BASE_TIME_NS // SECOND
    window: dict[str, int | str] = {"start": start, "end": start + 1}

    by_service = requests.get(
        f"{sink.url}/api/search", params={**window, "tags": "service.name=feature-store"}, timeout=5
    ).json()
    slow = requests.get(
        f"{sink.url}/api/search", params={**window, "minDuration": "500ms"}, timeout=5
    ).json()

    assert by_service["traces"] == [
        {
            "traceID": f"{2:032x}",
            "rootServiceName": "feature-store",
            "rootTraceName": "POST /predict",
            "startTimeUnixNano": str(BASE_TIME_NS),
            "durationMs": 900,
        }
    ]
    assert [t["traceID"] for t in slow["traces"]] == [f"{2:032x}"]
    traceql = requests.get(f"{sink.url}/api/search", params={"q": '{ .x = "y" }'}, timeout=5)
    assert traceql.status_code == 400


def test_tempo_client_reads_base64_v2_documents_as_tempo_serves_them(canned_http):
    # The answer printed in Tempo's "Push spans with HTTP" documentation.
    document = {
        "trace": {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "my.service"}}
                        ]
                    },
                    "scopeSpans": [
                        {
                            "scope": {"name": "my.library", "version": "1.0.0"},
                            "spans": [
                                {
                                    "traceId": "W47/95gDgQPSabYzgT/HAA==",
                                    "spanId": "7uGbfsPBsQA=",
                                    "name": "I am a span!",
                                    "kind": "SPAN_KIND_SERVER",
                                    "startTimeUnixNano": "1689969302000000000",
                                    "endTimeUnixNano": "1689970000000000000",
                                    "attributes": [
                                        {
                                            "key": "my.span.attr",
                                            "value": {"stringValue": "some value"},
                                        }
                                    ],
                                    "status": {},
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    }
    url = canned_http({f"/api/traces/{TRACE}": (200, document)})

    trace = TempoClient(url).get_trace(TRACE)

    assert trace is not None
    [span] = trace.spans

    assert (span.trace_id, span.span_id, span.service, span.kind) == (
        TRACE,
        "eee19b7ec3c1b100",
        "my.service",
        2,
    )
    assert span.attributes == {"my.span.attr": "some value"}
    assert span.duration_ns == 698 * SECOND


def test_tempo_client_reads_old_batches_with_instrumentation_library_spans_and_hex_ids(canned_http):
    document = {
        "batches": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "legacy"}}]
                },
                "instrumentationLibrarySpans": [
                    {
                        "instrumentationLibrary": {"name": "old-sdk"},
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": "eee19b7ec3c1b100",
                                "name": "old",
                                "kind": 3,
                                "status": {"code": "STATUS_CODE_ERROR"},
                                "startTimeUnixNano": 5,
                                "endTimeUnixNano": 9,
                            }
                        ],
                    }
                ],
            }
        ]
    }
    url = canned_http({f"/api/traces/{TRACE}": (200, document)})

    trace = TempoClient(url).get_trace(TRACE)

    assert trace is not None
    [span] = trace.spans

    assert (span.service, span.kind, span.error, span.duration_ns) == ("legacy", 3, True, 4)


def test_get_traces_fetches_many_concurrently(sink):
    ids = [f"{n + 1:032x}" for n in range(12)]
    for trace_id in ids:
        _post(sink, *_two_span_trace(trace_id))

    found = get_traces(TempoClient(sink.url), [*ids, "ff" * 16], max_workers=4)

    assert list(found) == [*ids, "ff" * 16]
    traces = [found[t] for t in ids]
    assert all(trace is not None and len(trace.spans) == 2 for trace in traces)
    assert found["ff" * 16] is None


def test_client_raises_stack_unavailable_naming_the_url_when_down(canned_http):
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    with pytest.raises(StackUnavailable, match=r"GET http://127\.0\.0\.1:9/api/traces/"):
        TempoClient(dead, timeout=2).get_trace(TRACE)
    broken = canned_http({f"/api/traces/{TRACE}": (500, "boom")})
    with pytest.raises(StackUnavailable, match="HTTP 500"):
        TempoClient(broken).get_trace(TRACE)
    assert not TempoClient(dead, timeout=2).ready()


def test_search_window_defaults_cover_recent_traces(sink):
    now_ns = time.time_ns()
    _post(sink, otlp_span(TRACE, "00f067aa0ba902b7", "now", start_ns=now_ns))

    document = requests.get(f"{sink.url}/api/search", timeout=5).json()

    assert [t["traceID"] for t in document["traces"]] == [TRACE]
