"""What every reference-stack service shares: arguments, logs, traces, metrics, health.

One request is joined across the three pillars: its SERVER span continues the caller's W3C
``traceparent``; its JSON log line carries that ``trace_id`` and ``span_id``; its latency
observation carries the trace id as an exemplar.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

import aiohttp
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.exposition import choose_encoder

from gameday._serve import bind, serve_asgi

LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests served, by route and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route (exemplars carry the trace id).",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)

ReadyCheck = Callable[[], Awaitable[str | None]]


class LazySession:
    """An aiohttp client session made on first call: a session belongs to the running event
    loop, which does not exist yet when a service is constructed. ``session()`` to use it,
    ``await session.close()`` at shutdown."""

    def __init__(self, total_s: float, connect_s: float | None = None, limit: int = 100):
        self._timeout = aiohttp.ClientTimeout(total=total_s, connect=connect_s)
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def __call__(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def parser(description: str) -> argparse.ArgumentParser:
    """The arguments every service takes; services add their own."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--otlp", default="", help="OTLP/HTTP base URL (spans go to {otlp}/v1/traces)")
    p.add_argument("--log-level", default="info")
    return p


def setup_logging(service: str, level: str = "info") -> structlog.stdlib.BoundLogger:
    """JSON log lines on stderr, each carrying the current trace_id and span_id."""
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_ids,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    return structlog.get_logger(service=service)


def _add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event["trace_id"] = format(ctx.trace_id, "032x")
        event["span_id"] = format(ctx.span_id, "016x")
    return event


def setup_tracing(service: str, otlp: str) -> trace.Tracer:
    """A tracer exporting over OTLP/HTTP to ``otlp`` (no export when empty)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp:
        exporter = OTLPSpanExporter(endpoint=otlp.rstrip("/") + "/v1/traces", timeout=5)
        # A short delay keeps spans close to real time: verifiers read them seconds later.
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=250))
    trace.set_tracer_provider(provider)
    return trace.get_tracer(service)


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def create_app(
    service: str,
    tracer: trace.Tracer,
    log: Any,
    ready: ReadyCheck | None = None,
    background: Callable[[], Coroutine[Any, Any, None]] | None = None,
    closers: tuple[Callable[[], Awaitable[None]], ...] = (),
) -> FastAPI:
    """A FastAPI app with ``/healthz``, ``/readyz``, ``/metrics`` and per-request telemetry.

    ``background`` runs as a task for the app's lifetime (a service's main loop); ``closers``
    run at shutdown (HTTP client sessions).
    """

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(background()) if background else None
        yield
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for close in closers:
            await close()

    app = FastAPI(
        title=service,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        **_NO_NATIVE,
    )

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        # OpenMetrics when Prometheus asks for it: that is the format that carries exemplars.
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(REGISTRY), media_type=content_type)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": service}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        problem = await ready() if ready else None
        if problem:
            return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.add_middleware(_Telemetry, tracer=tracer, log=log)
    return app


# Recent FastAPI traces requests natively; our middleware does it the same way on every
# FastAPI version (and without per-dependency spans), so the native one is turned off.
_NO_NATIVE: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)
_QUIET_PREFIXES = ("/metrics", "/healthz", "/readyz", "/internal/")


class _Telemetry:
    """Pure ASGI middleware: SERVER span continuing the caller's trace, metrics, one log line."""

    def __init__(self, app: Any, tracer: trace.Tracer, log: Any):
        self.app, self.tracer, self.log = app, tracer, log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_QUIET_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method, start = scope["method"], time.perf_counter()
        parent = propagate.extract(headers)
        with self.tracer.start_as_current_span(
            f"{method} {path}", context=parent, kind=SpanKind.SERVER
        ) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                route = getattr(scope.get("route"), "path", path)
                _finish(span, method, route, status, time.perf_counter() - start, self.log)


def _finish(
    span: trace.Span, method: str, route: str, status: int, elapsed: float, log: Any
) -> None:
    span.update_name(f"{method} {route}")
    span.set_attribute("http.request.method", method)
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
    _observe(method, route, status, elapsed)
    log.info(
        "request", method=method, route=route, status=status, duration_ms=round(elapsed * 1000, 2)
    )


def _observe(method: str, route: str, status: int, elapsed: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    exemplar = {"trace_id": current_trace_id() or ""}
    HTTP_LATENCY.labels(method, route).observe(elapsed, exemplar=exemplar)


def error(status: int, message: str) -> JSONResponse:
    """A JSON error response ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status)


def serve(app: FastAPI, args: argparse.Namespace, **announce: Any) -> None:
    """Bind ``args.host:args.port``, announce readiness, serve until SIGTERM, flush spans."""
    sock = bind(args.host, args.port)
    try:
        serve_asgi(app, sock, **announce)
    finally:
        shutdown_tracing()
