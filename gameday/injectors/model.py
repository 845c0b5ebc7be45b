"""Faults inside the model server's inference, through the stack's control API.

``model.slow_inference`` delays ``model.predict`` (a slow model, a CPU-starved node);
``model.inference_errors`` makes a fraction of predictions fail with 500. The model server
applies them to itself and drops them when their TTL runs out. On revert it returns how many
predictions each fault touched (``delayed`` / ``failed``): the fault took effect iff some were.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gameday.evidence.model import Effect
from gameday.injectors._control import call, setting
from gameday.injectors.base import Applied, FaultContext, Injector, Param, Target

_FRACTION = Param("fraction", float, 1.0, minimum=0.0, maximum=1.0,
                  doc="share of predictions affected")  # fmt: skip


class _ServiceFault(Injector):
    target_kinds: ClassVar[tuple[str, ...]] = ("service",)
    kind: ClassVar[str]
    counter: ClassVar[str]  # what the service counts in the fault's evidence

    def apply(self, ctx: FaultContext) -> Applied:
        control, service = setting(ctx.target, "control"), setting(ctx.target, "service")
        body = {
            "id": ctx.fault_id,
            "kind": self.kind,
            "params": dict(ctx.params),
            "ttl_s": ctx.ttl_s,
        }
        answer = call("POST", f"{control}/services/{service}/faults", body)
        undo = {"control": control, "service": service, "fault": ctx.fault_id}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, {"fault": answer})

    def undo_for(self, ctx: FaultContext) -> Applied:
        """The service keys the fault by its fault id: removing it needs nothing from ``apply``."""
        control, service = setting(ctx.target, "control"), setting(ctx.target, "service")
        undo = {"control": control, "service": service, "fault": ctx.fault_id}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo)

    def enforces_ttl(self, target: Target) -> bool:
        """The model server drops the fault by itself when its TTL runs out."""
        return True

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        """Remove the fault; return the service's counters for it (``{"unknown": why}`` when
        the service no longer held it: its TTL ran out, or it restarted)."""
        u = applied.undo
        gone = call(
            "DELETE", f"{u['control']}/services/{u['service']}/faults/{u['fault']}", missing_ok=True
        )
        counters = gone.get("evidence")
        if not isinstance(counters, dict):
            return {"unknown": f"{u['service']} no longer held fault {u['fault']} at the revert"}
        return {self.counter: 0, **counters}

    def effect(self, applied: Applied, reverted: Mapping[str, Any]) -> Effect | None:
        """Took effect iff the service counted some prediction under the fault."""
        if "unknown" in reverted:
            return Effect(took_effect=None, detail=str(reverted["unknown"]))
        count = reverted.get(self.counter)
        if not isinstance(count, int) or isinstance(count, bool):
            return Effect(took_effect=None, detail=f"the service did not count {self.counter}")
        evidence: dict[str, Any] = {self.counter: count}
        if count > 0:
            return Effect(took_effect=True, detail=f"{count} prediction(s) {self.counter}",
                          evidence=evidence)  # fmt: skip
        detail = f"no prediction was {self.counter} while the fault was on"
        return Effect(took_effect=False, detail=detail, evidence=evidence)


class SlowInferenceInjector(_ServiceFault):
    """Delay every (or a fraction of) ``model.predict`` by ``delay_ms``."""

    name = "model.slow_inference"
    summary = "inference takes delay_ms longer (slow model, starved CPU)"
    kind = "slow_inference"
    counter = "delayed"
    params = (
        Param("delay_ms", float, minimum=1, maximum=60_000, doc="added inference time"),
        _FRACTION,
    )


class InferenceErrorsInjector(_ServiceFault):
    """A fraction of predictions fail inside ``model.predict`` (HTTP 500)."""

    name = "model.inference_errors"
    summary = "a fraction of predictions fail inside the model (HTTP 500)"
    kind = "error_inference"
    counter = "failed"
    params = (_FRACTION,)


INJECTORS = (SlowInferenceInjector, InferenceErrorsInjector)
