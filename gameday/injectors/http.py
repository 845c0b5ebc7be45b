"""HTTP faults on a proxied link: answers replaced by an error status, or delayed headers.

``network.http_status`` adds gameday's ``http_status`` toxic (a share of the responses on the
link become ``status`` with a small JSON error body, and their headers can be delayed): what
a service returns when it sheds load (503, 429) or breaks (500), at the HTTP level rather than
the TCP one. It needs gameday's toxiproxy-compatible server on the link; a plain toxiproxy
refuses the toxic type, and the run says so. Whether it took effect: responses changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gameday.errors import InjectionError
from gameday.evidence.model import Effect, JsonMap
from gameday.injectors._channels import CHANNELS, Request
from gameday.injectors.base import Applied, FaultContext, Injector, Param, Target

_PAYLOAD = CHANNELS["proxy"]


class HttpStatusInjector(Injector):
    """A share of the link's HTTP responses become ``status`` (or keep it, only delayed)."""

    name = "network.http_status"
    summary = "a share of HTTP responses become an error status, or arrive late"
    target_kinds: ClassVar[tuple[str, ...]] = ("proxy",)
    params = (
        Param(
            "status",
            int,
            503,
            minimum=0,
            maximum=599,
            doc="the status answered (0: keep the real one, only delay)",
        ),
        Param("share", float, 1.0, minimum=0.0, maximum=1.0, doc="share of responses"),
        Param("delay_ms", int, 0, minimum=0, maximum=3_600_000, doc="delay of the headers"),
    )

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        status = params["status"]
        if status and not 400 <= status <= 599:
            raise ValueError("status must be an error status (400-599), or 0 to only delay")
        if not status and not params["delay_ms"]:
            raise ValueError("network.http_status needs a status and/or delay_ms")

    def apply(self, ctx: FaultContext) -> Applied:
        attributes = {k: ctx.params[k] for k in ("status", "share", "delay_ms")}
        undo, evidence = _PAYLOAD.apply(ctx, Request("http_status", attributes))
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, evidence)

    def undo_for(self, ctx: FaultContext) -> Applied:
        return Applied(self.name, ctx.fault_id, ctx.target.name, _PAYLOAD.undo(ctx))

    def enforces_ttl(self, target: Target) -> bool:
        return _PAYLOAD.enforces_ttl(target)

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        if applied.undo.get("via") != "proxy":
            raise InjectionError(f"{self.name}: not a payload toxic: {dict(applied.undo)!r}")
        return _PAYLOAD.revert(applied.undo)

    def effect(self, applied: Applied, reverted: Mapping[str, Any]) -> Effect | None:
        if "unknown" in reverted:
            return Effect(took_effect=None, detail=str(reverted["unknown"]))
        changed = int(reverted.get("changed") or 0)
        evidence: JsonMap = {
            k: int(reverted.get(k) or 0) for k in ("messages", "changed", "passed")
        }
        if changed:
            return Effect(
                took_effect=True, detail=f"{changed} response(s) changed", evidence=evidence
            )
        detail = "no HTTP response crossed the link while the fault was on"
        return Effect(took_effect=False, detail=detail, evidence=evidence)


INJECTORS = (HttpStatusInjector,)
