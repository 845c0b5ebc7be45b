"""Every way out of a run reverts every fault: a bug, a Ctrl-C mid-apply, a guard breached.

The runner runs in this process on its seams: recording injectors, and a scripted evidence
source instead of a stack (Prometheus fires what the test says), so each exit path is
provoked exactly where it hurts.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from fixtures.envs import stack_environment

from gameday.errors import InjectionError
from gameday.evidence.testing import ScriptedSource
from gameday.injectors.base import Applied, FaultContext, Injector, Target
from gameday.registry import Registry, load_injectors
from gameday.run.console import Console
from gameday.run.results import ScenarioResult
from gameday.run.runner import RunOptions, Seams, run_scenario
from gameday.scenario.model import parse_scenario
from gameday.undo.journal import Journal

ENV = stack_environment({"toxiproxy": "http://127.0.0.1:1", "prometheus": "http://127.0.0.1:2"})
SCENARIO = """
name: exits
timeline: {baseline: 0s, fault: 3s, recovery: 2s, adaptive: false}
faults:
  - {injector: test.recording, target: feature-store}
  - {injector: test.recording, target: feature-store, start: 0.5s}
guards:
  - {alert: CustomerImpact}
expect:
  - {alert: ModelLatencyHigh, fires_within: 3s}
"""
GUARD_IN_FAULT = "guard breached in fault: alert CustomerImpact is firing; every fault reverted"
GUARD_IN_RECOVERY = (
    "guard breached in recovery: alert CustomerImpact is firing; every fault reverted"
)


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


Run = Callable[[ScriptedSource], ScenarioResult]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, journal: Journal) -> Run:
    """Run the scenario with the recording injector and the given scripted source."""
    known: Registry[Injector] = load_injectors(modules=(), entry_points=[])
    known.register(Recording, origin="tests", builtin=False)
    Recording.applied, Recording.reverted = [], []
    monkeypatch.setattr(Recording, "during_apply", staticmethod(lambda: None))
    scenario = parse_scenario(SCENARIO, "exits.yaml", known, environment=ENV)
    options = RunOptions(settle_s=1, tick_s=0.02, decide_every_s=0.02, journal=journal)

    def go(source: ScriptedSource) -> ScenarioResult:
        seams = Seams(source=source, injectors=known)
        return run_scenario(scenario, ENV, Console(quiet=True), tmp_path, options, seams)

    return go


def _once(condition: Callable[[], bool], alerts: Sequence[str]) -> Callable[[float], list[str]]:
    """Prometheus fires ``alerts`` from the moment ``condition`` holds, and keeps firing them."""
    seen = False

    def firing(_now: float) -> list[str]:
        nonlocal seen
        seen = seen or condition()
        return list(alerts) if seen else []

    return firing


def test_a_bug_mid_fault_still_reverts_every_applied_fault(run: Run, journal: Journal) -> None:
    def bug() -> None:
        if len(Recording.applied) == 2:
            raise RuntimeError("a bug in the fault loop")

    with pytest.raises(RuntimeError, match="a bug"):
        run(ScriptedSource(on_tick=bug))
    assert len(Recording.applied) == 2
    assert sorted(Recording.reverted) == sorted(Recording.applied)
    assert journal.entries() == []


def test_ctrl_c_during_an_apply_waits_for_it_then_reverts_it(
    run: Run, monkeypatch: pytest.MonkeyPatch, journal: Journal
) -> None:
    """A Ctrl-C landing inside apply must not lose a fault the server already holds."""
    monkeypatch.setattr(
        Recording, "during_apply", staticmethod(lambda: os.kill(os.getpid(), signal.SIGINT))
    )
    result = run(ScriptedSource())
    assert (result.verdict, result.aborted) == ("aborted", "interrupted by SIGINT")
    assert len(Recording.applied) == 1 and Recording.reverted == Recording.applied
    assert journal.entries() == []


def test_an_apply_that_raises_is_undone_and_aborts_the_run(
    run: Run, monkeypatch: pytest.MonkeyPatch, journal: Journal
) -> None:
    def refuse() -> None:
        if Recording.applied:
            raise InjectionError("toxiproxy answered 500")

    monkeypatch.setattr(Recording, "during_apply", staticmethod(refuse))
    result = run(ScriptedSource())
    assert result.verdict == "aborted" and "toxiproxy answered 500" in str(result.aborted)
    assert len(Recording.applied) == 1
    assert len(Recording.reverted) == 2  # the applied one, and the failed one via undo_for
    assert journal.entries() == []


def test_an_alert_guard_breached_under_the_fault_reverts_every_fault_and_aborts(
    run: Run, journal: Journal
) -> None:
    """Both faults are on when the guard's alert fires: both come off, the run aborts."""
    source = ScriptedSource(firing=_once(lambda: len(Recording.applied) == 2, ["CustomerImpact"]))
    result = run(source)
    assert (result.verdict, result.aborted) == ("aborted", GUARD_IN_FAULT)
    assert len(Recording.applied) == 2
    assert sorted(Recording.reverted) == sorted(Recording.applied)
    assert "recovery" not in result.evidence.timeline.phases  # stopped there, not later
    assert journal.entries() == []


def test_guards_are_watched_in_recovery_too(run: Run, journal: Journal) -> None:
    """The guard's alert fires only once both faults are reverted: the recovery aborts."""
    source = ScriptedSource(firing=_once(lambda: len(Recording.reverted) == 2, ["CustomerImpact"]))
    result = run(source)
    assert (result.verdict, result.aborted) == ("aborted", GUARD_IN_RECOVERY)
    assert len(Recording.applied) == 2
    assert sorted(Recording.reverted) == sorted(Recording.applied)
    assert journal.entries() == []


def test_an_unnamed_alert_firing_throughout_breaches_no_guard(run: Run) -> None:
    """The reference for the guard tests: only the guard's own alert stops a run."""
    result = run(ScriptedSource(firing=lambda _now: ["Watchdog"]))
    assert result.aborted is None
    assert set(result.evidence.timeline.phases) == {"baseline", "fault", "recovery"}
    assert sorted(Recording.reverted) == sorted(Recording.applied) and len(Recording.applied) == 2
