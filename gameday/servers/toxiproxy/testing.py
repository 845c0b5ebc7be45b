"""Helpers for testing code that goes through a proxy: a real TCP server and polling.

``tcp_server()`` runs a blocking TCP server on ``127.0.0.1:0`` in background threads, one
thread per connection, with a handler of your choice (``echo`` by default)::

    with running_server() as toxi, tcp_server() as upstream:
        requests.post(toxi.url + "/proxies", json={"name": "db", "upstream": upstream.address})
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Handler = Callable[[socket.socket], None]


def echo(conn: socket.socket) -> None:
    """Send every byte received back, until the client closes."""
    with contextlib.suppress(OSError):
        while data := conn.recv(1 << 16):
            conn.sendall(data)


@dataclass
class TcpServer:
    """A running test server: where it listens, and how many connections it accepted."""

    host: str
    port: int
    accepted: int = 0
    _conns: list[socket.socket] = field(default_factory=list, repr=False)

    @property
    def address(self) -> str:
        """``host:port``, the form toxiproxy's ``upstream`` takes."""
        return f"{self.host}:{self.port}"


@contextlib.contextmanager
def tcp_server(handler: Handler = echo) -> Iterator[TcpServer]:
    """Serve ``handler`` (one thread per connection) on 127.0.0.1:0 for the ``with`` block.

    On exit the listener and every accepted connection are closed.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    server = TcpServer("127.0.0.1", listener.getsockname()[1])
    thread = threading.Thread(target=_accept_loop, args=(listener, server, handler), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for conn in list(server._conns):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        thread.join(5)


def _accept_loop(listener: socket.socket, server: TcpServer, handler: Handler) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server.accepted += 1
        server._conns.append(conn)
        threading.Thread(target=_run_handler, args=(handler, conn), daemon=True).start()


def _run_handler(handler: Handler, conn: socket.socket) -> None:
    with contextlib.suppress(OSError), conn:
        handler(conn)


def wait_until(
    predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.01
) -> None:
    """Poll ``predicate`` until it is truthy; ``AssertionError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s")
        time.sleep(interval)


def holds_for(predicate: Callable[[], object], duration: float, interval: float = 0.01) -> bool:
    """True if ``predicate`` stays truthy, checked every ``interval``, for ``duration`` seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(interval)
    return bool(predicate())


def connect(port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    """A TCP_NODELAY client socket to ``host:port`` whose reads time out after ``timeout`` s."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly ``size`` bytes; ``ConnectionError`` if the peer closes first."""
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(size - got, 1 << 20))
        if not chunk:
            raise ConnectionError(f"closed after {got} of {size} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_until_eof(sock: socket.socket) -> bytes:
    """Everything the peer sends until it closes its side."""
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    """Send ``payload`` to an echo peer and read it back; the elapsed seconds."""
    start = time.perf_counter()
    sock.sendall(payload)
    echoed = recv_exactly(sock, len(payload))
    elapsed = time.perf_counter() - start
    if echoed != payload:
        raise AssertionError(f"echo changed the payload: {echoed[:40]!r}...")
    return elapsed
