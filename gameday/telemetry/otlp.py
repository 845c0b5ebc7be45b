"""OTLP trace data: decode export requests, check ids, normalise spans, encode Tempo-style JSON.

Two JSON dialects meet here. OTLP/HTTP JSON (what exporters send) carries ids as **hex**;
protobuf's canonical JSON (what Grafana Tempo serves) carries them as **base64**. Both are
read by one rule: text that is valid hex is hex, anything else is tried as base64. The
lengths never collide: a hex trace id has 32 characters, a base64 one 24 (ending ``==``); a
hex span id 16, a base64 one 12 (ending ``=``).
"""

from __future__ import annotations

import base64
import binascii
import json
import string
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from gameday.errors import GameDayError
from gameday.telemetry.spans import Span

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
STATUS_CODE_ERROR = trace_pb2.Status.STATUS_CODE_ERROR
UNKNOWN_SERVICE = "unknown_service"

_HEX = frozenset(string.hexdigits)
# One byte is never a valid id length: an id that is neither hex nor base64 becomes this, so
# the span is rejected (and counted) instead of silently turning into something else.
_INVALID_ID = b"\x00"
_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_GRPC_CODE = {400: 3, 401: 16, 404: 5, 413: 8, 415: 3, 429: 8, 503: 14}


class OtlpDecodeError(GameDayError, ValueError):
    """The body is not a decodable OTLP trace export request."""


def media_type(content_type: str | None) -> str:
    """The bare, lowercase media type of a Content-Type header (parameters dropped)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_export(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Decode an ``ExportTraceServiceRequest`` sent as protobuf or OTLP JSON.

    Raises ``OtlpDecodeError`` with a readable reason when the body cannot be decoded.
    """
    if media_type(content_type) == JSON:
        return _decode_json(body)
    try:
        return ExportTraceServiceRequest.FromString(body)
    except (DecodeError, RuntimeError) as exc:
        raise OtlpDecodeError(f"cannot decode protobuf ExportTraceServiceRequest: {exc}") from exc


def _decode_json(body: bytes) -> ExportTraceServiceRequest:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:  # ValueError covers bad UTF-8 too
        raise OtlpDecodeError(f"body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise OtlpDecodeError("OTLP JSON must be an object with 'resourceSpans'")
    spans = _pop_first(document, "resourceSpans", "resource_spans") or []
    if not isinstance(spans, list):
        raise OtlpDecodeError("'resourceSpans' must be a list")
    request = ExportTraceServiceRequest()
    try:
        request.resource_spans.extend(resource_spans_from_json(spans))
    except (json_format.ParseError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise OtlpDecodeError(f"invalid OTLP JSON: {exc}") from exc
    return request


def resource_spans_from_json(items: Iterable[Any]) -> list[trace_pb2.ResourceSpans]:
    """Parse OTLP JSON resource spans in any dialect (hex or base64 ids, old field names).

    Accepts ``scopeSpans`` and the pre-1.0 ``instrumentationLibrarySpans``, enum values as
    numbers or names, int64 as strings or numbers. Unknown fields are ignored.
    Raises ``json_format.ParseError`` / ``TypeError`` on malformed input.
    """
    parsed = []
    for item in items:
        message = trace_pb2.ResourceSpans()
        json_format.ParseDict(_canonical_resource_spans(item), message, ignore_unknown_fields=True)
        parsed.append(message)
    return parsed


def _canonical_resource_spans(item: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(item)
    scopes = _pop_first(
        out,
        "scopeSpans",
        "scope_spans",
        "instrumentationLibrarySpans",
        "instrumentation_library_spans",
    )
    out["scopeSpans"] = [_canonical_scope_spans(scope) for scope in scopes or []]
    return out


def _canonical_scope_spans(item: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(item)
    scope = _pop_first(out, "scope", "instrumentationLibrary", "instrumentation_library")
    if scope is not None:
        out["scope"] = scope
    out["spans"] = [_with_base64_ids(span) for span in out.get("spans") or []]
    return out


def _with_base64_ids(span: Mapping[str, Any]) -> dict[str, Any]:
    out = {key: _base64_id(value) if key in _ID_KEYS else value for key, value in span.items()}
    if isinstance(out.get("links"), list):
        out["links"] = [_with_base64_ids(link) for link in out["links"]]
    return out


def _base64_id(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    return base64.b64encode(id_bytes(value)).decode("ascii")


def normalise_trace_id(text: str) -> str:
    """A hex trace id as 32 lowercase characters; ``ValueError`` if it is not hex."""
    text = text.strip().lower()
    if not text or len(text) > 32 or not _HEX.issuperset(text):
        raise ValueError(f"trace id must be up to 32 hex characters, not {text[:64]!r}")
    return text.rjust(32, "0")


def id_bytes(text: str) -> bytes:
    """The bytes of an id written as hex (OTLP JSON) or base64 (protobuf JSON, Tempo)."""
    if len(text) % 2 == 0 and _HEX.issuperset(text):
        return bytes.fromhex(text)
    for altchars in (None, b"-_"):
        try:
            raw = base64.b64decode(text, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if raw:
            return raw
    return _INVALID_ID


def _pop_first(mapping: dict[str, Any], *keys: str) -> Any:
    found = None
    for key in keys:
        value = mapping.pop(key, None)
        if found is None:
            found = value
    return found


def span_problem(span: trace_pb2.Span) -> str | None:
    """Why the receiver must reject ``span`` (bad id lengths), or ``None`` if it is fine."""
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return f"span {span.name!r}: trace id must be 16 bytes and not all zero"
    if len(span.span_id) != 8 or not any(span.span_id):
        return f"span {span.name!r}: span id must be 8 bytes and not all zero"
    if len(span.parent_span_id) not in (0, 8):
        return f"span {span.name!r}: parent span id must be empty or 8 bytes"
    return None


def service_name(resource: resource_pb2.Resource) -> str:
    """The resource attribute ``service.name``, or OTel's ``unknown_service``."""
    for attribute in resource.attributes:
        if attribute.key == "service.name" and attribute.value.string_value:
            return attribute.value.string_value
    return UNKNOWN_SERVICE


def any_value(value: common_pb2.AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (lists and dicts for arrays and kvlists)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def attributes(items: Iterable[common_pb2.KeyValue]) -> dict[str, Any]:
    """OTLP key/values flattened to a plain ``dict``."""
    return {kv.key: any_value(kv.value) for kv in items}


def to_span(span: trace_pb2.Span, service: str) -> Span:
    """Normalise one OTLP span of ``service`` to :class:`gameday.telemetry.spans.Span`."""
    parent = span.parent_span_id
    return Span(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=parent.hex() if any(parent) else None,
        name=span.name,
        service=service,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        kind=span.kind,
        error=span.status.code == STATUS_CODE_ERROR,
        status_message=span.status.message,
        attributes=attributes(span.attributes),
    )


def iter_spans(
    resource_spans: Iterable[trace_pb2.ResourceSpans],
) -> Iterator[tuple[trace_pb2.ResourceSpans, trace_pb2.ScopeSpans, trace_pb2.Span]]:
    """Every span with the resource and scope it came with."""
    for rs in resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                yield rs, ss, span


def spans_from_resource_spans(resource_spans: Iterable[trace_pb2.ResourceSpans]) -> list[Span]:
    """Normalised spans of every valid span (invalid ids are skipped)."""
    return [
        to_span(span, service_name(rs.resource))
        for rs, _, span in iter_spans(resource_spans)
        if span_problem(span) is None
    ]


def to_json(message: Message) -> dict[str, Any]:
    """Protobuf's canonical JSON, as Tempo serves it: base64 ids, enum names, int64 strings."""
    return json_format.MessageToDict(message)


def export_response(rejected: int, message: str, content_type: str) -> bytes:
    """The body of a 200 answer: ``partial_success`` filled in only when spans were rejected."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return _encode(response, content_type)


def error_status(http_status: int, message: str, content_type: str) -> bytes:
    """The body of an error answer: a ``google.rpc.Status``, as the OTLP/HTTP spec asks."""
    status = status_pb2.Status(code=_GRPC_CODE.get(http_status, 2), message=message)
    return _encode(status, content_type)


def _encode(message: Message, content_type: str) -> bytes:
    if media_type(content_type) == PROTOBUF:
        return message.SerializeToString()
    return json.dumps(to_json(message)).encode()
