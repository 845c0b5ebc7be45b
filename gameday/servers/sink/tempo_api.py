"""The part of Grafana Tempo's HTTP API the sink serves, in Tempo's own response shapes.

- ``GET /api/traces/{id}`` → ``{"batches": [ResourceSpans...]}`` (Tempo v1)
- ``GET /api/v2/traces/{id}`` → ``{"trace": {"resourceSpans": [...]}}`` (Tempo v2)
- ``GET /api/search?start=&end=&limit=&tags=&minDuration=&maxDuration=`` →
  ``{"traces": [{"traceID", "rootServiceName", "rootTraceName", "startTimeUnixNano",
  "durationMs"}], "metrics": {...}}``
- ``GET /api/echo`` → ``echo``; ``GET /ready`` → ``ready``

Trace bodies are protobuf's canonical JSON, as Tempo writes them: ids in **base64**, enum
values as names (``SPAN_KIND_SERVER``), int64 as strings. Path and search ids are hex;
Tempo trims leading zeros from search ids and accepts them trimmed, so the sink does too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gameday.servers.sink.store import TraceStore, TraceSummary
from gameday.telemetry._time import parse_duration
from gameday.telemetry.otlp import normalise_trace_id

DEFAULT_SEARCH_LIMIT = 20  # Tempo's default


class _BadRequest(ValueError):
    pass


@dataclass(frozen=True)
class _SearchQuery:
    start_ns: int
    end_ns: int
    limit: int
    service: str | None
    min_ms: float | None
    max_ms: float | None

    def matches(self, summary: TraceSummary, services: set[str]) -> bool:
        if self.service is not None and self.service not in services:
            return False
        if self.min_ms is not None and summary.duration_ms < self.min_ms:
            return False
        return self.max_ms is None or summary.duration_ms <= self.max_ms


class TempoApi:
    """Starlette endpoints answering Tempo queries from a :class:`TraceStore`."""

    def __init__(self, store: TraceStore):
        self.store = store

    def routes(self) -> list[Route]:
        """The routes to mount at the root of the app."""
        return [
            Route("/api/traces/{trace_id}", self.trace_v1, methods=["GET"]),
            Route("/api/v2/traces/{trace_id}", self.trace_v2, methods=["GET"]),
            Route("/api/search", self.search, methods=["GET"]),
            Route("/api/echo", _echo, methods=["GET"]),
            Route("/ready", _ready, methods=["GET"]),
        ]

    def _lookup(self, request: Request) -> list[dict[str, object]] | Response:
        try:
            trace_id = normalise_trace_id(request.path_params["trace_id"])
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        batches = self.store.otlp_json(trace_id)
        if batches is None:
            return PlainTextResponse("trace not found", status_code=404)
        return batches

    async def trace_v1(self, request: Request) -> Response:
        """Tempo v1: ``{"batches": [...]}``."""
        found = self._lookup(request)
        return found if isinstance(found, Response) else JSONResponse({"batches": found})

    async def trace_v2(self, request: Request) -> Response:
        """Tempo v2: ``{"trace": {"resourceSpans": [...]}}``."""
        found = self._lookup(request)
        if isinstance(found, Response):
            return found
        return JSONResponse({"trace": {"resourceSpans": found}})

    async def search(self, request: Request) -> Response:
        """Traces whose root starts in ``[start, end]`` (Unix seconds), most recent first."""
        try:
            query = _parse_search(request)
        except _BadRequest as exc:
            return PlainTextResponse(str(exc), status_code=400)
        candidates = self.store.window(query.start_ns, query.end_ns)
        found = [
            s
            for s in candidates
            if query.matches(s, self.store.services_of(s.trace_id) if query.service else set())
        ][: query.limit]
        return JSONResponse(
            {
                "traces": [s.to_tempo() for s in found],
                "metrics": {"inspectedTraces": len(candidates), "completedJobs": 1, "totalJobs": 1},
            }
        )


def _parse_search(request: Request) -> _SearchQuery:
    params = request.query_params
    query = params.get("q", "").strip()
    if query not in ("", "{}", "{ }"):
        raise _BadRequest("TraceQL queries are not supported by the gameday sink; use tags=")
    try:
        end = float(params.get("end") or time.time())
        start = float(params.get("start") or 0)
        limit = int(params.get("limit") or DEFAULT_SEARCH_LIMIT)
        min_ms = _ms(params.get("minDuration"))
        max_ms = _ms(params.get("maxDuration"))
    except ValueError as exc:
        raise _BadRequest(f"bad search parameter: {exc}") from exc
    return _SearchQuery(
        start_ns=int(start * 1e9),
        end_ns=int(end * 1e9),
        limit=max(0, limit),
        service=_service_tag(params.get("tags", "")),
        min_ms=min_ms,
        max_ms=max_ms,
    )


def _ms(text: str | None) -> float | None:
    return parse_duration(text) * 1000 if text else None


def _service_tag(tags: str) -> str | None:
    # Tempo's tags= is logfmt; the sink understands the one tag a game day needs.
    service = None
    for pair in tags.split():
        key, _, value = pair.partition("=")
        if key not in ("service.name", "resource.service.name"):
            raise _BadRequest(f"unsupported search tag {key!r}; the sink supports service.name")
        service = value.strip('"')
    return service


async def _echo(_: Request) -> Response:
    return PlainTextResponse("echo")


async def _ready(_: Request) -> Response:
    return PlainTextResponse("ready")
