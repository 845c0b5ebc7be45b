"""What gameday's embedded toxiproxy costs: direct vs proxied, measured side by side in one run.

    python bench/proxy_overhead.py [--rounds N] [--bulk-mib M]

Starts a uvloop echo/bulk server and the embedded toxiproxy server (``python -m
gameday.servers.toxiproxy``) in their own processes, then measures from this process:

* added round-trip latency for a 100 B and a 64 KiB echo (p50, p99), proxied minus direct;
* bulk throughput without toxics (upload and download), as a fraction of direct loopback;
* the toxic path: 100 B echo and bulk download through a ``noop`` toxic on both streams (every
  chunk goes through a stage and its counters), as a fraction of direct;
* injected latency fidelity: a 100 ms latency toxic, measured median of the added delay.

Targets: added p50 <= 100 us per round trip, bulk >= 40 % of direct, latency within +-2 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import struct
import sys
import time
from collections.abc import Callable
from typing import cast

import requests
import uvloop

from gameday import _procs
from gameday._serve import announce

_HEADER = struct.Struct("!Q")


# --- the server process --------------------------------------------------------------------


class _BenchServer(asyncio.Protocol):
    """First byte picks the mode: E echo; U upload (8-byte length, then that many bytes,
    answered with one byte); D download (8-byte length, answered with that many bytes)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.head = b""  # mode byte and length, until complete
        self.left = 0
        self.writable = asyncio.Event()
        self.writable.set()
        self.on_data = self._read_head

    def data_received(self, data: bytes) -> None:
        self.on_data(data)

    def _read_head(self, data: bytes) -> None:
        self.head += data
        if self.head[:1] == b"E":
            self.on_data = self.transport.write
            self.on_data(self.head[1:])
        elif len(self.head) >= 1 + _HEADER.size:
            (self.left,) = _HEADER.unpack(self.head[1 : 1 + _HEADER.size])
            rest = len(self.head) - 1 - _HEADER.size
            if self.head[:1] == b"D":
                asyncio.get_running_loop().create_task(self._send(self.left))
            else:
                self.on_data = self._count
                self._count(b"_" * rest)

    def _count(self, data: bytes) -> None:
        self.left -= len(data)
        if self.left <= 0:
            self.transport.write(b"k")

    async def _send(self, total: int) -> None:
        block = memoryview(b"x" * (1 << 20))
        while total > 0:
            await self.writable.wait()
            n = min(total, len(block))
            self.transport.write(block[:n])
            total -= n

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_BenchServer, "127.0.0.1", 0)
    announce(port=server.sockets[0].getsockname()[1])
    await asyncio.Event().wait()


# --- the measuring client ---------------------------------------------------------------------


def _connect(port: int, mode: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(mode)
    return sock


def _recv_exactly(sock: socket.socket, buf: memoryview) -> None:
    got = 0
    while got < len(buf):
        n = sock.recv_into(buf[got:])
        if not n:
            raise ConnectionError("server closed")
        got += n


def _round_trips(port: int, size: int, count: int) -> list[float]:
    payload = b"p" * size
    back = memoryview(bytearray(size))
    out = []
    with _connect(port, b"E") as sock:
        for _ in range(count):
            t0 = time.perf_counter()
            sock.sendall(payload)
            _recv_exactly(sock, back)
            out.append(time.perf_counter() - t0)
    return out


def _interleaved(ports: dict[str, int], size: int, blocks: int, per_block: int) -> dict[str, list]:
    samples: dict[str, list[float]] = {name: [] for name in ports}
    for port in ports.values():
        _round_trips(port, size, per_block // 5)  # warm up
    for _ in range(blocks):
        for name, port in ports.items():
            samples[name] += _round_trips(port, size, per_block)
    return samples


def _upload(port: int, total: int) -> float:
    block = memoryview(b"u" * (1 << 20))
    with _connect(port, b"U") as sock:
        t0 = time.perf_counter()
        sock.sendall(_HEADER.pack(total))
        left = total
        while left > 0:
            n = min(left, len(block))
            sock.sendall(block[:n])
            left -= n
        _recv_exactly(sock, memoryview(bytearray(1)))
        return total / (time.perf_counter() - t0)


def _download(port: int, total: int) -> float:
    buf = memoryview(bytearray(1 << 20))
    with _connect(port, b"D") as sock:
        t0 = time.perf_counter()
        sock.sendall(_HEADER.pack(total))
        left = total
        while left > 0:
            n = sock.recv_into(buf[: min(left, len(buf))])
            if not n:
                raise ConnectionError("server closed early")
            left -= n
        return total / (time.perf_counter() - t0)


def _bulk(fn: Callable[[int, int], float], ports: dict[str, int], total: int) -> tuple:
    """Median rate of each path and median proxied/direct ratio over 5 back-to-back pairs."""
    rates: dict[str, list[float]] = {name: [] for name in ports}
    for _ in range(5):
        for name, port in ports.items():
            rates[name].append(fn(port, total))
    pairs = zip(rates["proxied"], rates["direct"], strict=True)
    ratio = statistics.median(p / d for p, d in pairs)
    return {name: statistics.median(r) for name, r in rates.items()}, ratio


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _report_rtt(label: str, samples: dict[str, list[float]]) -> float:
    """Print p50/p99 of both paths and what the proxy adds; return the added p50 in us."""
    us = {name: (_pct(s, 0.5) * 1e6, _pct(s, 0.99) * 1e6) for name, s in samples.items()}
    (d50, d99), (p50, p99) = us["direct"], us["proxied"]
    print(
        f"{label:>10} echo  direct p50 {d50:7.1f} us  p99 {d99:7.1f} us"
        f" | proxied p50 {p50:7.1f} us  p99 {p99:7.1f} us"
        f" | added p50 {p50 - d50:6.1f} us  p99 {p99 - d99:6.1f} us  (p50 x{p50 / d50:.2f})"
    )
    return p50 - d50


def _latency_fidelity(api: str, ports: dict[str, int], count: int) -> float:
    base = statistics.median(_round_trips(ports["direct"], 100, 200))
    toxic = {"type": "latency", "stream": "downstream", "attributes": {"latency": 100}}
    requests.post(f"{api}/proxies/bench/toxics", json=toxic, timeout=5).raise_for_status()
    try:
        measured = statistics.median(_round_trips(ports["proxied"], 100, count)) - base
    finally:
        requests.delete(f"{api}/proxies/bench/toxics/latency_downstream", timeout=5)
    return measured * 1000


def _toxic_path(api: str, ports: dict[str, int], args: argparse.Namespace) -> None:
    """The data plane's slow path: every chunk through a (pass-through) stage, both ways."""
    for stream in ("upstream", "downstream"):
        toxic = {"name": f"noop_{stream}", "type": "noop", "stream": stream}
        requests.post(f"{api}/proxies/bench/toxics", json=toxic, timeout=5).raise_for_status()
    try:
        _report_rtt("noop 100 B", _interleaved(ports, 100, 10, args.rounds // 10))
        rate, ratio = _bulk(_download, ports, args.bulk_mib << 20)
        print(
            f"noop download bulk  direct {rate['direct'] / 1e6:8.1f} MB/s | proxied"
            f" {rate['proxied'] / 1e6:8.1f} MB/s | {ratio:.0%} of direct"
        )
    finally:
        for stream in ("upstream", "downstream"):
            requests.delete(f"{api}/proxies/bench/toxics/noop_{stream}", timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5000, help="100 B round trips per path")
    parser.add_argument("--bulk-mib", type=int, default=256, help="MiB per bulk transfer")
    args = parser.parse_args(argv)
    if args.serve:
        uvloop.run(_serve())
        return 0
    echo = _procs.start("bench-echo", [sys.executable, __file__, "--serve"])
    proxy = _procs.start(
        "toxiproxy", _procs.python_module("gameday.servers.toxiproxy", "--port", "0", "--announce")
    )
    try:
        return _measure(args, echo.port, f"http://127.0.0.1:{proxy.port}")
    finally:
        proxy.stop()
        echo.stop()


def _measure(args: argparse.Namespace, echo_port: int, api: str) -> int:
    body = {"name": "bench", "upstream": f"127.0.0.1:{echo_port}", "listen": "127.0.0.1:0"}
    listen = requests.post(f"{api}/proxies", json=body, timeout=5).json()["listen"]
    ports = {"direct": echo_port, "proxied": int(listen.rsplit(":", 1)[1])}
    print(f"echo server 127.0.0.1:{echo_port}, proxy {listen} (API {api})")
    small = _report_rtt("100 B", _interleaved(ports, 100, 10, args.rounds // 10))
    _report_rtt("64 KiB", _interleaved(ports, 64 << 10, 10, max(10, args.rounds // 50)))
    total = args.bulk_mib << 20
    ratios = []
    for label, fn in (("upload", _upload), ("download", _download)):
        rate, ratio = _bulk(fn, ports, total)
        ratios.append(ratio)
        print(
            f"{label:>10} bulk  direct {rate['direct'] / 1e6:8.1f} MB/s | proxied"
            f" {rate['proxied'] / 1e6:8.1f} MB/s | {ratio:.0%} of direct"
        )
    _toxic_path(api, ports, args)
    injected = _latency_fidelity(api, ports, 50)
    print(f" latency toxic 100 ms -> measured median {injected:.2f} ms ({injected - 100:+.2f} ms)")
    met = small <= 100 and min(ratios) >= 0.40 and abs(injected - 100) <= 2
    print(
        "targets (added p50 <= 100 us, bulk >= 40 %, latency +-2 ms):", "met" if met else "NOT met"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
