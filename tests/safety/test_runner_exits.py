"""Every way out of a run reverts every fault: a bug, a Ctrl-C mid-apply, a guard in recovery.

The runner runs in this process with recording injectors and no stack (Prometheus answers
"nothing firing"), so each exit path is provoked exactly where it hurts.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from gameday.errors import InjectionError
from gameday.injectors.base import Applied, FaultContext, Injector, Target
from gameday.registry import Registry, load_injectors
from gameday.run import runner
from gameday.run.console import Console
from gameday.run.results import ScenarioResult
from gameday.scenario.environment import Environment
from gameday.scenario.model import parse_scenario
from gameday.undo.journal import Journal

ENV = Environment.from_endpoints(
    {"toxiproxy": "http://127.0.0.1:1", "prometheus": "http://127.0.0.1:2"}
)
SCENARIO = """
name: exits
timeline: {baseline: 0s, fault: 3s, recovery: 2s, adaptive: false}
faults:
  - {injector: test.recording, target: feature-store}
  - {injector: test.recording, target: feature-store, start: 0.5s}
"""


class Recording(Injector):
    """Applies and reverts nothing, but says what it was asked; ``during_apply`` runs mid-apply."""

    name = "test.recording"
    target_kinds = ("proxy",)
    applied: list[str] = []
    reverted: list[str] = []
    during_apply: Callable[[], None] = staticmethod(lambda: None)

    def apply(self, ctx: FaultContext) -> Applied:
        Recording.during_apply()
        Recording.applied.append(ctx.fault_id)
        return Applied(self.name, ctx.fault_id, ctx.target.name, {"id": ctx.fault_id})

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        Recording.reverted.append(applied.fault_id)
        return {}

    def undo_for(self, ctx: FaultContext) -> Applied:
        return Applied(self.name, ctx.fault_id, ctx.target.name, {"id": ctx.fault_id})

    def enforces_ttl(self, target: Target) -> bool:
        return True


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, journal: Journal
) -> Callable[[], ScenarioResult]:
    known: Registry[Injector] = load_injectors(modules=(), entry_points=[])
    known.register(Recording, origin="tests", builtin=False)
    monkeypatch.setattr(runner.registry, "injectors", lambda: known)
    monkeypatch.setattr(runner, "_firing", lambda _run: [])
    monkeypatch.setattr(runner, "TICK_S", 0.02)
    Recording.applied, Recording.reverted = [], []
    monkeypatch.setattr(Recording, "during_apply", staticmethod(lambda: None))
    scenario = parse_scenario(SCENARIO, "exits.yaml", known, environment=ENV)

    def go() -> ScenarioResult:
        return runner.run_scenario(
            scenario, ENV, Console(quiet=True), tmp_path, settle_s=1, journal=journal
        )

    return go


def test_a_bug_mid_fault_still_reverts_every_applied_fault(
    run: Callable[[], ScenarioResult], monkeypatch: pytest.MonkeyPatch, journal: Journal
) -> None:
    def boom(_run: Any, _elapsed: float) -> None:
        if len(Recording.applied) == 2:
            raise RuntimeError("a bug in the fault loop")

    monkeypatch.setattr(runner, "_revert_due", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        run()
    assert sorted(Recording.reverted) == sorted(Recording.applied)
    assert journal.entries() == []


def test_ctrl_c_during_an_apply_waits_for_it_then_reverts_it(
    run: Callable[[], ScenarioResult], monkeypatch: pytest.MonkeyPatch, journal: Journal
) -> None:
    """A Ctrl-C landing inside apply must not lose a fault the server already holds."""
    monkeypatch.setattr(
        Recording, "during_apply", staticmethod(lambda: os.kill(os.getpid(), signal.SIGINT))
    )
    result = run()
    assert result.record.aborted == "interrupted by SIGINT"
    assert len(Recording.applied) == 1 and Recording.reverted == Recording.applied
    assert journal.entries() == []


def test_an_apply_that_raises_is_undone_and_aborts_the_run(
    run: Callable[[], ScenarioResult], monkeypatch: pytest.MonkeyPatch, journal: Journal
) -> None:
    def refuse() -> None:
        if Recording.applied:
            raise InjectionError("toxiproxy answered 500")

    monkeypatch.setattr(Recording, "during_apply", staticmethod(refuse))
    result = run()
    assert "toxiproxy answered 500" in str(result.record.aborted)
    assert len(Recording.applied) == 1
    assert len(Recording.reverted) == 2  # the applied one, and the failed one via undo_for
    assert journal.entries() == []


def test_guards_are_watched_in_recovery_too(
    run: Callable[[], ScenarioResult], monkeypatch: pytest.MonkeyPatch, journal: Journal
) -> None:
    def breach(_guards: Any, record: Any, _firing: Any) -> str | None:
        return "error rate 90% over 50%" if "recovery" in record.phases else None

    monkeypatch.setattr(runner, "breach", breach)
    result = run()
    assert result.record.aborted == (
        "guard breached in recovery: error rate 90% over 50%; every fault reverted"
    )
    assert sorted(Recording.reverted) == sorted(Recording.applied)
