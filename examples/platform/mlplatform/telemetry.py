"""OpenTelemetry and logs for every platform process, with OpenTelemetry's own instrumentation.

- Traces: a ``TracerProvider`` named after the service, exporting OTLP/HTTP to
  ``{otlp}/v1/traces`` when ``--otlp`` is given; FastAPI, requests and redis instrumented by
  their packages; W3C ``traceparent`` is the default propagator, so callers' traces continue.
- Redis client spans carry ``peer.service = "feature-store"``: time spent in Redis is the
  feature store's, not the caller's, when a trace's critical path is read.
- Logs: JSON lines on stderr; a line written inside a span carries its ``trace_id`` and
  ``span_id``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

FEATURE_STORE = "feature-store"
"""``peer.service`` of every Redis client span: the shared online feature store."""

_REDIS_SCOPE = "opentelemetry.instrumentation.redis"


class PeerServiceProcessor(SpanProcessor):
    """Stamps ``peer.service`` on every span the redis instrumentation starts.

    RedisInstrumentor's ``request_hook`` is not called for pipelines (Feast reads and writes
    through pipelines) and its ``response_hook`` not on errors, so a hook would miss exactly
    the spans of a slow or failing Redis; the span's instrumentation scope is known at start.
    """

    def __init__(self, peer: str = FEATURE_STORE):
        self.peer = peer

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        scope = span.instrumentation_scope
        if scope is not None and scope.name.startswith(_REDIS_SCOPE):
            span.set_attribute("peer.service", self.peer)

    def on_end(self, span: ReadableSpan) -> None:
        return None


def setup_tracing(service: str, otlp: str | None) -> TracerProvider:
    """Make the global tracer provider for ``service`` and instrument requests and redis.

    ``otlp`` is the OTLP/HTTP base URL (spans go to ``{otlp}/v1/traces``); None or empty
    records spans (trace ids in logs still work) without exporting them.
    """
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(PeerServiceProcessor())
    if otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp.rstrip("/") + "/v1/traces", timeout=5)
        # A short delay keeps spans close to real time: a game day reads them seconds later.
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=250))
    trace.set_tracer_provider(provider)
    RequestsInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    return provider


def shutdown_tracing() -> None:
    """Flush and stop the global tracer provider (spans still queued are exported)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def trace_ids() -> dict[str, str]:
    """``{"trace_id", "span_id"}`` of the current span as lowercase hex; empty outside one."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, service, message, the current trace ids, and
    whatever was passed as ``extra={"fields": {...}}``."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "event": record.getMessage(),
            **trace_ids(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(service: str, level: str = "info") -> logging.Logger:
    """JSON lines on stderr for this process; the service's logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Feast and uvicorn speak at INFO on every call; their warnings are what matter here.
    for noisy in ("feast", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(service)


def log(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with structured ``fields`` (rendered as JSON keys)."""
    logger.log(level, event, extra={"fields": fields})
