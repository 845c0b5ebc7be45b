"""Fixtures for external environments: separately started servers, canned answers, fixtures.

What a team's staging offers is played here by processes the tests start themselves, never
by the stack launcher: ``gameday toxiproxy-server`` subprocesses, a Prometheus and an
Alertmanager (in the tests that need them), canned Alertmanager / Prometheus / Jaeger answers
for unit tests, and a minimal ``POST /predict`` endpoint for load tests.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gameday import _procs
from gameday.telemetry.backends import free_port, wait_http_ok

JAEGER_FIXTURE = Path(__file__).parents[1] / "telemetry" / "fixtures" / "jaeger_v3_trace.json"
JAEGER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def toxiproxy_server(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Start ``gameday toxiproxy-server`` processes the way a team runs one; returns its URL.

    Every server started is stopped after the test.
    """
    with contextlib.ExitStack() as stack:

        def start() -> str:
            port = free_port()
            argv = [sys.executable, "-m", "gameday", "toxiproxy-server", "--port", str(port)]
            log = tmp_path / f"toxiproxy-{port}.log"
            child = _procs.start("toxiproxy-server", argv, log_path=log, handshake=False)
            stack.callback(child.stop)
            url = f"http://127.0.0.1:{port}"
            wait_http_ok(f"{url}/version", child, timeout=20)
            return url

        yield start


@pytest.fixture
def jaeger_v3_trace() -> Callable[[str], dict[str, Any]]:
    """Jaeger's ``GET /api/v3/traces/{id}`` answer (tests/telemetry/fixtures), for any trace id:
    a model-server request whose feature-store call failed after 800 ms."""
    text = JAEGER_FIXTURE.read_text()

    def for_trace(trace_id: str) -> dict[str, Any]:
        return dict(json.loads(text.replace(JAEGER_TRACE_ID, trace_id)))

    return for_trace


class _NoDelayServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # Without TCP_NODELAY a stdlib server stalls ~40 ms per response (FACTS.md).
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


class _Predict(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"score": 0.1, "label": 0, "model_version": "test"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def predict_endpoint() -> Iterator[str]:
    """A minimal model server: ``POST /predict`` answers 200 at once. Its base URL."""
    server = _NoDelayServer(("127.0.0.1", 0), _Predict)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
