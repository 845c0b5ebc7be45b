"""Network faults on a proxied link, through toxiproxy's HTTP API (real or gameday's own).

Target settings: ``{"toxiproxy": ["http://127.0.0.1:8474", ...], "proxy": "feature_store"}``.
A fault is applied on every listed server and reverted on all of them; if one server refuses,
the servers already done are undone and ``InjectionError`` is raised. Each fault's toxic is
named after the fault (``gameday-<fault_id>-<type>``) so a revert, even from another process
(``gameday recover``), removes exactly what this fault added. Every write carries the fault's
TTL as ``gameday_ttl_s``: gameday's embedded server expires the fault by itself if the runner
dies; a real toxiproxy ignores the key (and does not confirm it on ``GET /version``), so
the runner starts a watchdog process for it (:mod:`gameday.undo.watchdog`).

Whether a fault took effect comes from gameday's counters (``GET /proxies/{p}/stats``): a
toxic's are read on every server just before it is removed (it took effect iff it acted on
some chunk), ``network.down`` reads the proxy's when it disables it (it took effect iff the
link had carried traffic and is confirmed disabled). A server without counters (a real
toxiproxy answers 404) leaves it unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from gameday.errors import InjectionError
from gameday.evidence.model import Effect
from gameday.injectors import _toxiproxy as api
from gameday.injectors.base import (
    REQUIRED,
    Applied,
    FaultContext,
    Injector,
    Param,
    Target,
    validate_params,
)

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
        """Add the toxic on every server (TTL attached); on any failure undo and raise.

        The proxy's byte counters, read once the toxic is on, are the baseline that tells "no
        traffic" from "traffic the toxic did not act on" at revert."""
        toxic = self.toxic(ctx)
        urls, proxy = api.locate(ctx.target)
        api.add_toxic(urls, proxy, toxic, ctx.ttl_s)
        undo = {"toxiproxy": urls, "proxy": proxy, "toxic": toxic["name"]}
        stats = [_link(api.read_stats(url, proxy)) for url in urls]
        evidence = {"toxiproxy": urls, "proxy": proxy, "toxic": toxic, "ttl_s": ctx.ttl_s,
                    "stats_at_apply": stats}  # fmt: skip
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, evidence)

    def undo_for(self, ctx: FaultContext) -> Applied:
        """The toxic is named after the fault id: removing it needs nothing from ``apply``."""
        urls, proxy = api.locate(ctx.target)
        undo = {"toxiproxy": urls, "proxy": proxy, "toxic": self.toxic(ctx)["name"]}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo)

    def enforces_ttl(self, target: Target) -> bool:
        """True when every server of ``target`` says it honours ``gameday_ttl_s``."""
        return api.servers_honour_ttl(target)

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        """Read the toxic's counters on every server, then delete it everywhere; already gone
        (404) is fine; 5xx or no answer raises."""
        urls, proxy, name = applied.undo["toxiproxy"], applied.undo["proxy"], applied.undo["toxic"]
        stats = [_toxic_stats(api.read_stats(url, proxy), name) for url in urls]
        path = api.path("proxies", proxy, "toxics", name)
        failures = api.undo_all([(url, "DELETE " + path, None) for url in urls])
        if failures:
            raise InjectionError(f"revert of {applied.injector} failed: " + "; ".join(failures))
        return {"toxiproxy": urls, "proxy": proxy, "removed": name, "stats_at_revert": stats}

    def effect(self, applied: Applied, reverted: Mapping[str, Any]) -> Effect | None:
        """Took effect iff the toxic acted on some chunk (on any server). No chunk where every
        server counts is no effect; a server without counters leaves it unknown."""
        return _toxic_effect(applied.evidence, reverted)


def _link(stats: Mapping[str, Any]) -> dict[str, Any]:
    """One server's counters as apply records them: the link's, not its toxics'."""
    return {k: v for k, v in stats.items() if k != "toxics"}


def _toxic_stats(stats: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One server's counters as revert records them: the link's and toxic ``name``'s."""
    if "unknown" in stats:
        return dict(stats)
    toxic = (stats.get("toxics") or {}).get(name)
    if not isinstance(toxic, dict):
        why = f"toxic {name!r} was gone before the revert (its counters with it)"
        return {"toxiproxy": stats["toxiproxy"], "unknown": why}
    return {**_link(stats), "toxic": toxic}


def _toxic_effect(applied: Mapping[str, Any], reverted: Mapping[str, Any]) -> Effect:
    """A toxic fault's effect from its apply and revert evidence (see ``effect``)."""
    proxy = str(applied.get("proxy") or reverted.get("proxy"))
    servers = [s for s in reverted.get("stats_at_revert") or [] if isinstance(s, Mapping)]
    known = [s for s in servers if isinstance(s.get("toxic"), Mapping)]
    unknown = [str(s.get("unknown", api.NO_COUNTERS)) for s in servers if "toxic" not in s]
    acted = {k: sum(_int(s["toxic"].get(k)) for s in known) for k in _TOXIC_COUNTS}
    evidence: dict[str, Any] = {**acted, "servers_counted": len(known)}
    if acted["chunks"] > 0:
        detail = (f"the toxic acted on {acted['chunks']} chunk(s), {acted['bytes']} bytes, on "
                  f"{acted['connections']} connection(s) through {proxy}")  # fmt: skip
        return Effect(took_effect=True, detail=detail, evidence=evidence)
    if unknown or not known:
        why = unknown[0] if unknown else api.NO_COUNTERS
        return Effect(took_effect=None, detail=why, evidence=evidence)
    toxic = applied.get("toxic") or {}
    crossed = _crossed(applied.get("stats_at_apply") or [], known, str(toxic.get("stream")))
    if crossed > 0:
        detail = (f"{crossed} bytes crossed {proxy} but the toxic acted on none of them "
                  f"(toxicity {toxic.get('toxicity')})")  # fmt: skip
        return Effect(took_effect=False, detail=detail, evidence={**evidence, "crossed": crossed})
    detail = f"no data crossed {proxy} while the toxic was on"
    return Effect(took_effect=False, detail=detail, evidence=evidence)


_TOXIC_COUNTS = ("chunks", "bytes", "connections")


def _crossed(at_apply: list[Any], at_revert: list[Mapping[str, Any]], stream: str) -> int:
    """Bytes read in the toxic's direction between apply and revert, on servers counted both
    times."""
    before = {s.get("toxiproxy"): s for s in at_apply if isinstance(s, Mapping)}
    total = 0
    for after in at_revert:
        start, end = before.get(after.get("toxiproxy"), {}).get("bytes"), after.get("bytes")
        if isinstance(start, Mapping) and isinstance(end, Mapping):
            total += _int(end.get(stream)) - _int(start.get(stream))
    return total


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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
    enable it. Once disabled, the proxy's counters are read: whether the link had carried
    traffic, and that it is now disabled.
    """

    name = "network.down"
    summary = "Take a proxied link down: connections are refused and live ones closed."
    target_kinds: ClassVar[tuple[str, ...]] = ("proxy",)
    params = ()

    def apply(self, ctx: FaultContext) -> Applied:
        """Disable the proxy everywhere it is enabled (TTL attached); on failure undo and raise."""
        validate_params(self.params, ctx.params)
        urls, proxy = api.locate(ctx.target)
        path = api.path("proxies", proxy)
        disabled: list[str] = []
        for url in urls:
            try:
                if _disable(api.Server(url), path, ctx.ttl_s):
                    disabled.append(url)
            except InjectionError as exc:
                api.raise_apply_failure(
                    exc, api.undo_all([(u, "POST " + path, _ENABLE) for u in disabled])
                )
        undo = {"toxiproxy": urls, "proxy": proxy, "disabled_on": disabled}
        evidence = {
            "toxiproxy": urls,
            "proxy": proxy,
            "enabled": False,
            "disabled_on": disabled,
            "ttl_s": ctx.ttl_s,
            "stats_at_apply": [_link(api.read_stats(url, proxy)) for url in disabled],
        }
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, evidence)

    def undo_for(self, ctx: FaultContext) -> Applied:
        """Without ``apply``'s answer it is unknown where the proxy was enabled before: a
        recovery enables it on every server (back to healthy)."""
        urls, proxy = api.locate(ctx.target)
        undo = {"toxiproxy": urls, "proxy": proxy, "disabled_on": urls}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo)

    def enforces_ttl(self, target: Target) -> bool:
        """True when every server of ``target`` says it honours ``gameday_ttl_s``."""
        return api.servers_honour_ttl(target)

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        """Enable the proxy again where this fault disabled it; a deleted proxy is fine."""
        path = api.path("proxies", applied.undo["proxy"])
        urls = applied.undo["disabled_on"]
        failures = api.undo_all([(url, "POST " + path, _ENABLE) for url in urls])
        if failures:
            raise InjectionError(f"revert of {applied.injector} failed: " + "; ".join(failures))
        return {
            "toxiproxy": applied.undo["toxiproxy"],
            "proxy": applied.undo["proxy"],
            "enabled_on": urls,
        }

    def effect(self, applied: Applied, reverted: Mapping[str, Any]) -> Effect | None:
        """Took effect iff the link had carried traffic before and is confirmed disabled;
        already disabled everywhere, still enabled, or never used is no effect; a server
        without counters leaves it unknown."""
        return _down_effect(applied.evidence)


def _down_effect(applied: Mapping[str, Any]) -> Effect:
    """``network.down``'s effect from its apply evidence (see ``DownInjector.effect``)."""
    proxy = str(applied.get("proxy"))
    if not applied.get("disabled_on"):
        detail = f"{proxy} was already disabled on every server: the fault changed nothing"
        return Effect(took_effect=False, detail=detail)
    servers = [s for s in applied.get("stats_at_apply") or [] if isinstance(s, Mapping)]
    known = [s for s in servers if isinstance(s.get("bytes"), Mapping)]
    carried = sum(_int(s["bytes"].get(d)) for s in known for d in ("upstream", "downstream"))
    evidence: dict[str, Any] = {"bytes_before": carried, "servers_counted": len(known)}
    still_up = [str(s.get("toxiproxy")) for s in known if s.get("enabled") is not False]
    if still_up:
        detail = f"{proxy} was still enabled on {', '.join(still_up)} after the fault was applied"
        return Effect(took_effect=False, detail=detail, evidence=evidence)
    if carried > 0:
        detail = f"{proxy} confirmed disabled after carrying {carried} bytes"
        return Effect(took_effect=True, detail=detail, evidence=evidence)
    if not known or len(known) < len(servers):
        why = [str(s.get("unknown", api.NO_COUNTERS)) for s in servers if "bytes" not in s]
        return Effect(took_effect=None, detail=(why or [api.NO_COUNTERS])[0], evidence=evidence)
    detail = f"no data had crossed {proxy} before it was taken down: nothing used the link"
    return Effect(took_effect=False, detail=detail, evidence=evidence)


_ENABLE = {"enabled": True}


def _disable(server: api.Server, path: str, ttl_s: float) -> bool:
    """Disable the proxy at ``path``; False if it was already disabled."""
    reply = server.call("GET", path)
    if not reply.ok:
        raise InjectionError(server.describe("GET", path, reply))
    if not reply.json().get("enabled", True):
        return False
    # POST, not PATCH: older toxiproxy 2.x servers only accept POST for updates.
    reply = server.call("POST", path, api.with_ttl({"enabled": False}, ttl_s))
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
