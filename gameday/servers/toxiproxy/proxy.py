"""One proxy: a listener forwarding to an upstream, its toxics, live connections, TTLs and
the counts gameday's stats endpoint shows."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Iterable
from typing import Any

from gameday.servers.api import ApiError
from gameday.servers.toxiproxy.counters import ToxicCounters, stats_json
from gameday.servers.toxiproxy.link import Connection
from gameday.servers.toxiproxy.model import Toxic, join_host_port, split_host_port
from gameday.servers.toxiproxy.toxics import new_counters

DEFAULT_LISTEN = "127.0.0.1:0"


class Proxy:
    """A named listener on ``listen`` that forwards every connection to ``upstream``.

    Toxics are kept in insertion order and reach live connections as soon as they change.
    ``listen`` becomes the concrete bound address once started, so re-enabling a disabled
    proxy binds the same port again. Counts (connections accepted, bytes read each way, each
    toxic's) live as long as the proxy object; a toxic's go with the toxic.
    """

    def __init__(self, name: str, listen: str, upstream: str, loop: asyncio.AbstractEventLoop):
        self.name = name
        self.listen = listen or DEFAULT_LISTEN
        self.upstream = upstream
        self.enabled = False
        self.loop = loop
        self.toxics: dict[str, Toxic] = {}
        self.links: set[Connection] = set()
        self.accepted = 0
        self._carried = [0, 0]  # bytes read (upstream, downstream) by connections that ended
        self._counters: dict[str, ToxicCounters] = {}
        self._server: asyncio.AbstractServer | None = None
        self._reenable: asyncio.TimerHandle | None = None
        self._reenable_token: object | None = None  # the pending TTL re-enable, if any
        self._reenable_task: asyncio.Task[None] | None = None
        self._toxic_ttls: dict[str, asyncio.TimerHandle] = {}

    # --- what the API shows --------------------------------------------------------------
    def toxics_for(self, stream: str) -> Iterable[Toxic]:
        return [t for t in self.toxics.values() if t.stream == stream]

    def toxic_list(self) -> list[Toxic]:
        """Upstream toxics first, then downstream ones, each in insertion order."""
        return [*self.toxics_for("upstream"), *self.toxics_for("downstream")]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.toxic_list()],
        }

    def stats(self) -> dict[str, Any]:
        """``GET /proxies/{name}/stats``: connections accepted, bytes read each way (ended
        and live connections), and each toxic's counters, in the toxics' list order."""
        up, down = self._carried
        for conn in self.links:
            up += conn.client.received
            down += conn.server.received
        toxics = {t.name: self._counters[t.name] for t in self.toxic_list()}
        return stats_json(self.name, self.enabled, self.accepted, (up, down), toxics)

    def toxic_counters(self, name: str) -> ToxicCounters:
        """The counters the stages of toxic ``name`` share."""
        return self._counters[name]

    def retire(self, conn: Connection) -> None:
        """``conn`` ended: it leaves the live links, its byte counts join the totals."""
        if conn in self.links:
            self.links.discard(conn)
            self._carried[0] += conn.client.received
            self._carried[1] += conn.server.received

    # --- listener --------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind ``listen`` and accept connections; ``ApiError`` 500 if binding fails."""
        if self.enabled:
            return
        sock = bind_listener(self.listen)
        loop = self.loop
        try:
            self._server = await loop.create_server(self._accept, sock=sock)
        except OSError as exc:
            sock.close()
            raise ApiError(f"listen tcp {self.listen}: {exc.strerror or exc}", 500) from exc
        self.listen = join_host_port(*sock.getsockname()[:2])
        self.enabled = True

    def _accept(self) -> asyncio.Protocol:
        self.accepted += 1
        return Connection(self, self.loop).client

    def stop(self) -> None:
        """Close the listener (new connections are refused) and every live connection."""
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.links):
            conn.abort()

    def shutdown(self) -> None:
        """Stop, and cancel every pending TTL (the proxy is being deleted or replaced)."""
        self.cancel_reenable()
        for handle in self._toxic_ttls.values():
            handle.cancel()
        self._toxic_ttls.clear()
        self.stop()

    # --- toxics ---------------------------------------------------------------------------
    def add_toxic(self, toxic: Toxic) -> None:
        self.toxics[toxic.name] = toxic
        self._counters[toxic.name] = new_counters(toxic.type)
        for conn in list(self.links):
            conn.pipe(toxic.stream).add_stage(toxic)

    def update_toxic(self, toxic: Toxic) -> None:
        self.toxics[toxic.name] = toxic
        for conn in list(self.links):
            conn.pipe(toxic.stream).update_stage(toxic)

    def remove_toxic(self, name: str) -> None:
        toxic = self.toxics.pop(name)
        self._cancel_toxic_ttl(name)
        for conn in list(self.links):
            conn.pipe(toxic.stream).remove_stage(name)
        del self._counters[name]

    def remove_all_toxics(self) -> None:
        for name in list(self.toxics):
            self.remove_toxic(name)

    # --- gameday's TTL extension ------------------------------------------------------------
    def set_toxic_ttl(self, name: str, ttl_s: float | None) -> None:
        """Remove toxic ``name`` after ``ttl_s`` seconds; None cancels a pending expiry."""
        self._cancel_toxic_ttl(name)
        if ttl_s is not None:
            self._toxic_ttls[name] = self.loop.call_later(ttl_s, self._expire_toxic, name)

    def _cancel_toxic_ttl(self, name: str) -> None:
        handle = self._toxic_ttls.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _expire_toxic(self, name: str) -> None:
        self._toxic_ttls.pop(name, None)
        if name in self.toxics:
            self.remove_toxic(name)

    def schedule_reenable(self, ttl_s: float, lock: asyncio.Lock) -> None:
        """Enable the (disabled) proxy again after ``ttl_s`` seconds, holding ``lock`` to do it."""
        self.cancel_reenable()
        token = self._reenable_token = object()
        self._reenable = self.loop.call_later(ttl_s, self._expire_disable, token, lock)

    def _expire_disable(self, token: object, lock: asyncio.Lock) -> None:
        self._reenable = None
        # Keep a reference: the loop holds tasks only weakly.
        self._reenable_task = self.loop.create_task(self._reenable_now(token, lock))

    def cancel_reenable(self) -> None:
        self._reenable_token = None
        if self._reenable is not None:
            self._reenable.cancel()
            self._reenable = None

    async def _reenable_now(self, token: object, lock: asyncio.Lock) -> None:
        # Under the API's lock, and only if no update cancelled this TTL while we waited.
        async with lock:
            if token is not self._reenable_token:
                return
            self.cancel_reenable()
            try:
                await self.start()
            except ApiError as exc:
                print(f"toxiproxy: cannot re-enable proxy {self.name!r}: {exc}", file=sys.stderr)


def bind_listener(listen: str) -> socket.socket:
    """A non-blocking listening socket on ``host:port``; ``ApiError`` 500 if it cannot bind."""
    try:
        host, port = split_host_port(listen)
        family, kind, proto, _, addr = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, ValueError) as exc:
        raise ApiError(f"listen tcp {listen}: {exc}", 500) from exc
    sock = socket.socket(family, kind, proto)
    try:
        # Like Go's net.Listen: lets a re-enabled proxy take its port back despite TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and not host:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(addr)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        reason = (exc.strerror or str(exc)).lower()
        raise ApiError(f"listen tcp {listen}: bind: {reason}", 500) from exc
    return sock
