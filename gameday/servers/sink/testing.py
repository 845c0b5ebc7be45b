"""Helpers for tests that talk to the telemetry sink: OTLP/HTTP JSON builders, an in-thread sink.

``running_sink`` (re-exported from :mod:`gameday.servers.sink.server`) serves a sink from a
thread; ``otlp_span`` and ``otlp_request`` build export bodies in OTLP/HTTP JSON exactly as
the specification writes them (hex ids, lowerCamelCase, int64 as strings), for posting with
any HTTP client.
"""

from __future__ import annotations

from typing import Any

from gameday.servers.sink.server import RunningSink, SinkOptions, running_sink

__all__ = ["RunningSink", "SinkOptions", "otlp_request", "otlp_span", "running_sink"]

BASE_TIME_NS = 1_795_830_000_000_000_000


def otlp_span(
    trace_id: str,
    span_id: str,
    name: str,
    *,
    parent: str = "",
    start_ns: int = BASE_TIME_NS,
    duration_ms: int = 10,
    kind: int = 1,
    error: bool = False,
) -> dict[str, Any]:
    """One span in OTLP/HTTP JSON: hex ids, lowerCamelCase, int64 as strings."""
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + duration_ms * 1_000_000),
        "attributes": [{"key": "http.response.status_code", "value": {"intValue": "200"}}],
        "status": {"code": 2} if error else {},
    }


def otlp_request(service: str, *spans: dict[str, Any]) -> dict[str, Any]:
    """An OTLP JSON export request with one resource (``service.name``) and one scope."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeSpans": [{"scope": {"name": "tests"}, "spans": list(spans)}],
            }
        ]
    }
