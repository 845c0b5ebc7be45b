"""How a data fault reaches its target, one channel per target kind.

- ``relay``: a fault on a batch relay (``gameday relay-server``): batches are transformed,
  held back or duplicated on their way from the upstream location to the landing one.
- ``proxy``: an ``http_json`` toxic on a proxied HTTP link (gameday's toxiproxy-compatible
  server): a JSON field of requests or responses is nulled, scaled, offset, retyped or set.
- ``batch_source`` (a ``producer`` setting): a fault the producer applies to what it emits,
  through its ``/internal/faults`` API.
- ``service``: a fault a service applies to itself through a control API
  (``{control}/services/{service}/faults``), e.g. a label feed.

Every channel names the fault after its fault id, so ``undo`` needs nothing from ``apply``
(``gameday recover`` can revert from another process), and every one carries the TTL.
A channel's ``apply`` returns the ``undo`` record and the apply evidence; ``revert`` returns
what the fault changed, or ``{"unknown": why}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from gameday.errors import InjectionError
from gameday.injectors import _relay as relay_api
from gameday.injectors import _toxiproxy as proxy_api
from gameday.injectors._control import call, setting
from gameday.injectors.base import FaultContext, Target

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
NOT_HELD = (
    "was gone before the revert (its TTL ran out, or the service restarted): what it changed "
    "is unknown"
)


@dataclass(frozen=True)
class Request:
    """What a data injector asks of a channel: the fault in that channel's own terms."""

    kind: str  # relay fault type, producer/service fault kind, or "http_json"
    attributes: Mapping[str, Any]


class Channel(Protocol):
    """One way to apply, undo and revert a data fault."""

    def apply(self, ctx: FaultContext, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply; ``(undo record, apply evidence)``."""

    def undo(self, ctx: FaultContext) -> dict[str, Any]:
        """The undo record of ``ctx``'s fault, known without apply's answer."""

    def revert(self, undo: Mapping[str, Any]) -> dict[str, Any]:
        """Remove the fault; what it changed, or ``{"unknown": why}``."""

    def enforces_ttl(self, target: Target) -> bool:
        """Whether the target removes the fault by itself at its TTL."""


class RelayChannel:
    """Faults on a batch relay."""

    def apply(self, ctx: FaultContext, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        body = {"name": ctx.fault_id, "type": request.kind, "attributes": dict(request.attributes)}
        answer = relay_api.add_fault(ctx.target, body, ctx.ttl_s)
        undo = self.undo(ctx)
        undo["state"] = relay_api.state_of(str(undo["relay"]))  # for a dead server's batches
        return undo, {"relay_fault": answer}

    def undo(self, ctx: FaultContext) -> dict[str, Any]:
        url, name = relay_api.locate(ctx.target)
        return {"via": "relay", "relay": url, "name": name, "fault": ctx.fault_id}

    def revert(self, undo: Mapping[str, Any]) -> dict[str, Any]:
        """Remove the fault (held batches are delivered first); if the relay server died with
        the run, a new one on its state folder delivers what it held."""
        try:
            gone = relay_api.remove_fault(undo["relay"], undo["name"], undo["fault"])
        except InjectionError:
            if not _refused(undo["relay"]) or not undo.get("state"):
                raise
            return {"unknown": relay_api.release_held(str(undo["state"]))}
        if gone is None:
            return {"unknown": f"fault {undo['fault']} {NOT_HELD}"}
        return gone

    def enforces_ttl(self, target: Target) -> bool:
        return relay_api.honours_ttl(target)


def payload_toxic_name(fault_id: str) -> str:
    """The toxic a payload fault adds: named after the fault, whatever its type."""
    return f"gameday-{_UNSAFE.sub('_', fault_id)}-payload"


def _refused(url: str) -> bool:
    """Whether nothing listens at ``url`` any more (as opposed to a server that answered)."""
    try:
        requests.get(url.rstrip("/") + "/version", timeout=(2.0, 5.0))
    except requests.ConnectionError:
        return True
    except requests.RequestException:
        return False
    return False


class PayloadChannel:
    """An HTTP payload toxic (``http_json``, ``http_status``) on every toxiproxy server of a
    proxied link."""

    def toxic(self, ctx: FaultContext, request: Request) -> dict[str, Any]:
        direction = str(request.attributes.get("direction", "response"))
        return {
            "name": payload_toxic_name(ctx.fault_id),
            "type": request.kind,
            "stream": "downstream" if direction == "response" else "upstream",
            "toxicity": 1.0,
            "attributes": dict(request.attributes),
        }

    def apply(self, ctx: FaultContext, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        toxic = self.toxic(ctx, request)
        urls, proxy = proxy_api.locate(ctx.target)
        proxy_api.add_toxic(urls, proxy, toxic, ctx.ttl_s)
        undo = {"via": "proxy", "toxiproxy": urls, "proxy": proxy, "toxic": toxic["name"]}
        return undo, {"toxiproxy": urls, "proxy": proxy, "toxic": toxic, "ttl_s": ctx.ttl_s}

    def undo(self, ctx: FaultContext) -> dict[str, Any]:
        urls, proxy = proxy_api.locate(ctx.target)
        name = payload_toxic_name(ctx.fault_id)
        return {"via": "proxy", "toxiproxy": urls, "proxy": proxy, "toxic": name}

    def revert(self, undo: Mapping[str, Any]) -> dict[str, Any]:
        urls, proxy, name = undo["toxiproxy"], undo["proxy"], undo["toxic"]
        stats = [proxy_api.read_stats(url, proxy) for url in urls]
        counted = [(s.get("toxics") or {}).get(name) for s in stats if "unknown" not in s]
        path = proxy_api.path("proxies", proxy, "toxics", name)
        failures = proxy_api.undo_all([(url, "DELETE " + path, None) for url in urls])
        if failures:
            raise InjectionError("revert of a payload toxic failed: " + "; ".join(failures))
        toxics = [c for c in counted if isinstance(c, dict)]
        if not toxics:
            return {"unknown": f"no counters for toxic {name} ({proxy_api.NO_COUNTERS})"}
        keys = ("messages", "changed", "passed")
        return {k: sum(int(t.get(k) or 0) for t in toxics) for k in keys}

    def enforces_ttl(self, target: Target) -> bool:
        return proxy_api.servers_honour_ttl(target)


class _ServiceFaults:
    """A faults collection served over HTTP (the producer's, a service's control API)."""

    def url(self, undo: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def apply(self, ctx: FaultContext, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        undo = self.undo(ctx)
        params = {**request.attributes, "seed": ctx.seed}
        body = {"id": ctx.fault_id, "kind": request.kind, "params": params, "ttl_s": ctx.ttl_s}
        answer = call("POST", self.url(undo), body)
        return undo, {"service_fault": answer}

    def undo(self, ctx: FaultContext) -> dict[str, Any]:
        raise NotImplementedError

    def revert(self, undo: Mapping[str, Any]) -> dict[str, Any]:
        fault = undo["fault"]
        gone = call("DELETE", f"{self.url(undo)}/{fault}", missing_ok=True)
        if not gone:
            return {"unknown": f"fault {fault} {NOT_HELD}"}
        evidence = gone.get("evidence")
        if not isinstance(evidence, dict):
            return {"unknown": "the service returned no evidence of what the fault changed"}
        return dict(evidence)

    def enforces_ttl(self, target: Target) -> bool:
        return True  # both the producer and a control API drop a fault at its TTL


class ProducerChannel(_ServiceFaults):
    """Faults the upstream producer applies to the batches it emits (``producer`` setting)."""

    def url(self, undo: Mapping[str, Any]) -> str:
        return f"{undo['producer']}/internal/faults"

    def undo(self, ctx: FaultContext) -> dict[str, Any]:
        return {"via": "producer", "producer": setting(ctx.target, "producer"),
                "fault": ctx.fault_id}  # fmt: skip


class ServiceChannel(_ServiceFaults):
    """Faults a service applies to itself through a control API (``control``, ``service``)."""

    def url(self, undo: Mapping[str, Any]) -> str:
        return f"{undo['control']}/services/{undo['service']}/faults"

    def undo(self, ctx: FaultContext) -> dict[str, Any]:
        control, service = setting(ctx.target, "control"), setting(ctx.target, "service")
        return {"via": "service", "control": control, "service": service, "fault": ctx.fault_id}


CHANNELS: dict[str, Channel] = {
    "relay": RelayChannel(),
    "proxy": PayloadChannel(),
    "producer": ProducerChannel(),
    "service": ServiceChannel(),
}


class NoChannel(InjectionError, ValueError):
    """A target that no data fault can reach (also a ValueError: refused at validation)."""


def channel_for(target: Target) -> str:
    """The channel a target is reached through (``batch_source`` targets: by their settings)."""
    if target.kind in ("relay", "proxy", "service"):
        return target.kind
    if target.kind == "batch_source" and target.settings.get("batch_dir"):
        folder, name = target.settings["batch_dir"], target.name
        raise NoChannel(
            f"target {name!r} is a batch_dir: gameday never edits a pipeline's folder in place; "
            f"route the producer through a relay instead (relays: {{NAME: {{upstream: ..., "
            f"landing: {folder}}}}}, targets: {{{name}: {{relay: NAME}}}})"
        )
    if target.kind == "batch_source":
        return "producer" if target.settings.get("producer") else "service"
    raise NoChannel(f"target {target.name!r} of kind {target.kind!r} takes no data fault")
