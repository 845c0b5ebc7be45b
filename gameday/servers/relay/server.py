"""Running the relay server: as a process (``main``) or in a background thread (tests).

Start-up order: recover (deliver every batch a killed server held in the state folder), bind,
serve, announce. SIGTERM or SIGINT stops it cleanly: every fault is reverted, held batches
are delivered in order, and a temporary state folder is removed if it holds nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Literal

import uvicorn
from starlette.applications import Starlette

from gameday._serve import bind, serve_asgi
from gameday.servers.relay.api import create_app
from gameday.servers.relay.collection import RelayCollection
from gameday.servers.relay.store import StateInUse
from gameday.servers.threaded import wait_started

DEFAULT_PORT = 8475


def parser(prog: str = "gameday relay-server") -> argparse.ArgumentParser:
    """The server's command line (shared by ``gameday relay-server`` and ``python -m``)."""
    p = argparse.ArgumentParser(prog=prog, description="batch relay: toxiproxy for files")
    p.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="API port; 0 picks a free one")
    p.add_argument(
        "--state",
        metavar="DIR",
        type=Path,
        help="where held batches and kept originals live (default: a fresh temp folder); "
        "a server started on the folder of a killed one first delivers what it held",
    )
    p.add_argument("--announce", action="store_true", help="print the readiness line")
    return p


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, restores this handler, then re-raises
    # the signal; ending here turns that into exit code 0 instead of death by signal.
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; returns 0, or 1 if the API address cannot be bound or
    another server owns the state folder.

    ``--announce`` prints gameday's readiness line (``{"ready": true, "port": N, ...}``) once
    the API accepts connections, for launchers that start it with ``--port 0``.
    """
    args = parser().parse_args(argv)
    try:
        relays = RelayCollection(args.state)
    except (StateInUse, OSError) as exc:
        print(f"relay: {exc}", file=sys.stderr)
        return 1
    delivered = relays.recover()
    if delivered:
        print(f"relay: delivered {delivered} batch(es) held by a previous server", file=sys.stderr)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"relay: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        relays.close()
        return 1
    _serve(relays, sock, args.announce)
    return 0


def _serve(relays: RelayCollection, sock: socket.socket, announce: bool) -> None:
    host = sock.getsockname()[0]
    url = f"http://{f'[{host}]' if ':' in host else host}:{sock.getsockname()[1]}"
    if not announce:
        print(f"relay: API listening on {url}, state in {relays.state}", file=sys.stderr)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    with contextlib.suppress(SystemExit):  # _exit_cleanly: the signal asked for a clean stop
        if announce:
            serve_asgi(create_app(relays), sock, url=url, state=str(relays.state))
        else:
            uvicorn.Server(_config(create_app(relays), lifespan="on")).run(sockets=[sock])


def _config(app: Starlette, lifespan: Literal["on", "off"]) -> uvicorn.Config:
    return uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan=lifespan, timeout_graceful_shutdown=2
    )


# --- in a background thread -------------------------------------------------------------------


@dataclass(frozen=True)
class RunningServer:
    """A relay server serving from a thread of this process: its URL and its relays."""

    url: str
    port: int
    relays: RelayCollection


@contextlib.contextmanager
def running_server(state: Path | None = None, *, timeout: float = 10.0) -> Iterator[RunningServer]:
    """Serve a relay server on 127.0.0.1:0 from a daemon thread for the ``with`` block.

    Recovers ``state`` first, as the process does; on exit every relay is closed (faults
    reverted, held batches delivered). Raises ``StackUnavailable`` if it is not up in time.
    """
    relays = RelayCollection(state)
    relays.recover()
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(_config(create_app(relays, close_on_shutdown=False), "off"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="relay-api", daemon=True
    )
    thread.start()
    try:
        wait_started(server, thread, timeout, "relay server")
        port = sock.getsockname()[1]
        yield RunningServer(f"http://127.0.0.1:{port}", port, relays)
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
        relays.close()
