"""The server's state: every proxy by name, and the API operations on them.

Each operation takes an already decoded JSON body, validates it in toxiproxy's order and
raises :class:`~gameday.servers.api.ApiError` with toxiproxy's message and status. The
HTTP layer runs one operation at a time (the caller holds :attr:`ProxyCollection.lock`), so
an operation that awaits a bind never interleaves with another.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

from gameday.servers.api import ApiError, bad_body, missing_field
from gameday.servers.toxiproxy.model import (
    PROXY_EXISTS,
    PROXY_NOT_FOUND,
    TOXIC_EXISTS,
    TOXIC_NOT_FOUND,
    Toxic,
    error,
    get_bool,
    get_str,
    get_ttl,
    split_host_port,
)
from gameday.servers.toxiproxy.proxy import DEFAULT_LISTEN, Proxy
from gameday.servers.toxiproxy.toxics import merge_attributes, parse_new_toxic, updated_toxic


@dataclass(frozen=True)
class _ProxySpec:
    name: str
    listen: str
    upstream: str
    enabled: bool
    ttl_s: float | None


class ProxyCollection:
    """Every proxy of one server, by name."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        """The proxy called ``name``, or 404 ``proxy not found``."""
        try:
            return self.proxies[name]
        except KeyError:
            raise error(PROXY_NOT_FOUND) from None

    # --- proxies ------------------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> Proxy:
        """POST /proxies: 400 missing name/upstream, 409 duplicate, 500 bind failure."""
        spec = _proxy_spec(body, "")
        if spec.name in self.proxies:
            raise error(PROXY_EXISTS)
        proxy = await self._build(spec)
        self.proxies[spec.name] = proxy
        return proxy

    async def _build(self, spec: _ProxySpec) -> Proxy:
        proxy = Proxy(spec.name, spec.listen, spec.upstream, self.loop)
        if spec.enabled:
            await proxy.start()
        elif spec.ttl_s is not None:
            proxy.schedule_reenable(spec.ttl_s, self.lock)
        return proxy

    async def update(self, name: str, body: dict[str, Any]) -> Proxy:
        """POST/PATCH /proxies/{name}: omitted fields keep their values.

        A changed listen or upstream restarts the listener; ``enabled`` toggles it (500 if
        binding fails). Any update cancels a pending TTL re-enable; disabling with
        ``gameday_ttl_s`` schedules one.
        """
        proxy = self.get(name)
        listen = get_str(body, "listen", "") or proxy.listen
        upstream = get_str(body, "upstream", "") or proxy.upstream
        enabled = get_bool(body, "enabled", proxy.enabled)
        ttl_s = get_ttl(body)
        proxy.cancel_reenable()
        if listen != proxy.listen or upstream != proxy.upstream:
            proxy.stop()
            proxy.listen, proxy.upstream = listen, upstream
        if enabled:
            await proxy.start()
        else:
            proxy.stop()
            if ttl_s is not None:
                proxy.schedule_reenable(ttl_s, self.lock)
        return proxy

    def delete(self, name: str) -> None:
        """DELETE /proxies/{name}: closes the listener and every connection."""
        self.get(name).shutdown()
        del self.proxies[name]

    async def reset(self) -> None:
        """POST /reset: enable every proxy, remove every toxic."""
        for proxy in list(self.proxies.values()):
            proxy.cancel_reenable()
            await proxy.start()
            proxy.remove_all_toxics()

    def stop_all(self) -> None:
        """Close every listener and connection (server shutdown)."""
        for proxy in self.proxies.values():
            proxy.shutdown()

    # --- populate ---------------------------------------------------------------------------
    async def populate(self, body: Any) -> list[Proxy]:
        """POST /populate: validate all, then create or replace; identical ones are kept.

        "Identical" means the same upstream and listen address (a requested port 0 matches
        any port on the same host). On a bind failure, everything done is rolled back.
        """
        specs = _populate_specs(body)
        kept: dict[str, Proxy] = {}
        todo: list[_ProxySpec] = []
        for spec in specs:
            existing = self.proxies.get(spec.name)
            if existing is not None and _identical(existing, spec):
                kept[spec.name] = existing
            else:
                todo.append(spec)
        built = await self._replace_all(todo)
        return [kept.get(spec.name) or built[spec.name] for spec in specs]

    async def _replace_all(self, specs: list[_ProxySpec]) -> dict[str, Proxy]:
        replaced: list[Proxy] = []
        built: dict[str, Proxy] = {}
        try:
            for spec in specs:
                old = self.proxies.get(spec.name)
                if old is not None and old.enabled:
                    old.stop()  # frees its port: the replacement may want the same one
                    replaced.append(old)
                built[spec.name] = await self._build(spec)
        except ApiError:
            for proxy in built.values():
                proxy.shutdown()
            for old in replaced:
                await _try_start(old)
            raise
        for name, proxy in built.items():
            old = self.proxies.get(name)
            if old is not None:
                old.shutdown()
            self.proxies[name] = proxy
        return built

    # --- toxics ---------------------------------------------------------------------------
    def add_toxic(self, proxy_name: str, body: dict[str, Any]) -> Toxic:
        """POST /proxies/{p}/toxics: defaults, then 400 stream/type, 409 name taken."""
        proxy = self.get(proxy_name)
        toxic = parse_new_toxic(body)
        ttl_s = get_ttl(body)
        if toxic.name in proxy.toxics:
            raise error(TOXIC_EXISTS)
        toxic.attributes = merge_attributes(toxic, body)
        proxy.add_toxic(toxic)
        proxy.set_toxic_ttl(toxic.name, ttl_s)
        return toxic

    def get_toxic(self, proxy_name: str, name: str) -> Toxic:
        toxic = self.get(proxy_name).toxics.get(name)
        if toxic is None:
            raise error(TOXIC_NOT_FOUND)
        return toxic

    def update_toxic(self, proxy_name: str, name: str, body: dict[str, Any]) -> Toxic:
        """POST/PATCH .../toxics/{t}: merges attributes, sets toxicity if given, resets TTL."""
        proxy = self.get(proxy_name)
        toxic = updated_toxic(self.get_toxic(proxy_name, name), body)
        ttl_s = get_ttl(body)
        proxy.update_toxic(toxic)
        proxy.set_toxic_ttl(name, ttl_s)
        return toxic

    def remove_toxic(self, proxy_name: str, name: str) -> None:
        self.get_toxic(proxy_name, name)
        self.get(proxy_name).remove_toxic(name)


def _proxy_spec(body: dict[str, Any], where: str) -> _ProxySpec:
    name = get_str(body, "name", "")
    listen = get_str(body, "listen", "") or DEFAULT_LISTEN
    upstream = get_str(body, "upstream", "")
    enabled = get_bool(body, "enabled", True)
    ttl_s = get_ttl(body)
    if not name:
        raise missing_field("name" + where)
    if not upstream:
        raise missing_field("upstream" + where)
    return _ProxySpec(name, listen, upstream, enabled, ttl_s)


def _populate_specs(body: Any) -> list[_ProxySpec]:
    if not isinstance(body, list):
        raise bad_body("expected a JSON array of proxies")
    specs: list[_ProxySpec] = []
    for number, item in enumerate(body, start=1):
        if not isinstance(item, dict):
            raise bad_body(f"expected an object at proxy {number}")
        spec = _proxy_spec(item, f" at proxy {number}")
        if any(s.name == spec.name for s in specs):
            raise bad_body(f"duplicate proxy name {spec.name!r} at proxy {number}")
        specs.append(spec)
    return specs


def _identical(proxy: Proxy, spec: _ProxySpec) -> bool:
    return proxy.upstream == spec.upstream and _same_listen(proxy.listen, spec.listen)


def _same_listen(current: str, wanted: str) -> bool:
    if current == wanted:
        return True
    try:
        (host_a, port_a), (host_b, port_b) = split_host_port(current), split_host_port(wanted)
    except ValueError:
        return False
    return port_b in (0, port_a) and _resolve(host_a) == _resolve(host_b)


def _resolve(host: str) -> str:
    try:
        return str(socket.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM)[0][4][0])
    except OSError:
        return host


async def _try_start(proxy: Proxy) -> None:
    try:
        await proxy.start()
    except ApiError:
        proxy.enabled = False
