"""Each toxic does what TOXIPROXY.md's table says, measured through a real echo upstream.

Timing assertions use tolerances for a shared 2-core machine: a lower bound that is tight
(a toxic must never be early) and a generous upper bound.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time

import pytest

from gameday.servers.toxiproxy.testing import (
    connect,
    recv_exactly,
    recv_until_eof,
    round_trip,
    tcp_server,
)

MS = 0.001


def _median_rtt(port: int, count: int = 9, payload: bytes = b"ping") -> float:
    with connect(port) as sock:
        round_trip(sock)  # the first one also pays for dialling the upstream
        return statistics.median(round_trip(sock, payload) for _ in range(count))


def test_no_toxic_passes_bytes_intact_both_ways(proxy):
    payload = os.urandom(4 << 20)
    with connect(proxy.port) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        echoed = recv_exactly(sock, len(payload))
        sender.join()
    assert echoed == payload


def test_latency_toxic_delays_each_round_trip_by_the_latency(api, proxy):
    api.add_toxic("echo", type="latency", attributes={"latency": 100})
    median = _median_rtt(proxy.port)
    assert 99 * MS <= median <= 106 * MS, median


def test_latency_is_measured_from_arrival_so_chunks_do_not_accumulate_delay(api, proxy):
    api.add_toxic("echo", type="latency", stream="upstream", attributes={"latency": 100})
    with connect(proxy.port) as sock:
        round_trip(sock)
        sent = []
        for i in range(5):
            sent.append(time.perf_counter())
            sock.sendall(b"%d" % i)
            time.sleep(0.02)  # pacing the sender, not synchronising: chunks must stay separate
        delays = []
        for i in range(5):
            assert recv_exactly(sock, 1) == b"%d" % i
            delays.append(time.perf_counter() - sent[i])
    assert all(99 * MS <= d <= 125 * MS for d in delays), delays


def test_stacked_latencies_add(api, proxy):
    api.add_toxic("echo", name="a", type="latency", attributes={"latency": 40})
    api.add_toxic("echo", name="b", type="latency", attributes={"latency": 40})
    api.add_toxic("echo", name="c", type="latency", stream="upstream", attributes={"latency": 20})
    median = _median_rtt(proxy.port, count=5)
    assert 99 * MS <= median <= 110 * MS, median


def test_jitter_spreads_delays_around_the_latency(api, proxy):
    api.add_toxic("echo", type="latency", attributes={"latency": 50, "jitter": 20})
    with connect(proxy.port) as sock:
        round_trip(sock)
        rtts = [round_trip(sock) for _ in range(20)]
    assert all(29 * MS <= r <= 80 * MS for r in rtts), rtts
    assert max(rtts) - min(rtts) > 5 * MS


def test_jitter_keeps_byte_order(api, proxy):
    api.add_toxic("echo", type="latency", attributes={"latency": 20, "jitter": 19})
    chunks = [b"%04d" % i for i in range(200)]
    with connect(proxy.port) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
        assert recv_exactly(sock, 800) == b"".join(chunks)


def test_bandwidth_toxic_paces_to_the_rate(api, proxy):
    api.add_toxic("echo", type="bandwidth", attributes={"rate": 100})  # 100 KB/s
    payload = os.urandom(50_000)
    with connect(proxy.port) as sock:
        round_trip(sock, b"x")
        start = time.perf_counter()
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
        elapsed = time.perf_counter() - start
    assert 0.45 <= elapsed <= 0.8, elapsed


def test_bandwidth_zero_means_unlimited(api, proxy):
    api.add_toxic("echo", type="bandwidth", attributes={"rate": 0})
    assert _median_rtt(proxy.port, payload=os.urandom(100_000)) < 0.1


def _greet_and_close(conn: socket.socket) -> None:
    conn.sendall(b"bye")


def test_slow_close_delays_the_close_but_not_the_data(api):
    with tcp_server(_greet_and_close) as server:
        listen = api.post("/proxies", json={"name": "s", "upstream": server.address}).json()[
            "listen"
        ]
        api.add_toxic("s", type="slow_close", attributes={"delay": 300})
        with connect(int(listen.rsplit(":", 1)[1])) as sock:
            start = time.perf_counter()
            assert recv_exactly(sock, 3) == b"bye"
            data_at = time.perf_counter() - start
            assert sock.recv(10) == b""
            closed_at = time.perf_counter() - start
    assert data_at < 0.25, data_at
    assert 0.3 <= closed_at <= data_at + 0.8, (data_at, closed_at)
    assert closed_at - data_at >= 0.25, (data_at, closed_at)


def test_without_slow_close_the_close_is_immediate(api):
    with tcp_server(_greet_and_close) as server:
        listen = api.post("/proxies", json={"name": "s", "upstream": server.address}).json()[
            "listen"
        ]
        with connect(int(listen.rsplit(":", 1)[1])) as sock:
            start = time.perf_counter()
            assert recv_until_eof(sock) == b"bye"
            assert time.perf_counter() - start < 0.2


def test_timeout_toxic_drops_data_and_closes_after_the_timeout(api, proxy):
    api.add_toxic("echo", type="timeout", attributes={"timeout": 200})
    with connect(proxy.port) as sock:
        start = time.perf_counter()
        sock.sendall(b"hello")
        assert recv_until_eof(sock) == b""
        elapsed = time.perf_counter() - start
    assert 0.19 <= elapsed <= 0.5, elapsed


def test_timeout_zero_holds_the_connection_open_without_data(api, proxy):
    api.add_toxic("echo", type="timeout", attributes={"timeout": 0})
    with connect(proxy.port, timeout=0.4) as sock:
        sock.sendall(b"hello")
        with pytest.raises(TimeoutError):
            sock.recv(10)


def test_reset_peer_resets_the_connection(api, proxy):
    api.add_toxic("echo", type="reset_peer", attributes={"timeout": 0})
    with connect(proxy.port) as sock:
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)


def test_reset_peer_waits_for_its_timeout_after_data(api, proxy):
    api.add_toxic("echo", type="reset_peer", attributes={"timeout": 200})
    with connect(proxy.port) as sock:
        start = time.perf_counter()
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
        elapsed = time.perf_counter() - start
    assert 0.19 <= elapsed <= 0.5, elapsed


def test_slicer_splits_data_into_small_writes_with_bytes_intact(api, proxy):
    api.add_toxic(
        "echo", type="slicer", attributes={"average_size": 100, "size_variation": 50, "delay": 2000}
    )
    payload = os.urandom(3000)
    reads = []
    with connect(proxy.port) as sock:
        sock.sendall(payload)
        got = 0
        while got < len(payload):
            chunk = sock.recv(65536)
            assert chunk
            reads.append(chunk)
            got += len(chunk)
    assert b"".join(reads) == payload
    assert len(reads) >= 5  # ~30 slices 2 ms apart cannot arrive as one read


def test_slicer_without_delay_keeps_bytes_intact(api, proxy):
    api.add_toxic("echo", type="slicer", attributes={"average_size": 7, "size_variation": 3})
    payload = os.urandom(20_000)
    assert _median_rtt(proxy.port, count=3, payload=payload) < 1.0


def test_limit_data_closes_after_the_byte_count(api, proxy):
    api.add_toxic("echo", type="limit_data", attributes={"bytes": 100})
    with connect(proxy.port) as sock:
        sock.sendall(b"a" * 60)
        assert recv_exactly(sock, 60) == b"a" * 60
        sock.sendall(b"b" * 60)
        assert recv_until_eof(sock) == b"b" * 40


def test_noop_toxic_passes_data(api, proxy):
    api.add_toxic("echo", type="noop")
    assert _median_rtt(proxy.port) < 0.05


def test_toxicity_zero_makes_a_toxic_a_pass_through(api, proxy):
    api.add_toxic("echo", type="latency", toxicity=0.0, attributes={"latency": 500})
    assert _median_rtt(proxy.port) < 0.1


def test_toxicity_is_rolled_per_connection(api, proxy):
    api.add_toxic("echo", type="latency", toxicity=0.5, attributes={"latency": 60})
    slow = 0
    for _ in range(24):
        with connect(proxy.port) as sock:
            slow += round_trip(sock) >= 0.06
    assert 2 <= slow <= 22  # P(outside) ~ 2e-6
