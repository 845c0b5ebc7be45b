"""Process faults on stack services, through the stack's control API (``control`` URL).

``process.pause`` freezes a service with SIGSTOP (it keeps its sockets but answers nothing,
like a stuck GC or a frozen VM); ``process.kill`` SIGKILLs it, as a crash would, and restarts
it on revert. Both pass their TTL to the control API, which resumes or restarts the service
by itself when it runs out: a killed game-day runner cannot leave a service down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gameday.injectors._control import call, setting
from gameday.injectors.base import Applied, FaultContext, Injector, Target


class _ProcessInjector(Injector):
    target_kinds: ClassVar[tuple[str, ...]] = ("service",)
    action: ClassVar[str]
    undo_action: ClassVar[str]

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


class PauseInjector(_ProcessInjector):
    """SIGSTOP a stack service for the fault window (SIGCONT on revert or at the TTL)."""

    name = "process.pause"
    summary = "freeze a service (SIGSTOP): it holds connections but answers nothing"
    action = "pause"
    undo_action = "resume"


class KillInjector(_ProcessInjector):
    """SIGKILL a stack service; it is restarted on its port on revert (or at the TTL)."""

    name = "process.kill"
    summary = "kill a service (SIGKILL) as a crash would; restart it on revert"
    action = "kill"
    undo_action = "restart"


INJECTORS = (PauseInjector, KillInjector)
