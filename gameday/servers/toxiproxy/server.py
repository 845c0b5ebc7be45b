"""Running the embedded server: as a process (``main``) or in a background thread (tests).

The HTTP API and every proxy share one asyncio event loop (uvloop when importable), so the
process needs no locks and toxics reach live connections immediately.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from gameday._serve import announce, bind
from gameday.servers.toxiproxy.api import Api, HttpProtocol
from gameday.servers.toxiproxy.collection import ProxyCollection
from gameday.servers.toxiproxy.model import join_host_port

try:  # uvloop roughly halves the per-chunk cost of the data plane
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
    uvloop = None  # type: ignore[assignment]


class ToxiproxyServer:
    """The toxiproxy-compatible server: HTTP API on ``host:port`` plus every proxy.

    Create it inside the event loop that will run it; ``start`` binds the API (``port`` 0
    picks a free port) and returns the bound port; ``close`` stops the API, every listener
    and every connection.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8474):
        self.host = host
        self.port = port
        self.loop = asyncio.get_running_loop()
        self.collection = ProxyCollection(self.loop)
        self.api = Api(self.collection)
        self._clients: set[HttpProtocol] = set()
        self._http: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        """The API's base URL, e.g. ``http://127.0.0.1:8474``."""
        return "http://" + join_host_port(self.host, self.port)

    async def start(self) -> int:
        """Bind and serve the API; raises ``OSError`` if the address is taken."""
        sock = bind(self.host, self.port)
        sock.setblocking(False)
        self._http = await self.loop.create_server(
            lambda: HttpProtocol(self.api, self._clients), sock=sock
        )
        self.port = sock.getsockname()[1]
        return self.port

    async def close(self) -> None:
        """Stop accepting API requests, close every API client, proxy and connection."""
        if self._http is not None:
            self._http.close()
            self._http = None
        for client in list(self._clients):
            client.close()
        self.collection.stop_all()
        await asyncio.sleep(0)  # let transports deliver connection_lost


# --- as a process ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT/SIGTERM; returns the exit code (0, or 1 if it cannot bind).

    ``--announce`` prints gameday's readiness line (``{"ready": true, "port": N, ...}``) once
    the API accepts connections, for launchers that start it with ``--port 0``.
    """
    parser = argparse.ArgumentParser(
        prog="gameday toxiproxy-server", description="toxiproxy-compatible fault proxy"
    )
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port; 0 picks a free one")
    parser.add_argument("--announce", action="store_true", help="print the readiness line")
    args = parser.parse_args(argv)
    return run(_serve(args.host, args.port, args.announce))


def run(coro: Coroutine[Any, Any, int]) -> int:
    """Run ``coro`` to completion on a fresh event loop (uvloop when available)."""
    if uvloop is not None:
        return uvloop.run(coro)
    return asyncio.run(coro)


async def _serve(host: str, port: int, announce_ready: bool) -> int:
    server = ToxiproxyServer(host, port)
    try:
        port = await server.start()
    except OSError as exc:
        print(f"toxiproxy: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        server.loop.add_signal_handler(sig, stop.set)
    if announce_ready:
        announce(port=port, url=server.url)
    else:
        print(f"toxiproxy: API listening on {server.url}", file=sys.stderr)
    await stop.wait()
    await server.close()
    return 0


# --- in a background thread -------------------------------------------------------------------


@dataclass
class RunningServer:
    """A server running in a background thread: its API URL, and its loop for inspection."""

    url: str
    host: str
    port: int
    loop: asyncio.AbstractEventLoop
    server: ToxiproxyServer
    _stop: asyncio.Event = field(repr=False)

    def stop(self) -> None:
        """Ask the server to shut down (the context manager waits for it)."""
        self.loop.call_soon_threadsafe(self._stop.set)


@contextlib.contextmanager
def running_server(
    host: str = "127.0.0.1", port: int = 0, *, timeout: float = 10.0
) -> Iterator[RunningServer]:
    """Run a server in a daemon thread for the ``with`` block; yields its :class:`RunningServer`.

    Raises ``OSError`` if it cannot bind and ``TimeoutError`` if it is not up in ``timeout`` s.
    """
    ready: list[RunningServer | BaseException] = []
    started = threading.Event()
    thread = threading.Thread(
        target=_thread_main, args=(host, port, ready, started), name="toxiproxy", daemon=True
    )
    thread.start()
    if not started.wait(timeout):
        raise TimeoutError(f"toxiproxy server not up after {timeout:g} s")
    handle = ready[0]
    if isinstance(handle, BaseException):
        raise handle
    try:
        yield handle
    finally:
        handle.stop()
        thread.join(timeout)


def _thread_main(
    host: str, port: int, ready: list[RunningServer | BaseException], started: threading.Event
) -> None:
    async def serve() -> int:
        server = ToxiproxyServer(host, port)
        try:
            await server.start()
        except OSError as exc:
            ready.append(exc)
            started.set()
            return 1
        stop = asyncio.Event()
        ready.append(RunningServer(server.url, host, server.port, server.loop, server, stop))
        started.set()
        await stop.wait()
        await server.close()
        return 0

    loop = uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()
    try:
        loop.run_until_complete(serve())
    finally:
        loop.close()
