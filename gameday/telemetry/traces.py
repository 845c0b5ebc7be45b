"""Trace query clients: one protocol, two backends (Tempo, and gameday's sink; Jaeger).

- **Tempo** (and the sink): ``GET /api/traces/{hex id}`` serves OTLP JSON as
  ``{"batches": [...]}`` (v1) or ``{"trace": {"resourceSpans": [...]}}`` (v2), ids in base64;
  ``GET /api/search?start=&end=&limit=`` (Unix seconds) lists trace summaries.
- **Jaeger** ``/api/v3``: ``GET /api/v3/traces/{hex id}`` serves OTLP JSON wrapped as
  ``{"result": {"resourceSpans": [...]}}``, ids in hex, enums as numbers; 404 with
  ``{"error": {"httpCode": 404, ...}}`` when unknown. ``GET /api/v3/traces`` with
  ``query.start_time_min/max`` (RFC 3339) and ``query.service_name`` searches.

Every client normalises to :class:`~gameday.telemetry.spans.Trace`; both id encodings and
both OTLP generations (``scopeSpans``, ``instrumentationLibrarySpans``) are read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

from google.protobuf import json_format

from gameday.errors import ScenarioError, StackUnavailable
from gameday.servers.sink.store import TraceSummary, summarise
from gameday.telemetry import otlp
from gameday.telemetry._http import DEFAULT_TIMEOUT, HttpClient, decode_json
from gameday.telemetry._time import format_rfc3339
from gameday.telemetry.spans import Span, Trace

TRACE_APIS = ("jaeger", "tempo")


@runtime_checkable
class TraceClient(Protocol):
    """What verifiers need from a trace backend."""

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with this hex id, or ``None`` if the backend does not know it."""
        ...

    def search(self, start: float, end: float, limit: int = 20) -> list[TraceSummary]:
        """Traces starting in ``[start, end]`` (Unix s), most recent first, at most ``limit``."""
        ...


def trace_from_otlp_json(trace_id: str, resource_spans: Iterable[Any]) -> Trace:
    """A :class:`Trace` from OTLP JSON resource spans in any dialect (spans sorted by start).

    Raises ``ValueError`` when the JSON is not OTLP.
    """
    try:
        parsed = otlp.resource_spans_from_json(resource_spans)
    except (json_format.ParseError, TypeError, AttributeError) as exc:
        raise ValueError(f"not OTLP JSON resource spans: {exc}") from exc
    spans = sorted(otlp.spans_from_resource_spans(parsed), key=lambda s: s.start_ns)
    return Trace(trace_id=trace_id, spans=tuple(s for s in spans if s.trace_id == trace_id))


def _resource_spans_of(document: Any) -> list[Any]:
    """The resource spans in a Tempo v1/v2 or Jaeger v3 trace document."""
    if not isinstance(document, dict):
        raise ValueError("trace document must be a JSON object")
    for wrapper in ("trace", "result"):
        if isinstance(document.get(wrapper), dict):
            document = document[wrapper]
    found = document.get("batches", document.get("resourceSpans", []))
    if not isinstance(found, list):
        raise ValueError("'batches'/'resourceSpans' must be a list")
    return found


class TempoClient:
    """Grafana Tempo's query API (also served by gameday's sink)."""

    def __init__(
        self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT, token: str | None = None
    ):
        self.http = HttpClient(base_url, timeout=timeout, token=token)

    def get_trace(self, trace_id: str) -> Trace | None:
        """``GET /api/traces/{id}``; ``None`` on 404. ``StackUnavailable`` on other failures."""
        trace_id = otlp.normalise_trace_id(trace_id)
        response = self.http.get(f"/api/traces/{trace_id}", accept=(200, 404))
        if response.status_code == 404:
            return None
        return _parse_trace(trace_id, decode_json(response), response.url)

    def search(self, start: float, end: float, limit: int = 20) -> list[TraceSummary]:
        """``GET /api/search``; Tempo takes whole seconds, so the window is refined here."""
        params = {"start": math.floor(start), "end": math.ceil(end), "limit": limit}
        document = self.http.get_json("/api/search", params)
        summaries = [_tempo_summary(item) for item in document.get("traces") or []]
        start_ns, end_ns = int(start * 1e9), int(end * 1e9)
        return [s for s in summaries if start_ns <= s.start_ns <= end_ns][:limit]

    def ready(self) -> bool:
        """Whether ``GET /ready`` answers 200."""
        try:
            self.http.get("/ready")
        except StackUnavailable:
            return False
        return True


def _tempo_summary(item: dict[str, Any]) -> TraceSummary:
    return TraceSummary(
        trace_id=otlp.normalise_trace_id(item["traceID"]),
        root_service=item.get("rootServiceName", ""),
        root_name=item.get("rootTraceName", ""),
        start_ns=int(item.get("startTimeUnixNano") or 0),
        duration_ms=int(item.get("durationMs") or 0),
    )


def _parse_trace(trace_id: str, document: Any, url: str) -> Trace:
    try:
        return trace_from_otlp_json(trace_id, _resource_spans_of(document))
    except ValueError as exc:
        raise StackUnavailable(f"GET {url}: unreadable trace: {exc}") from exc


class JaegerClient:
    """Jaeger's ``/api/v3`` query API (OTLP JSON). ``service`` is the default search filter."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        token: str | None = None,
        service: str | None = None,
    ):
        self.http = HttpClient(base_url, timeout=timeout, token=token)
        self.service = service

    def get_trace(self, trace_id: str) -> Trace | None:
        """``GET /api/v3/traces/{id}``; ``None`` on 404."""
        trace_id = otlp.normalise_trace_id(trace_id)
        response = self.http.get(f"/api/v3/traces/{trace_id}", accept=(200, 404))
        if response.status_code == 404:
            return None
        try:
            documents = list(_json_stream(response.text))
            resource_spans = [rs for doc in documents for rs in _resource_spans_of(doc)]
        except ValueError as exc:
            raise StackUnavailable(f"GET {response.url}: unreadable trace: {exc}") from exc
        return _parse_trace(trace_id, {"resourceSpans": resource_spans}, response.url)

    def search(
        self, start: float, end: float, limit: int = 20, service: str | None = None
    ) -> list[TraceSummary]:
        """``GET /api/v3/traces`` (most Jaeger storages need a service name)."""
        params: dict[str, str | int] = {
            "query.start_time_min": format_rfc3339(start),
            "query.start_time_max": format_rfc3339(end),
            "query.num_traces": limit,
        }
        service = service or self.service
        if service:
            params["query.service_name"] = service
        response = self.http.get("/api/v3/traces", params, accept=(200, 404))
        if response.status_code == 404:
            return []
        spans = _all_spans(response.text, response.url)
        summaries = [summarise(tid, group) for tid, group in _by_trace(spans).items()]
        summaries.sort(key=lambda s: s.start_ns, reverse=True)
        return summaries[:limit]


def _json_stream(text: str) -> Iterator[Any]:
    # grpc-gateway streams may concatenate several {"result": ...} objects.
    decoder, index = json.JSONDecoder(), 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            return
        document, index = decoder.raw_decode(text, index)
        yield document


def _all_spans(text: str, url: str) -> list[Span]:
    try:
        parsed = otlp.resource_spans_from_json(
            rs for document in _json_stream(text) for rs in _resource_spans_of(document)
        )
    except (json_format.ParseError, TypeError, ValueError, AttributeError) as exc:
        raise StackUnavailable(f"GET {url}: unreadable traces: {exc}") from exc
    return otlp.spans_from_resource_spans(parsed)


def _by_trace(spans: Iterable[Span]) -> dict[str, list[Span]]:
    groups: dict[str, list[Span]] = {}
    for span in spans:
        groups.setdefault(span.trace_id, []).append(span)
    return groups


def trace_client(
    url: str, api: str = "tempo", *, timeout: float = DEFAULT_TIMEOUT, token: str | None = None
) -> TempoClient | JaegerClient:
    """The client for ``api`` (``tempo``, which also reads gameday's sink, or ``jaeger``)."""
    if api == "tempo":
        return TempoClient(url, timeout=timeout, token=token)
    if api == "jaeger":
        return JaegerClient(url, timeout=timeout, token=token)
    raise ScenarioError(f"unknown traces_api {api!r}; known: {', '.join(TRACE_APIS)}")


def get_traces(
    client: TraceClient, trace_ids: Iterable[str], *, max_workers: int = 8
) -> dict[str, Trace | None]:
    """Fetch many traces concurrently (at most ``max_workers`` requests in flight).

    Returns ``{trace_id: Trace | None}`` in input order (duplicates fetched once); the first
    ``StackUnavailable`` raised by the client propagates.
    """
    ids = list(dict.fromkeys(trace_ids))
    if not ids:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(ids)))) as pool:
        return dict(zip(ids, pool.map(client.get_trace, ids), strict=True))
