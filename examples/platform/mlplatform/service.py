"""What every platform process serves and how it starts: ``/healthz``, ``/metrics``, one
readiness line.

Each process binds ``--host:--port`` itself (``0`` picks a free port), and once uvicorn
accepts connections prints one JSON line on stdout, ``{"ready": true, "port": N, "pid": P}``,
which a supervisor waits for. After that line stdout is pointed at stderr, so a supervisor
that stops reading stdout can never block the process on a full pipe.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from mlplatform import telemetry

Background = Callable[[], Coroutine[Any, Any, None]]

# Recent FastAPI versions trace requests natively; the OpenTelemetry instrumentation package
# does it here (the same on every version), so the native one is switched off where it exists.
_NO_NATIVE: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)
# Probes and scrapes are not traced: they would bury the requests a game day looks at.
_UNTRACED = "healthz,metrics,models"


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The options every platform process takes; each adds its own."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default 0: a free one)")
    p.add_argument(
        "--otlp", default="", help="OTLP/HTTP base URL; spans are POSTed to URL/v1/traces"
    )
    p.add_argument("--log-level", default="info", help="debug, info, warning or error")
    return p


def create_app(service: str, background: Background | None = None) -> FastAPI:
    """A FastAPI app with ``GET /healthz`` and ``GET /metrics``, traced by the FastAPI
    instrumentation; ``background`` runs as a task for the app's lifetime (a main loop)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(background()) if background else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title=service, docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan,
        **_NO_NATIVE,
    )  # fmt: skip

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": service}

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(REGISTRY), media_type=content_type)

    # The ASGI send/receive spans only repeat the server span's timing.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=_UNTRACED, exclude_spans=["receive", "send"]
    )
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``0``: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def announce(port: int) -> None:
    """Print the readiness line, then send anything later printed on stdout to stderr."""
    sys.stdout.write(json.dumps({"ready": True, "port": port, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, announcing readiness once its socket accepts connections."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit and sockets:
            announce(sockets[0].getsockname()[1])


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, restores this handler, then raises the
    # signal again; ending here makes a requested stop exit 0 instead of dying by the signal.
    raise SystemExit(0)


def serve(app: FastAPI, host: str, port: int, on_bound: Callable[[int], None] | None = None) -> int:
    """Serve ``app`` until SIGTERM or SIGINT (exit 0), then flush spans; the exit code.

    ``on_bound`` is called with the port once it is bound, before serving. Returns 2 when the
    address cannot be bound (the reason is on stderr)."""
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    if on_bound is not None:
        on_bound(sock.getsockname()[1])
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2
    )
    try:
        _AnnouncingServer(config).run(sockets=[sock])
    finally:
        telemetry.shutdown_tracing()
        sock.close()
    return 0
