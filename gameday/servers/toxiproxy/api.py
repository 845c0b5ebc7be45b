"""The HTTP API: toxiproxy's routes over a small HTTP/1.1 server (h11) on the proxies' loop.

Running the API on the same event loop as the data plane means every change to a toxic
reaches live connections without locks or thread hops. Keep-alive and pipelined requests
are answered in order; bodies are JSON; every error body is ``{"error": msg, "status": N}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import h11

from gameday.servers.api import ApiError, decode_body
from gameday.servers.toxiproxy.collection import ProxyCollection
from gameday.servers.toxiproxy.model import TTL_KEY, VERSION, decode_object

_MAX_BODY = 4 << 20
Reply = tuple[int, Any]  # status, JSON payload (None: no body)
Handler = Callable[..., Awaitable[Reply]]


class Api:
    """Routes a request (method, path, body) to a collection operation and shapes the reply."""

    def __init__(self, collection: ProxyCollection):
        self.collection = collection
        # (path pattern, {method: handler}); None in a pattern matches one path segment.
        self.routes: list[tuple[tuple[str | None, ...], dict[str, Handler]]] = [
            (("reset",), {"POST": self.reset}),
            (("proxies",), {"GET": self.list_proxies, "POST": self.create_proxy}),
            (("populate",), {"POST": self.populate}),
            (("version",), {"GET": self.version}),
            (
                ("proxies", None),
                {
                    "GET": self.show_proxy,
                    "POST": self.update_proxy,
                    "PATCH": self.update_proxy,
                    "DELETE": self.delete_proxy,
                },
            ),
            (("proxies", None, "toxics"), {"GET": self.list_toxics, "POST": self.create_toxic}),
            (("proxies", None, "stats"), {"GET": self.proxy_stats}),  # gameday's, not toxiproxy's
            (
                ("proxies", None, "toxics", None),
                {
                    "GET": self.show_toxic,
                    "POST": self.update_toxic,
                    "PATCH": self.update_toxic,
                    "DELETE": self.delete_toxic,
                },
            ),
        ]

    async def handle(self, method: str, target: str, body: bytes, agent: str) -> Reply:
        """The reply to one request; never raises."""
        if agent.startswith("Mozilla/"):
            # As toxiproxy: refuse browsers, so a web page cannot drive the API (CSRF).
            return _error(ApiError("User agent not allowed", 403))
        segments = [unquote(s) for s in urlsplit(target).path.strip("/").split("/")]
        handler, args, allowed = self._route(method, segments)
        if handler is None:
            status = 405 if allowed else 404
            return _error(ApiError("method not allowed" if allowed else "not found", status))
        try:
            async with self.collection.lock:
                return await handler(*args, body=body)
        except ApiError as exc:
            return _error(exc)
        except Exception as exc:  # noqa: BLE001 - a bug must answer 500, not kill the server
            traceback.print_exc(file=sys.stderr)
            return _error(ApiError(f"internal error: {exc}", 500))

    def _route(self, method: str, segments: list[str]) -> tuple[Handler | None, list[str], bool]:
        for pattern, methods in self.routes:
            args = _match(pattern, segments)
            if args is None:
                continue
            if method in methods:
                return methods[method], args, True
            return None, [], True
        return None, [], False

    # --- handlers ---------------------------------------------------------------------------
    async def reset(self, *, body: bytes) -> Reply:
        await self.collection.reset()
        return 204, None

    async def list_proxies(self, *, body: bytes) -> Reply:
        return 200, {name: p.to_json() for name, p in self.collection.proxies.items()}

    async def create_proxy(self, *, body: bytes) -> Reply:
        proxy = await self.collection.create(decode_object(body))
        return 201, proxy.to_json()

    async def populate(self, *, body: bytes) -> Reply:
        proxies = await self.collection.populate(decode_body(body))
        return 201, {"proxies": [p.to_json() for p in proxies]}

    async def version(self, *, body: bytes) -> Reply:
        # The extra key tells gameday's injectors that this server expires TTL'd faults itself
        # (a real toxiproxy-server does not say so, and the runner then starts a watchdog).
        return 200, {"version": VERSION, TTL_KEY: True}

    async def show_proxy(self, name: str, *, body: bytes) -> Reply:
        return 200, self.collection.get(name).to_json()

    async def update_proxy(self, name: str, *, body: bytes) -> Reply:
        self.collection.get(name)  # 404 before 400, as toxiproxy
        proxy = await self.collection.update(name, decode_object(body))
        return 200, proxy.to_json()

    async def delete_proxy(self, name: str, *, body: bytes) -> Reply:
        self.collection.delete(name)
        return 204, None

    async def proxy_stats(self, name: str, *, body: bytes) -> Reply:
        # gameday's extension: a real toxiproxy-server answers 404 here ("no stats").
        return 200, self.collection.get(name).stats()

    async def list_toxics(self, name: str, *, body: bytes) -> Reply:
        return 200, [t.to_json() for t in self.collection.get(name).toxic_list()]

    async def create_toxic(self, name: str, *, body: bytes) -> Reply:
        self.collection.get(name)
        return 200, self.collection.add_toxic(name, decode_object(body)).to_json()

    async def show_toxic(self, name: str, toxic: str, *, body: bytes) -> Reply:
        return 200, self.collection.get_toxic(name, toxic).to_json()

    async def update_toxic(self, name: str, toxic: str, *, body: bytes) -> Reply:
        self.collection.get_toxic(name, toxic)
        return 200, self.collection.update_toxic(name, toxic, decode_object(body)).to_json()

    async def delete_toxic(self, name: str, toxic: str, *, body: bytes) -> Reply:
        self.collection.remove_toxic(name, toxic)
        return 204, None


def _match(pattern: tuple[str | None, ...], segments: list[str]) -> list[str] | None:
    if len(pattern) != len(segments):
        return None
    args: list[str] = []
    for want, got in zip(pattern, segments, strict=True):
        if want is None and got:
            args.append(got)
        elif want != got:
            return None
    return args


def _error(exc: ApiError) -> Reply:
    return exc.status, exc.to_json()


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 client connection: parse with h11, answer requests one at a time."""

    def __init__(self, api: Api, registry: set[HttpProtocol]):
        self.api = api
        self.registry = registry
        self.h11 = h11.Connection(h11.SERVER)
        self.transport: asyncio.Transport | None = None
        self.request: h11.Request | None = None
        self.body = bytearray()
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)
        self.registry.add(self)

    def data_received(self, data: bytes) -> None:
        self.h11.receive_data(data)
        self._drive()

    def eof_received(self) -> bool:
        self.h11.receive_data(b"")
        self._drive()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        # A request being answered runs to completion: its change to the proxies must not be
        # cut in half because the client went away; only the reply is dropped.
        self.registry.discard(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _drive(self) -> None:
        """Consume parsed events until a request is complete (then answer it) or data runs out."""
        while self.task is None and self.transport is not None:
            try:
                event = self._next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    return
                if isinstance(event, h11.ConnectionClosed):
                    self.close()
                    return
                self._on_event(event)
            except h11.RemoteProtocolError as exc:
                self._send_error_and_close(exc)
                return

    def _next_event(self) -> Any:
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        return self.h11.next_event()

    def _on_event(self, event: Any) -> None:
        if isinstance(event, h11.Request):
            self.request, self.body = event, bytearray()
            if self.h11.they_are_waiting_for_100_continue:
                self._send(h11.InformationalResponse(status_code=100, headers=[]))
        elif isinstance(event, h11.Data):
            self.body += event.data
            if len(self.body) > _MAX_BODY:
                raise h11.RemoteProtocolError("request body too large", error_status_hint=413)
        elif isinstance(event, h11.EndOfMessage):
            self.task = asyncio.get_running_loop().create_task(self._answer())

    async def _answer(self) -> None:
        request = self.request
        assert request is not None
        agent = _header(request, b"user-agent")
        method, target = request.method.decode("ascii"), request.target.decode("latin-1")
        status, payload = await self.api.handle(method, target, bytes(self.body), agent)
        self._respond(status, payload, head=method == "HEAD")
        self.task = None
        if self.h11.our_state is h11.MUST_CLOSE:
            self.close()
        else:
            self._drive()

    def _respond(self, status: int, payload: Any, head: bool = False) -> None:
        if payload is None:
            self._send(h11.Response(status_code=status, headers=[]))
        else:
            data = json.dumps(payload).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
            self._send(h11.Response(status_code=status, headers=headers))
            if not head:
                self._send(h11.Data(data=data))
        self._send(h11.EndOfMessage())

    def _send(self, event: Any) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.h11.send(event))

    def _send_error_and_close(self, exc: h11.RemoteProtocolError) -> None:
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            status = exc.error_status_hint
            with contextlib.suppress(h11.LocalProtocolError):
                self._respond(status, ApiError(f"bad request: {exc}", status).to_json())
        self.close()


def _header(request: h11.Request, name: bytes) -> str:
    for key, value in request.headers:
        if key == name:
            return value.decode("latin-1")
    return ""
