"""Network faults on a proxied link, through toxiproxy's HTTP API (real or gameday's own).

Target settings: ``{"toxiproxy": ["http://127.0.0.1:8474", ...], "proxy": "feature_store"}``.
A fault is applied on every listed server and reverted on all of them; if one server refuses,
the servers already done are undone and ``InjectionError`` is raised. Each fault's toxic is
named after the fault (``gameday-<fault_id>-<type>``) so a revert, even from another process
(``gameday recover``), removes exactly what this fault added. Every write carries the fault's
TTL as ``gameday_ttl_s``: gameday's embedded server expires the fault by itself if the runner
dies; a real toxiproxy ignores the key (and does not confirm it on ``GET /version``), so
the runner starts a watchdog process for it (:mod:`gameday.undo.watchdog`).

Why the HTTP API is called with ``requests`` rather than toxiproxy-python: that client keeps
the server's host and port in class attributes (one server per process, unsafe across
threads), sets no request timeouts (a hung server would hang the run), raises only on
400/404/409 (a 500 would pass as success), and cannot send extra keys such as the TTL. The
tests check toxiproxy-python itself against the embedded server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from gameday.errors import InjectionError
from gameday.injectors.base import (
    REQUIRED,
    Applied,
    FaultContext,
    Injector,
    Param,
    Target,
    validate_params,
)
from gameday.servers.toxiproxy.model import TTL_KEY

_TIMEOUT_S = (3.0, 10.0)  # connect, read
# Toxic names travel in URL paths; toxiproxy routes on the decoded path, so a "/" would break.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_MS_MAX = 3_600_000  # one hour: longer than any game-day fault window

_STREAM = Param(
    "stream",
    str,
    "downstream",
    choices=("upstream", "downstream"),
    doc="downstream: server to client; upstream: client to server",
)
_TOXICITY = Param(
    "toxicity",
    float,
    1.0,
    minimum=0.0,
    maximum=1.0,
    doc="probability that the fault applies to a given connection",
)


def _ms(name: str, default: Any = REQUIRED, doc: str = "") -> Param:
    return Param(name, int, default, minimum=0, maximum=_MS_MAX, doc=doc)


# --- talking to one server ---------------------------------------------------------------------


class _Server:
    """toxiproxy's API on one server: timeouts on every call, transport errors and 5xx raised."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> requests.Response:
        try:
            reply = requests.request(method, self.url + path, json=body, timeout=_TIMEOUT_S)
        except requests.RequestException as exc:
            raise InjectionError(f"toxiproxy {self.url}: {method} {path} failed: {exc}") from exc
        if reply.status_code >= 500:
            raise InjectionError(self.describe(method, path, reply))
        return reply

    def describe(self, method: str, path: str, reply: requests.Response) -> str:
        return (
            f"toxiproxy {self.url}: {method} {path} answered {reply.status_code}: {_reason(reply)}"
        )


def _reason(reply: requests.Response) -> str:
    try:
        return str(reply.json()["error"])
    except (ValueError, KeyError, TypeError):
        return reply.text.strip()[:200] or reply.reason


def _locate(target: Target) -> tuple[list[str], str]:
    """The target's API URLs and proxy name, or ``InjectionError`` saying what is missing."""
    settings = target.settings
    given = settings.get("toxiproxy")
    urls = [given] if isinstance(given, str) else given
    proxy = settings.get("proxy")
    if (
        not isinstance(urls, list)
        or not urls
        or not all(isinstance(u, str) for u in urls)
        or not isinstance(proxy, str)
        or not proxy
    ):
        raise InjectionError(
            f"target {target.name!r}: settings need 'toxiproxy' (a list of API URLs) and "
            f"'proxy' (a proxy name), got {dict(settings)!r}"
        )
    return [str(u) for u in urls], proxy


def _path(*parts: str) -> str:
    return "".join("/" + quote(p, safe="") for p in parts)


def _with_ttl(body: dict[str, Any], ttl_s: float) -> dict[str, Any]:
    return {**body, TTL_KEY: ttl_s} if ttl_s > 0 else body


def _undo_all(undo: list[tuple[str, str, Mapping[str, Any] | None]]) -> list[str]:
    """Run undo calls ``(url, method+path, body)``; 404 counts as done. Returns the failures."""
    failures = []
    for url, call, body in undo:
        method, path = call.split(" ", 1)
        try:
            reply = _Server(url).call(method, path, body)
        except InjectionError as exc:
            failures.append(str(exc))
            continue
        if not reply.ok and reply.status_code != 404:
            failures.append(_Server(url).describe(method, path, reply))
    return failures


def _servers_honour_ttl(target: Target) -> bool:
    """Whether every toxiproxy API of ``target`` confirms the TTL extension on ``GET /version``.

    gameday's embedded server answers ``{"version": ..., "gameday_ttl_s": true}``; a real
    toxiproxy-server ignores the key (and does not say so), as does one that cannot be asked.
    """
    try:
        urls, _ = _locate(target)
    except InjectionError:
        return False
    return all(_honours_ttl(url) for url in urls)


def _honours_ttl(url: str) -> bool:
    try:
        reply = requests.get(url.rstrip("/") + "/version", timeout=(1.0, 2.0))
        return reply.ok and reply.json().get(TTL_KEY) is True
    except (requests.RequestException, ValueError, AttributeError):
        return False


def _raise_apply_failure(exc: InjectionError, rollback_failures: list[str]) -> None:
    if rollback_failures:
        detail = "; ".join(rollback_failures)
        raise InjectionError(
            f"{exc}; undoing it on the other servers also failed: {detail}"
        ) from exc
    raise exc


# --- toxics -----------------------------------------------------------------------------------


class _ToxicInjector(Injector):
    """A fault that adds one toxic to the target proxy on every server, and removes it."""

    target_kinds: ClassVar[tuple[str, ...]] = ("proxy",)
    toxic_type: ClassVar[str]

    def attributes(self, params: Mapping[str, Any]) -> dict[str, int]:
        """The toxic's attributes for validated ``params``; raises ValueError naming a param."""
        raise NotImplementedError

    def toxic(self, ctx: FaultContext) -> dict[str, Any]:
        """The toxic this fault adds, as toxiproxy's JSON (without the TTL)."""
        params = validate_params(self.params, ctx.params)
        return {
            "name": f"gameday-{_UNSAFE.sub('_', ctx.fault_id)}-{self.toxic_type}",
            "type": self.toxic_type,
            "stream": params.get("stream", "downstream"),
            "toxicity": params.get("toxicity", 1.0),
            "attributes": self.attributes(params),
        }

    def apply(self, ctx: FaultContext) -> Applied:
        """Add the toxic on every server (TTL attached); on any failure undo and raise."""
        toxic = self.toxic(ctx)
        urls, proxy = _locate(ctx.target)
        path = _path("proxies", proxy, "toxics")
        done: list[tuple[str, str, Mapping[str, Any] | None]] = []
        for url in urls:
            try:
                _add_toxic(_Server(url), path, _with_ttl(toxic, ctx.ttl_s))
            except InjectionError as exc:
                _raise_apply_failure(exc, _undo_all(done))
            done.append((url, "DELETE " + _path("proxies", proxy, "toxics", toxic["name"]), None))
        undo = {"toxiproxy": urls, "proxy": proxy, "toxic": toxic["name"]}
        evidence = {"toxiproxy": urls, "proxy": proxy, "toxic": toxic, "ttl_s": ctx.ttl_s}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, evidence)

    def undo_for(self, ctx: FaultContext) -> Applied:
        """The toxic is named after the fault id: removing it needs nothing from ``apply``."""
        urls, proxy = _locate(ctx.target)
        undo = {"toxiproxy": urls, "proxy": proxy, "toxic": self.toxic(ctx)["name"]}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo)

    def enforces_ttl(self, target: Target) -> bool:
        """True when every server of ``target`` says it honours ``gameday_ttl_s``."""
        return _servers_honour_ttl(target)

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        """Delete the toxic on every server; already gone (404) is fine; 5xx or no answer raises."""
        urls, proxy, name = applied.undo["toxiproxy"], applied.undo["proxy"], applied.undo["toxic"]
        path = _path("proxies", proxy, "toxics", name)
        failures = _undo_all([(url, "DELETE " + path, None) for url in urls])
        if failures:
            raise InjectionError(f"revert of {applied.injector} failed: " + "; ".join(failures))
        return {"toxiproxy": urls, "proxy": proxy, "removed": name}


def _add_toxic(server: _Server, path: str, body: dict[str, Any]) -> None:
    reply = server.call("POST", path, body)
    if not reply.ok:
        raise InjectionError(server.describe("POST", path, reply))


class LatencyInjector(_ToxicInjector):
    """``network.latency``: every chunk on the link arrives ``latency_ms`` ± ``jitter_ms`` late."""

    name = "network.latency"
    summary = "Delay data on a proxied link by latency_ms ± jitter_ms."
    toxic_type = "latency"
    params = (
        _ms("latency_ms", doc="added delay per chunk, in milliseconds"),
        _ms("jitter_ms", 0, doc="uniform random variation around latency_ms"),
        _STREAM,
        _TOXICITY,
    )

    def attributes(self, params: Mapping[str, Any]) -> dict[str, int]:
        return {"latency": params["latency_ms"], "jitter": params["jitter_ms"]}


class TimeoutInjector(_ToxicInjector):
    """``network.timeout``: data stops; the connection closes after ``timeout_ms`` (0: never)."""

    name = "network.timeout"
    summary = "Drop all data on a proxied link; close connections after timeout_ms (0 = hold)."
    toxic_type = "timeout"
    params = (
        _ms("timeout_ms", doc="close after this long without data; 0 = never"),
        _STREAM,
        _TOXICITY,
    )

    def attributes(self, params: Mapping[str, Any]) -> dict[str, int]:
        return {"timeout": params["timeout_ms"]}


class ResetPeerInjector(_ToxicInjector):
    """``network.reset_peer``: connections are reset (TCP RST) ``timeout_ms`` after data flows."""

    name = "network.reset_peer"
    summary = "Reset connections on a proxied link (connection reset by peer)."
    toxic_type = "reset_peer"
    params = (
        _ms("timeout_ms", 0, doc="delay before the reset, in milliseconds"),
        _STREAM,
        _TOXICITY,
    )

    def attributes(self, params: Mapping[str, Any]) -> dict[str, int]:
        return {"timeout": params["timeout_ms"]}


class BandwidthInjector(_ToxicInjector):
    """``network.bandwidth``: the link carries at most ``rate_kbps`` kilobytes per second."""

    name = "network.bandwidth"
    summary = "Limit a proxied link to rate_kbps KB/s (toxiproxy's rate; 1 KB = 1000 bytes)."
    toxic_type = "bandwidth"
    params = (
        Param(
            "rate_kbps",
            int,
            minimum=0,
            maximum=10_000_000,
            doc="kilobytes (1000 bytes) per second, toxiproxy's bandwidth rate",
        ),
        _STREAM,
        _TOXICITY,
    )

    def attributes(self, params: Mapping[str, Any]) -> dict[str, int]:
        return {"rate": params["rate_kbps"]}


class SlowCloseInjector(_ToxicInjector):
    """``network.slow_close``: the end of a connection is delayed by ``delay_ms``."""

    name = "network.slow_close"
    summary = "Delay the close of connections on a proxied link by delay_ms."
    toxic_type = "slow_close"
    params = (_ms("delay_ms", doc="delay before the close, in milliseconds"), _STREAM, _TOXICITY)

    def attributes(self, params: Mapping[str, Any]) -> dict[str, int]:
        return {"delay": params["delay_ms"]}


class SlicerInjector(_ToxicInjector):
    """``network.slicer``: data is cut into small writes (bytes intact), optionally spaced out."""

    name = "network.slicer"
    summary = "Slice data on a proxied link into small packets, delay_us apart."
    toxic_type = "slicer"
    params = (
        Param("average_size", int, minimum=1, maximum=1 << 20, doc="average slice size, bytes"),
        Param("size_variation", int, 0, minimum=0, maximum=1 << 20, doc="± bytes per slice"),
        Param("delay_us", int, 0, minimum=0, maximum=60_000_000, doc="µs between slices"),
        _STREAM,
        _TOXICITY,
    )

    def attributes(self, params: Mapping[str, Any]) -> dict[str, int]:
        if params["size_variation"] >= params["average_size"]:
            raise ValueError(
                f"size_variation: {params['size_variation']} must be smaller than "
                f"average_size ({params['average_size']})"
            )
        return {
            "average_size": params["average_size"],
            "size_variation": params["size_variation"],
            "delay": params["delay_us"],
        }


class LimitDataInjector(_ToxicInjector):
    """``network.limit_data``: connections close once ``bytes`` bytes have passed."""

    name = "network.limit_data"
    summary = "Close connections on a proxied link after a number of bytes."
    toxic_type = "limit_data"
    params = (
        Param("bytes", int, minimum=0, maximum=1 << 62, doc="bytes forwarded before closing"),
        _STREAM,
        _TOXICITY,
    )

    def attributes(self, params: Mapping[str, Any]) -> dict[str, int]:
        return {"bytes": params["bytes"]}


# --- down ---------------------------------------------------------------------------------------


class DownInjector(Injector):
    """``network.down``: the proxy is disabled (connections refused) on every server.

    A proxy that was already disabled on a server is left alone there, and revert does not
    enable it.
    """

    name = "network.down"
    summary = "Take a proxied link down: connections are refused and live ones closed."
    target_kinds: ClassVar[tuple[str, ...]] = ("proxy",)
    params = ()

    def apply(self, ctx: FaultContext) -> Applied:
        """Disable the proxy everywhere it is enabled (TTL attached); on failure undo and raise."""
        validate_params(self.params, ctx.params)
        urls, proxy = _locate(ctx.target)
        path = _path("proxies", proxy)
        disabled: list[str] = []
        for url in urls:
            try:
                if _disable(_Server(url), path, ctx.ttl_s):
                    disabled.append(url)
            except InjectionError as exc:
                _raise_apply_failure(
                    exc, _undo_all([(u, "POST " + path, _ENABLE) for u in disabled])
                )
        undo = {"toxiproxy": urls, "proxy": proxy, "disabled_on": disabled}
        evidence = {
            "toxiproxy": urls,
            "proxy": proxy,
            "enabled": False,
            "disabled_on": disabled,
            "ttl_s": ctx.ttl_s,
        }
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, evidence)

    def undo_for(self, ctx: FaultContext) -> Applied:
        """Without ``apply``'s answer it is unknown where the proxy was enabled before: a
        recovery enables it on every server (back to healthy)."""
        urls, proxy = _locate(ctx.target)
        undo = {"toxiproxy": urls, "proxy": proxy, "disabled_on": urls}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo)

    def enforces_ttl(self, target: Target) -> bool:
        """True when every server of ``target`` says it honours ``gameday_ttl_s``."""
        return _servers_honour_ttl(target)

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        """Enable the proxy again where this fault disabled it; a deleted proxy is fine."""
        path = _path("proxies", applied.undo["proxy"])
        urls = applied.undo["disabled_on"]
        failures = _undo_all([(url, "POST " + path, _ENABLE) for url in urls])
        if failures:
            raise InjectionError(f"revert of {applied.injector} failed: " + "; ".join(failures))
        return {
            "toxiproxy": applied.undo["toxiproxy"],
            "proxy": applied.undo["proxy"],
            "enabled_on": urls,
        }


_ENABLE = {"enabled": True}


def _disable(server: _Server, path: str, ttl_s: float) -> bool:
    """Disable the proxy at ``path``; False if it was already disabled."""
    reply = server.call("GET", path)
    if not reply.ok:
        raise InjectionError(server.describe("GET", path, reply))
    if not reply.json().get("enabled", True):
        return False
    # POST, not PATCH: older toxiproxy 2.x servers only accept POST for updates.
    reply = server.call("POST", path, _with_ttl({"enabled": False}, ttl_s))
    if not reply.ok:
        raise InjectionError(server.describe("POST", path, reply))
    return True


INJECTORS = (
    LatencyInjector,
    DownInjector,
    TimeoutInjector,
    ResetPeerInjector,
    BandwidthInjector,
    SlowCloseInjector,
    SlicerInjector,
    LimitDataInjector,
)
"""Every network injector, for the registry."""
