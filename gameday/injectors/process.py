"""Process faults on stack services, through the stack's control API (``control`` URL).

``process.pause`` freezes a service with SIGSTOP (it keeps its sockets but answers nothing,
like a stuck GC or a frozen VM); ``process.kill`` SIGKILLs it, as a crash would, and restarts
it on revert. Both pass their TTL to the control API, which resumes or restarts the service
by itself when it runs out: a killed game-day runner cannot leave a service down.

Whether the fault took effect is read from the control API's answers (each action answers
the service's ``pid``, ``alive`` and ``paused``): a kill took effect iff the service was seen
not running after it (and under a new pid after the restart), a pause iff it was paused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gameday.evidence.model import Effect
from gameday.injectors._control import call, setting
from gameday.injectors.base import Applied, FaultContext, Injector, Target


class _ProcessInjector(Injector):
    target_kinds: ClassVar[tuple[str, ...]] = ("service",)
    action: ClassVar[str]
    undo_action: ClassVar[str]
    state_key: ClassVar[str]  # the control API's field that shows the action took

    def apply(self, ctx: FaultContext) -> Applied:
        control, service = setting(ctx.target, "control"), setting(ctx.target, "service")
        before = call("GET", f"{control}/services").get("services", {}).get(service, {})
        after = call("POST", f"{control}/services/{service}/{self.action}", {"ttl_s": ctx.ttl_s})
        undo = {"control": control, "service": service, "action": self.undo_action}
        evidence = {"service": service, "pid": before.get("pid"), "ttl_s": ctx.ttl_s,
                    "state": after}  # fmt: skip
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, evidence)

    def undo_for(self, ctx: FaultContext) -> Applied:
        """Resuming or restarting the service needs nothing from ``apply`` (both are no-ops
        on a service that is running)."""
        control, service = setting(ctx.target, "control"), setting(ctx.target, "service")
        undo = {"control": control, "service": service, "action": self.undo_action}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo)

    def enforces_ttl(self, target: Target) -> bool:
        """The stack's control API resumes or restarts the service by itself at the TTL."""
        return True

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        undo = applied.undo
        state = call("POST", f"{undo['control']}/services/{undo['service']}/{undo['action']}")
        return {"after_revert": state}

    def effect(self, applied: Applied, reverted: Mapping[str, Any]) -> Effect | None:
        """Judged from the service's state as the control API answered the fault's action."""
        state = applied.evidence.get("state")
        if not isinstance(state, Mapping) or self.state_key not in state:
            detail = f"the control API did not say whether the service was {self.state_key}"
            return Effect(took_effect=None, detail=detail)
        return self.judge(applied.evidence, state, reverted.get("after_revert"))

    def judge(self, evidence: Mapping[str, Any], state: Mapping[str, Any], after: Any) -> Effect:
        """The effect, given the state after the fault's action (``state_key`` is in it)."""
        raise NotImplementedError


class PauseInjector(_ProcessInjector):
    """SIGSTOP a stack service for the fault window (SIGCONT on revert or at the TTL)."""

    name = "process.pause"
    summary = "freeze a service (SIGSTOP): it holds connections but answers nothing"
    action = "pause"
    undo_action = "resume"
    state_key = "paused"

    def judge(self, evidence: Mapping[str, Any], state: Mapping[str, Any], after: Any) -> Effect:
        """Took effect iff the service's state was paused after the pause."""
        service = evidence.get("service")
        if state["paused"] is True:
            return Effect(took_effect=True, detail=f"{service} was paused (SIGSTOP)")
        return Effect(took_effect=False, detail=f"{service} was not paused after the pause")


class KillInjector(_ProcessInjector):
    """SIGKILL a stack service; it is restarted on its port on revert (or at the TTL)."""

    name = "process.kill"
    summary = "kill a service (SIGKILL) as a crash would; restart it on revert"
    action = "kill"
    undo_action = "restart"
    state_key = "alive"

    def judge(self, evidence: Mapping[str, Any], state: Mapping[str, Any], after: Any) -> Effect:
        """Took effect iff the service was not running after the kill, and (when the restart
        says) runs under a new pid after it."""
        service, before = evidence.get("service"), evidence.get("pid")
        if state["alive"] is not False:
            return Effect(took_effect=False, detail=f"{service} was still running after the kill")
        pid = after.get("pid") if isinstance(after, Mapping) else None
        if pid is not None and pid == before:
            detail = f"{service} still ran as pid {pid} after the restart: the kill did not take"
            return Effect(took_effect=False, detail=detail, evidence={"pid": pid})
        detail = f"{service} (pid {before}) was down after the kill" + (
            f"; restarted as pid {pid}" if pid is not None else ""
        )
        return Effect(took_effect=True, detail=detail, evidence={"pid": before, "new_pid": pid})


INJECTORS = (PauseInjector, KillInjector)
