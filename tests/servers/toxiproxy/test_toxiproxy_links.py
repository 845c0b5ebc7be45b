"""Live connections: toxics changing under them, ends of stream, flow control, TTL expiry."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from gameday.servers.toxiproxy.link import _HOLD_HIGH, _WRITE_HIGH
from gameday.servers.toxiproxy.testing import (
    connect,
    holds_for,
    recv_exactly,
    recv_until_eof,
    round_trip,
    tcp_server,
    wait_until,
)


def _port(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def test_disabling_closes_live_connections_and_refuses_new_ones(api, proxy):
    with connect(proxy.port) as sock:
        round_trip(sock)
        api.post("/proxies/echo", json={"enabled": False})
        assert sock.recv(10) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(proxy.port)


def test_toxic_reaches_a_live_connection_as_soon_as_added(api, proxy):
    with connect(proxy.port) as sock:
        assert round_trip(sock) < 0.05
        api.add_toxic("echo", type="latency", attributes={"latency": 150})
        assert round_trip(sock) >= 0.149


def test_toxic_update_reaches_a_live_connection(api, proxy):
    api.add_toxic("echo", type="latency", attributes={"latency": 10})
    with connect(proxy.port) as sock:
        assert round_trip(sock) < 0.1
        api.patch("/proxies/echo/toxics/latency_downstream", json={"attributes": {"latency": 150}})
        assert round_trip(sock) >= 0.149


def test_removing_a_toxic_flushes_the_data_it_holds(api, toxi, proxy):
    api.add_toxic("echo", type="latency", attributes={"latency": 5000})
    with connect(proxy.port) as sock:
        sock.sendall(b"held")
        wait_until(lambda: _held(toxi, "echo") > 0)
        start = time.perf_counter()
        api.delete("/proxies/echo/toxics/latency_downstream")
        assert recv_exactly(sock, 4) == b"held"
        assert time.perf_counter() - start < 1.0
        assert round_trip(sock) < 0.1


def _links(toxi, name: str) -> set:
    """The live connections of proxy ``name`` (peeks at the server's state)."""
    return toxi.server.collection.proxies[name].links


def _established(toxi, name: str) -> bool:
    """Some connection of proxy ``name`` has its upstream connected."""
    return any(conn.up.ready for conn in list(_links(toxi, name)))


def _held(toxi, name: str) -> int:
    """Bytes held by the proxy's toxics right now."""
    return sum(conn.down.held + conn.up.held for conn in list(_links(toxi, name)))


def test_removing_a_timeout_closes_the_connections_it_held(api, toxi, proxy):
    api.add_toxic("echo", type="timeout", attributes={"timeout": 0})
    with connect(proxy.port) as sock:
        sock.sendall(b"dropped")
        wait_until(lambda: _established(toxi, "echo"))
        api.delete("/proxies/echo/toxics/timeout_downstream")
        assert recv_until_eof(sock) == b""


def test_removing_a_timeout_that_did_not_apply_leaves_the_connection_open(api, proxy):
    api.add_toxic("echo", type="timeout", toxicity=0.0, attributes={"timeout": 0})
    with connect(proxy.port) as sock:
        round_trip(sock)
        api.delete("/proxies/echo/toxics/timeout_downstream")
        round_trip(sock)


def test_client_eof_closes_both_sides(api):
    seen: list[bytes] = []
    with tcp_server(lambda conn: seen.append(recv_until_eof(conn))) as server:
        listen = api.post("/proxies", json={"name": "r", "upstream": server.address}).json()[
            "listen"
        ]
        with connect(_port(listen)) as sock:
            sock.sendall(b"early bytes")  # sent before the proxy has dialled the upstream
            sock.shutdown(socket.SHUT_WR)
            assert recv_until_eof(sock) == b""
        wait_until(lambda: seen)
    assert seen == [b"early bytes"]


def test_upstream_close_reaches_the_client_after_its_data(api):
    with tcp_server(lambda conn: conn.sendall(b"x" * 100_000)) as server:
        listen = api.post("/proxies", json={"name": "r", "upstream": server.address}).json()[
            "listen"
        ]
        api.add_toxic("r", type="latency", attributes={"latency": 50})
        with connect(_port(listen)) as sock:
            assert recv_until_eof(sock) == b"x" * 100_000


def test_failed_dial_gives_the_client_eof(api):
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        dead = f"127.0.0.1:{placeholder.getsockname()[1]}"
    listen = api.post("/proxies", json={"name": "d", "upstream": dead}).json()["listen"]
    with connect(_port(listen)) as sock:
        assert recv_until_eof(sock) == b""


def test_connections_are_forgotten_when_they_end(toxi, proxy):
    for _ in range(3):
        with connect(proxy.port) as sock:
            round_trip(sock)
    wait_until(lambda: not _links(toxi, "echo"))


def test_a_stalled_upstream_bounds_buffering_and_pauses_the_client(api, toxi):
    """With a toxic holding data and an upstream that does not read, the proxy stops reading."""
    release = threading.Event()
    received: list[int] = []

    def stalled(conn: socket.socket) -> None:
        release.wait(20)
        received.append(len(recv_until_eof(conn)))

    with tcp_server(stalled) as server:
        listen = api.post("/proxies", json={"name": "s", "upstream": server.address}).json()[
            "listen"
        ]
        api.add_toxic("s", type="latency", stream="upstream", attributes={"latency": 20})
        with connect(_port(listen)) as sock:
            sent = _send_until_blocked(sock, limit=256 << 20)
            conn = next(iter(_links(toxi, "s")))
            buffered = conn.up.held + conn.server.transport.get_write_buffer_size()
            assert buffered <= _HOLD_HIGH + _WRITE_HIGH + (512 << 10)  # + one read or so
            assert sent < 256 << 20
            release.set()
            sock.shutdown(socket.SHUT_WR)
            wait_until(lambda: received, timeout=20)
    assert received == [sent]


def _send_until_blocked(sock: socket.socket, limit: int) -> int:
    """Send until the socket stays unwritable for 0.5 s (or ``limit`` bytes); bytes sent."""
    block = b"z" * (1 << 16)
    sock.setblocking(False)
    sent, stalled_since = 0, None
    try:
        while sent < limit:
            try:
                sent += sock.send(block)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 0.5:
                    break
                time.sleep(0.005)
    finally:
        sock.setblocking(True)
    return sent


# --- gameday's TTL extension ------------------------------------------------------------------


def test_toxic_with_ttl_removes_itself(api, proxy):
    api.add_toxic("echo", type="latency", attributes={"latency": 200}, gameday_ttl_s=0.6)
    with connect(proxy.port) as sock:
        assert round_trip(sock) >= 0.199
        wait_until(lambda: api.get("/proxies/echo/toxics").json() == [])
        assert round_trip(sock) < 0.1


def test_toxic_update_without_ttl_cancels_the_expiry(api, proxy):
    api.add_toxic("echo", type="latency", gameday_ttl_s=0.2)
    api.patch("/proxies/echo/toxics/latency_downstream", json={"attributes": {"latency": 1}})
    assert holds_for(lambda: api.get("/proxies/echo/toxics").json() != [], 0.5)


def test_toxic_deleted_before_its_ttl_stays_deleted(api, proxy):
    api.add_toxic("echo", type="latency", gameday_ttl_s=0.2)
    api.delete("/proxies/echo/toxics/latency_downstream")
    api.add_toxic("echo", type="latency")  # same name, no TTL: must survive the old expiry
    assert holds_for(lambda: api.get("/proxies/echo/toxics").json() != [], 0.5)


def test_proxy_disabled_with_ttl_enables_itself_on_the_same_port(api, proxy):
    api.post("/proxies/echo", json={"enabled": False, "gameday_ttl_s": 0.3})
    with pytest.raises(ConnectionRefusedError):
        connect(proxy.port)
    wait_until(lambda: api.get("/proxies/echo").json()["enabled"])
    with connect(proxy.port) as sock:
        round_trip(sock)


def test_proxy_update_without_ttl_cancels_the_re_enable(api, proxy):
    api.post("/proxies/echo", json={"enabled": False, "gameday_ttl_s": 0.2})
    api.patch("/proxies/echo", json={"enabled": False})
    assert holds_for(lambda: not api.get("/proxies/echo").json()["enabled"], 0.5)


def test_proxy_created_disabled_with_ttl_enables_itself(api, upstream):
    body = {"name": "late", "upstream": upstream.address, "enabled": False, "gameday_ttl_s": 0.2}
    assert api.post("/proxies", json=body).status_code == 201
    wait_until(lambda: api.get("/proxies/late").json()["enabled"])
