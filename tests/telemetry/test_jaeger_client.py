"""JaegerClient reads Jaeger's /api/v3 OTLP JSON (fixture format: see fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.errors import ScenarioError, StackUnavailable
from gameday.telemetry import JaegerClient, TempoClient, trace_client
from gameday.telemetry.spans import SPAN_KIND_CLIENT, SPAN_KIND_SERVER

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "jaeger_v3_trace.json").read_text())
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
NOT_FOUND = {"error": {"httpCode": 404, "message": "No traces found"}}


def test_jaeger_v3_fixture_is_parsed_into_spans_across_services(canned_http):
    url = canned_http({f"/api/v3/traces/{TRACE}": (200, FIXTURE)})

    trace = JaegerClient(url).get_trace(TRACE)

    assert trace is not None
    root, client, server = trace.spans
    assert (root.name, root.service, root.kind, root.parent_id, root.error) == (
        "POST /predict",
        "model-server",
        SPAN_KIND_SERVER,
        None,
        False,
    )
    assert (client.kind, client.parent_id, client.error, client.status_message) == (
        SPAN_KIND_CLIENT,
        root.span_id,
        True,
        "deadline exceeded",
    )
    assert (server.service, server.parent_id, server.error) == (
        "feature-store",
        client.span_id,
        True,
    )
    assert client.attributes == {"retry": True, "latency_budget_s": 0.25}
    assert server.attributes == {"features": ["account_age_days", "merchant_risk"]}
    assert root.duration_ns == 850_000_000
    assert trace.roots() == [root]


def test_jaeger_unknown_trace_is_none(canned_http):
    url = canned_http({f"/api/v3/traces/{TRACE}": (404, NOT_FOUND)})

    assert JaegerClient(url).get_trace(TRACE) is None


def test_jaeger_streamed_chunks_are_joined(canned_http):
    first = {"result": {"resourceSpans": FIXTURE["result"]["resourceSpans"][:1]}}
    second = {"result": {"resourceSpans": FIXTURE["result"]["resourceSpans"][1:]}}
    url = canned_http(
        {f"/api/v3/traces/{TRACE}": (200, json.dumps(first) + "\n" + json.dumps(second))}
    )

    trace = JaegerClient(url).get_trace(TRACE)
    assert trace is not None
    assert len(trace.spans) == 3


def test_jaeger_search_groups_spans_into_trace_summaries(canned_http):
    url = canned_http({"/api/v3/traces": (200, FIXTURE)})

    [summary] = JaegerClient(url, service="model-server").search(1795829990.0, 1795830010.0)

    assert (summary.trace_id, summary.root_service, summary.root_name, summary.duration_ms) == (
        TRACE,
        "model-server",
        "POST /predict",
        850,
    )


def test_jaeger_search_with_nothing_found_is_empty(canned_http):
    url = canned_http({"/api/v3/traces": (404, NOT_FOUND)})

    assert JaegerClient(url).search(0, 1) == []


def test_unreadable_jaeger_answer_raises_stack_unavailable(canned_http):
    url = canned_http({f"/api/v3/traces/{TRACE}": (200, "<html>proxy error</html>")})

    with pytest.raises(StackUnavailable, match="unreadable trace"):
        JaegerClient(url).get_trace(TRACE)


def test_trace_client_factory_picks_the_backend_and_names_known_ones():
    assert isinstance(trace_client("http://127.0.0.1:1", "tempo"), TempoClient)
    assert isinstance(trace_client("http://127.0.0.1:1", "jaeger"), JaegerClient)
    with pytest.raises(ScenarioError, match="known: jaeger, tempo"):
        trace_client("http://127.0.0.1:1", "zipkin")
