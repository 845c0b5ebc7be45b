"""The telemetry sink: one ASGI app that takes spans and alert notifications and answers queries.

Routes: ``POST /v1/traces`` (OTLP/HTTP), the Tempo query API (see
:mod:`gameday.servers.sink.tempo_api`), ``POST /alertmanager/{receiver}`` (Alertmanager webhook),
``GET /api/notifications?since=&receiver=``, ``GET /api/stats``, ``GET /metrics`` (Prometheus
text), ``GET /healthz``.

With a token, every request except ``/healthz``, ``/ready`` and ``/api/echo`` must carry
``Authorization: Bearer <token>`` (401 otherwise). Without one, the sink only binds loopback.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gameday._serve import bind, serve_asgi
from gameday.errors import StackUnavailable
from gameday.servers.sink.receiver import BodyTooLarge, OtlpReceiver, ReceiverLimits, read_body
from gameday.servers.sink.store import DEFAULT_MAX_SPANS, TraceStore
from gameday.servers.sink.tempo_api import TempoApi
from gameday.servers.threaded import wait_started
from gameday.telemetry.notifications import NotificationStore, parse_webhook

TOKEN_ENV = "GAMEDAY_SINK_TOKEN"  # noqa: S105 - the variable name, not a secret
_OPEN_PATHS = frozenset({"/healthz", "/ready", "/api/echo"})
_MAX_WEBHOOK_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class SinkOptions:
    """Everything the sink can be configured with (defaults suit one machine)."""

    max_spans: int = DEFAULT_MAX_SPANS
    max_notifications: int = 10_000
    token: str | None = None
    limits: ReceiverLimits = field(default_factory=ReceiverLimits)


class _BearerAuth:
    """ASGI middleware: 401 unless ``Authorization: Bearer <token>`` (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"error": "missing or wrong bearer token"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="gameday"'},
        )
        await response(scope, receive, send)


class _Sink:
    """The endpoints that are not OTLP or Tempo: webhook, notifications, health, metrics."""

    def __init__(
        self, traces: TraceStore, notifications: NotificationStore, receiver: OtlpReceiver
    ):
        self.traces = traces
        self.notifications = notifications
        self.receiver = receiver
        self.started = time.time()

    async def webhook(self, request: Request) -> Response:
        received_at = time.time()
        try:
            payload = json.loads(await read_body(request, _MAX_WEBHOOK_BYTES))
            notification = parse_webhook(payload, request.path_params["receiver"], received_at)
        except BodyTooLarge:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        except ValueError as exc:  # includes JSON and UTF-8 decoding errors
            return JSONResponse({"error": f"not an Alertmanager webhook payload: {exc}"}, 400)
        self.notifications.add(notification)
        return JSONResponse({"status": "ok", "alerts": len(notification.alerts)})

    async def list_notifications(self, request: Request) -> Response:
        try:
            since = (
                float(request.query_params["since"]) if "since" in request.query_params else None
            )
        except ValueError:
            return JSONResponse({"error": "since must be Unix seconds"}, status_code=400)
        found = self.notifications.since(since, request.query_params.get("receiver"))
        return JSONResponse({"notifications": [n.to_json() for n in found]})

    def stats(self) -> dict[str, Any]:
        return {
            "traces": asdict(self.traces.stats()),
            "notifications": {
                "stored": len(self.notifications),
                "received": self.notifications.received,
            },
            "refused_requests": {str(k): v for k, v in sorted(self.receiver.refused.items())},
            "uptime_s": round(time.time() - self.started, 3),
        }

    async def stats_endpoint(self, _: Request) -> Response:
        return JSONResponse(self.stats())

    async def healthz(self, _: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics(self, _: Request) -> Response:
        return PlainTextResponse(self._exposition(), media_type="text/plain; version=0.0.4")

    def _exposition(self) -> str:
        traces = self.traces.stats()
        counters = {
            "gameday_sink_spans_received_total": traces.received,
            "gameday_sink_spans_rejected_total": traces.rejected,
            "gameday_sink_spans_evicted_total": traces.evicted,
            "gameday_sink_notifications_received_total": self.notifications.received,
        }
        gauges = {
            "gameday_sink_spans_stored": traces.spans,
            "gameday_sink_traces_stored": traces.traces,
        }
        lines = [f"# TYPE {name} counter\n{name} {value}" for name, value in counters.items()]
        lines += [f"# TYPE {name} gauge\n{name} {value}" for name, value in gauges.items()]
        return "\n".join(lines) + "\n"

    def routes(self) -> list[Route]:
        return [
            Route("/v1/traces", self.receiver.handle, methods=["POST"]),
            Route("/alertmanager/{receiver}", self.webhook, methods=["POST"]),
            Route("/api/notifications", self.list_notifications, methods=["GET"]),
            Route("/api/stats", self.stats_endpoint, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
        ]


def create_app(
    options: SinkOptions | None = None,
    *,
    traces: TraceStore | None = None,
    notifications: NotificationStore | None = None,
) -> Starlette:
    """The sink's ASGI app; pass stores to share them with the caller (e.g. in tests)."""
    options = options or SinkOptions()
    traces = traces if traces is not None else TraceStore(options.max_spans)
    notifications = notifications or NotificationStore(options.max_notifications)
    sink = _Sink(traces, notifications, OtlpReceiver(traces, options.limits))
    middleware = [Middleware(_BearerAuth, token=options.token)] if options.token else []
    app = Starlette(routes=sink.routes() + TempoApi(traces).routes(), middleware=middleware)
    app.state.traces = traces
    app.state.notifications = notifications
    return app


def check_exposure(host: str, token: str | None) -> None:
    """Refuse (``StackUnavailable``) to serve beyond loopback without a token."""
    if token or _is_loopback(host):
        return
    raise StackUnavailable(
        f"refusing to serve the telemetry sink on non-loopback host {host!r} without a token: "
        f"anyone who can reach it could read traces and forge alert notifications; "
        f"pass --token or set {TOKEN_ENV}, or bind 127.0.0.1"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(host: str = "127.0.0.1", port: int = 0, options: SinkOptions | None = None) -> None:
    """Serve the sink until SIGINT/SIGTERM, printing the readiness line once it accepts."""
    options = options or SinkOptions()
    check_exposure(host, options.token)
    sock = bind(host, port)
    serve_asgi(create_app(options), sock, service="telemetry", auth=bool(options.token))


@dataclass(frozen=True)
class RunningSink:
    """A sink served from a thread of this process: its URL and its live stores."""

    url: str
    traces: TraceStore
    notifications: NotificationStore


@contextlib.contextmanager
def running_sink(
    options: SinkOptions | None = None, *, timeout: float = 10.0
) -> Iterator[RunningSink]:
    """Serve a sink on 127.0.0.1 from a background thread for the ``with`` block.

    A test helper (like OTel's ``InMemorySpanExporter``): export to ``sink.url + "/v1/traces"``
    and inspect ``sink.traces`` directly. Raises ``StackUnavailable`` if it is not up in time.
    """
    app = create_app(options)
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_started(server, thread, timeout, "telemetry sink thread")
        port = sock.getsockname()[1]
        yield RunningSink(f"http://127.0.0.1:{port}", app.state.traces, app.state.notifications)
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
