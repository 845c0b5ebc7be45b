"""The OTLP/HTTP receiver behaves as the OTLP specification asks."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import zlib

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from gameday.servers.sink.receiver import ReceiverLimits
from gameday.servers.sink.testing import otlp_request, otlp_span
from gameday.telemetry import TempoClient
from gameday.telemetry.spans import SPAN_KIND_CLIENT, SPAN_KIND_SERVER

TRACE = "5b8efff798038103d269b633813fc700"
JSON_HEADERS = {"Content-Type": "application/json"}
PROTO_HEADERS = {"Content-Type": "application/x-protobuf"}


def _export_with_sdk(url: str, compression: Compression) -> str:
    """Export a model-server trace (SERVER root, failing CLIENT child) with the real SDK."""
    provider = TracerProvider(resource=Resource.create({"service.name": "model-server"}))
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", compression=compression, timeout=5)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("gameday.tests")
    with tracer.start_as_current_span("POST /predict", kind=SpanKind.SERVER) as root:
        attrs: dict[str, AttributeValue] = {
            "entity_id": "e-1",
            "retries": 2,
            "features": ["a", "b"],
        }
        with tracer.start_as_current_span(
            "feature_store.get", kind=SpanKind.CLIENT, attributes=attrs
        ) as child:
            child.set_status(Status(StatusCode.ERROR, "timeout"))
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


@pytest.mark.parametrize(
    "compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate]
)
def test_sdk_protobuf_export_reads_back_with_parent_service_error_and_kind(sink, compression):
    trace_id = _export_with_sdk(sink.url, compression)

    trace = TempoClient(sink.url).get_trace(trace_id)

    assert trace is not None
    root, child = trace.spans
    assert (root.name, root.kind, root.parent_id, root.error) == (
        "POST /predict",
        SPAN_KIND_SERVER,
        None,
        False,
    )
    assert (child.name, child.kind, child.parent_id) == (
        "feature_store.get",
        SPAN_KIND_CLIENT,
        root.span_id,
    )
    assert child.error
    assert child.status_message == "timeout"
    assert trace.services() == {"model-server"}
    assert child.attributes == {"entity_id": "e-1", "retries": 2, "features": ["a", "b"]}


def test_json_export_with_hex_ids_is_accepted_and_answered_in_json(sink):
    body = otlp_request(
        "feature-store",
        otlp_span(TRACE, "eee19b7ec3c1b100", "GET /features", kind=2),
        otlp_span(
            TRACE, "eee19b7ec3c1b101", "db.query", parent="eee19b7ec3c1b100", kind=3, error=True
        ),
    )

    response = requests.post(f"{sink.url}/v1/traces", json=body, timeout=5)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "partialSuccess" not in response.json()
    trace = TempoClient(sink.url).get_trace(TRACE)
    assert trace is not None
    assert [s.span_id for s in trace.spans] == ["eee19b7ec3c1b100", "eee19b7ec3c1b101"]
    assert trace.spans[1].parent_id == "eee19b7ec3c1b100"
    assert trace.spans[1].error
    assert trace.spans[0].attributes == {"http.response.status_code": 200}


def test_gzip_json_export_is_accepted(sink):
    body = gzip.compress(
        json.dumps(otlp_request("pipeline", otlp_span(TRACE, "00f067aa0ba902b7", "run"))).encode()
    )

    response = requests.post(
        f"{sink.url}/v1/traces",
        data=body,
        headers={**JSON_HEADERS, "Content-Encoding": "gzip"},
        timeout=5,
    )

    assert response.status_code == 200
    assert sink.traces.get(TRACE).spans[0].service == "pipeline"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (PROTO_HEADERS, b"\xff\xfe not protobuf"),
        (JSON_HEADERS, b"{not json"),
        (JSON_HEADERS, b'{"resourceSpans": 3}'),
        ({**JSON_HEADERS, "Content-Encoding": "gzip"}, b"not gzip at all"),
        (
            {**JSON_HEADERS, "Content-Encoding": "gzip"},
            gzip.compress(b'{"resourceSpans": []}')[:-8],
        ),
    ],
    ids=["protobuf", "json", "not-otlp-json", "bad-gzip", "truncated-gzip"],
)
def test_undecodable_body_is_400_with_message_and_sink_keeps_serving(sink, headers, body):
    response = requests.post(f"{sink.url}/v1/traces", data=body, headers=headers, timeout=5)

    assert response.status_code == 400
    if headers["Content-Type"] == "application/json":
        assert response.json()["message"]
    follow_up = requests.post(
        f"{sink.url}/v1/traces",
        json=otlp_request("svc", otlp_span(TRACE, "00f067aa0ba902b7", "ok")),
        timeout=5,
    )
    assert follow_up.status_code == 200
    assert requests.get(f"{sink.url}/healthz", timeout=5).status_code == 200


def test_spans_with_bad_id_lengths_are_rejected_with_partial_success(sink):
    body = otlp_request(
        "svc",
        otlp_span(TRACE, "00f067aa0ba902b7", "good"),
        otlp_span("00f067aa0ba902b7", "00f067aa0ba902b8", "8-byte trace id"),
        otlp_span(TRACE, "00f067aa", "4-byte span id"),
        otlp_span(TRACE, "not-an-id!", "garbage span id"),
    )

    response = requests.post(f"{sink.url}/v1/traces", json=body, timeout=5)

    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "3"  # int64 is a string in OTLP JSON
    assert "trace id" in partial["errorMessage"]
    assert [s.name for s in sink.traces.get(TRACE).spans] == ["good"]
    assert sink.traces.stats().rejected == 3


def test_protobuf_partial_success_is_answered_in_protobuf(sink):
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    scope.spans.add(trace_id=bytes.fromhex(TRACE), span_id=b"\x01" * 8, name="good")
    scope.spans.add(trace_id=b"\x01" * 8, span_id=b"\x02" * 8, name="bad")

    response = requests.post(
        f"{sink.url}/v1/traces", data=request.SerializeToString(), headers=PROTO_HEADERS, timeout=5
    )

    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert sink.traces.get(TRACE).spans[0].service == "unknown_service"


def test_unsupported_content_type_or_encoding_is_415(sink):
    assert (
        requests.post(
            f"{sink.url}/v1/traces", data=b"x", headers={"Content-Type": "text/plain"}, timeout=5
        ).status_code
        == 415
    )
    headers = {**PROTO_HEADERS, "Content-Encoding": "br"}
    assert (
        requests.post(f"{sink.url}/v1/traces", data=b"x", headers=headers, timeout=5).status_code
        == 415
    )


def test_declared_body_over_64_mib_is_413_without_reading_it(sink):
    host, port = sink.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: %d\r\n\r\n" % (64 * 1024 * 1024 + 1)
        )
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"


def test_gzip_bomb_over_64_mib_is_413(sink):
    bomb = zlib.compress(b"\0" * (64 * 1024 * 1024 + 10), 9)  # ~65 KB on the wire

    response = requests.post(
        f"{sink.url}/v1/traces",
        data=bomb,
        headers={**PROTO_HEADERS, "Content-Encoding": "deflate"},
        timeout=30,
    )

    assert response.status_code == 413


def test_span_rate_over_limit_is_429_with_retry_after(make_sink):
    sink = make_sink(limits=_limits(max_spans_per_second=2))
    body = otlp_request("svc", *(otlp_span(TRACE, f"{i + 1:016x}", f"s{i}") for i in range(5)))

    first = requests.post(f"{sink.url}/v1/traces", json=body, timeout=5)
    second = requests.post(f"{sink.url}/v1/traces", json=body, timeout=5)

    assert first.status_code == 200
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) >= 1
    assert len(sink.traces.get(TRACE).spans) == 5


def test_exports_beyond_inflight_limit_get_503_with_retry_after(make_sink):
    sink = make_sink(limits=_limits(max_inflight=1))
    release, started = threading.Event(), threading.Event()

    def slow_body():
        yield b"{"
        started.set()
        release.wait(10)
        yield b'"resourceSpans": []}'

    holder = threading.Thread(
        target=requests.post,
        args=(f"{sink.url}/v1/traces",),
        kwargs={"data": slow_body(), "headers": JSON_HEADERS, "timeout": 15},
    )
    holder.start()
    try:
        assert started.wait(5)
        busy = _post_until_busy(sink.url)
    finally:
        release.set()
        holder.join(15)
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "1"


def _post_until_busy(url: str) -> requests.Response:
    # The first chunk is sent before the server reads it: retry (bounded) until the slot is held.
    for _ in range(100):
        response = requests.post(f"{url}/v1/traces", json={"resourceSpans": []}, timeout=5)
        if response.status_code == 503:
            return response
        threading.Event().wait(0.02)
    return response


def _limits(**overrides):
    return ReceiverLimits(**overrides)
