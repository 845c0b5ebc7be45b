"""Serving side of gameday's own processes: bind first, announce the port, then serve.

Every server gameday starts binds 127.0.0.1 on an ephemeral port itself and prints one JSON
line ``{"ready": true, "port": N, "pid": P}`` on stdout once it accepts connections; the
launcher (:mod:`gameday._procs`) reads that line with a deadline. No port is guessed, so two
runs on one machine never collide.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

import uvicorn


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``0`` picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def announce(**fields: Any) -> None:
    """Print the readiness line the launcher waits for."""
    line = json.dumps({"ready": True, "pid": os.getpid(), **fields})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    # Nobody reads our stdout after this line: send anything printed later to stderr so a
    # full pipe can never block the process.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, announcing readiness once its sockets accept connections."""

    def __init__(self, config: uvicorn.Config, extra: dict[str, Any]):
        super().__init__(config)
        self._extra = extra

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit and sockets:
            announce(port=sockets[0].getsockname()[1], **self._extra)


def serve_asgi(app: Any, sock: socket.socket, **extra: Any) -> None:
    """Serve an ASGI app on an already bound socket until SIGINT/SIGTERM; announce when ready."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    _AnnouncingServer(config, extra).run(sockets=[sock])
