"""What an ``http_json`` toxic costs per request: direct vs proxied vs proxied with the toxic.

    python bench/http_toxics.py [--requests N] [--blocks B]

Starts a FastAPI app on uvicorn serving a 10 KB JSON body and the embedded toxiproxy server
(``python -m gameday.servers.toxiproxy``), each in its own process, with two proxies in front
of the app: ``plain`` (no toxic), ``toxic`` (an ``http_json`` toxic, share 1, scaling one
field, so every response is held, decoded, edited and re-serialised) and ``array`` (the same
scaling ``items[*].score``, a field of each of ~250 array elements, so the whole array is
re-encoded: the costly case). From this process, one
keep-alive connection per path sends GET requests one at a time (a raw socket client, so the
client's own cost stays small), the paths interleaved in blocks so drift hits them alike,
and prints p50/p99 per request of each path side by side with what each hop adds.

Target (issue 17): the toxic adds <= 300 us p50 per request over the plain proxied link.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time

import requests

from gameday import _procs
from gameday._serve import bind, serve_asgi

_REQUEST = b"GET /doc HTTP/1.1\r\nHost: bench\r\n\r\n"
_PATHS = {"toxic": "features.merchant_risk", "array": "items[*].score"}
_TARGET_US = 300.0


def _document() -> bytes:
    """A JSON body of about 10 KB: a few features and a list of scored items."""
    doc: dict[str, object] = {
        "features": {"merchant_risk": 0.42, "amount": 129.5, "country": "FR", "hour": 14},
        "model": "fraud-v7",
        "items": [],
    }
    items = doc["items"]
    assert isinstance(items, list)
    while len(json.dumps(doc)) < 10_000:
        n = len(items)
        items.append({"id": n, "score": round(n * 0.0137, 4), "label": f"item-{n:05d}"})
    return json.dumps(doc).encode()


# --- the app process ------------------------------------------------------------------------


def _serve() -> None:
    from fastapi import FastAPI
    from fastapi.responses import Response

    body = _document()
    app = FastAPI()

    @app.get("/doc")
    def doc() -> Response:
        return Response(body, media_type="application/json")

    serve_asgi(app, bind())


# --- the measuring client ---------------------------------------------------------------------


class _Client:
    """One keep-alive HTTP/1.1 connection reading Content-Length framed responses."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.extra = b""

    def get(self) -> bytes:
        self.sock.sendall(_REQUEST)
        data = self.extra
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._recv()
        head, rest = data[:end].lower(), data[end + 4 :]
        length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
        while len(rest) < length:
            rest += self._recv()
        self.extra = rest[length:]
        return rest[:length]

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def _timed(client: _Client, count: int) -> list[float]:
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        client.get()
        out.append(time.perf_counter() - t0)
    return out


def _measure(ports: dict[str, int], blocks: int, per_block: int) -> dict[str, list[float]]:
    clients = {name: _Client(port) for name, port in ports.items()}
    try:
        for client in clients.values():
            _timed(client, max(50, per_block // 5))  # warm up
        samples: dict[str, list[float]] = {name: [] for name in ports}
        for _ in range(blocks):
            for name, client in clients.items():
                samples[name] += _timed(client, per_block)
        return samples
    finally:
        for client in clients.values():
            client.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6


# --- the run ---------------------------------------------------------------------------------


def _setup(api: str, app_port: int) -> dict[str, int]:
    ports = {"direct": app_port}
    for name in ("plain", *_PATHS):
        body = {"name": name, "upstream": f"127.0.0.1:{app_port}", "listen": "127.0.0.1:0"}
        reply = requests.post(f"{api}/proxies", json=body, timeout=5)
        reply.raise_for_status()
        ports[name] = int(reply.json()["listen"].rsplit(":", 1)[1])
    for name, path in _PATHS.items():
        attributes = {"path": path, "action": "scale", "value": 2, "share": 1}
        toxic = {"name": "scale", "type": "http_json", "attributes": attributes}
        requests.post(f"{api}/proxies/{name}/toxics", json=toxic, timeout=5).raise_for_status()
    return ports


def _check_toxics_act(ports: dict[str, int]) -> None:
    """The toxic paths really edit every body (else the figures would mean nothing)."""
    got = {}
    for name in _PATHS:
        client = _Client(ports[name])
        try:
            got[name] = json.loads(client.get())
        finally:
            client.close()
    risk = got["toxic"]["features"]["merchant_risk"]
    score = got["array"]["items"][1]["score"]
    if (risk, score) != (0.84, 0.0274):
        raise SystemExit(f"a toxic did not act: merchant_risk {risk}, items[1].score {score}")


def _report(samples: dict[str, list[float]], api: str) -> bool:
    us = {name: (_pct(s, 0.5), _pct(s, 0.99)) for name, s in samples.items()}
    for name, (p50, p99) in us.items():
        print(f"{name:>8}  p50 {p50:8.1f} us  p99 {p99:8.1f} us  ({len(samples[name])} requests)")
    (d50, d99), (p50, p99) = us["direct"], us["plain"]
    print(f"   proxy adds   p50 {p50 - d50:7.1f} us  p99 {p99 - d99:7.1f} us   (plain vs direct)")
    for name, path in _PATHS.items():
        t50, t99 = us[name]
        print(
            f"   {name} adds   p50 {t50 - p50:7.1f} us  p99 {t99 - p99:7.1f} us   (vs plain;"
            f" x{t50 / p50:.2f} plain, x{t50 / d50:.2f} direct at p50; scale {path})"
        )
        stats = requests.get(f"{api}/proxies/{name}/stats", timeout=5).json()["toxics"]["scale"]
        print(
            f"{'':>16}counted {stats['messages']} messages, {stats['changed']} changed,"
            f" {stats['passed']} passed"
        )
    met = us["toxic"][0] - p50 <= _TARGET_US
    print(f"target (http_json adds <= {_TARGET_US:.0f} us p50):", "met" if met else "NOT met")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=3000, help="requests per path")
    parser.add_argument("--blocks", type=int, default=10, help="interleaved blocks")
    args = parser.parse_args(argv)
    if args.serve:
        _serve()
        return 0
    app = _procs.start("bench-app", [sys.executable, __file__, "--serve"])
    proxy = _procs.start(
        "toxiproxy", _procs.python_module("gameday.servers.toxiproxy", "--port", "0", "--announce")
    )
    try:
        api = f"http://127.0.0.1:{proxy.port}"
        ports = _setup(api, app.port)
        print(f"10 KB JSON body ({len(_document())} B) from FastAPI/uvicorn; API {api}")
        _check_toxics_act(ports)
        samples = _measure(ports, args.blocks, max(1, args.requests // args.blocks))
        _report(samples, api)
        return 0
    finally:
        proxy.stop()
        app.stop()


if __name__ == "__main__":
    sys.exit(main())
