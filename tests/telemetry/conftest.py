"""Fixtures for telemetry tests: in-thread sinks, a canned HTTP server, OTLP JSON builders."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gameday.telemetry.server import RunningSink, SinkOptions, running_sink

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def sink() -> Iterator[RunningSink]:
    """A sink with default options, served from a thread of the test process."""
    with running_sink() as running:
        yield running


@pytest.fixture
def make_sink() -> Iterator[Callable[..., RunningSink]]:
    """Start sinks with custom options; all are stopped after the test."""
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> RunningSink:
            return stack.enter_context(running_sink(SinkOptions(**options)))

        yield start


Canned = dict[str, tuple[int, Any]]


@pytest.fixture
def canned_http() -> Iterator[Callable[[Canned], str]]:
    """Serve fixed answers: ``{path_with_query_or_path: (status, json_or_text)}``; returns URL.

    Unknown paths answer 404. Query strings are matched if present in the table, else ignored.
    """
    servers: list[ThreadingHTTPServer] = []

    def serve(table: Canned) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(table))
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def _handler(table: Canned) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = table.get(self.path) or table.get(self.path.split("?")[0]) or (404, "")
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "text/plain" if isinstance(body, str) else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
