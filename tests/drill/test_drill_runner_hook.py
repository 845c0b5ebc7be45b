"""The runner's ``fault_until`` hook: the caller, not the adaptive decision, ends the fault phase.

The runner runs in this process on its seams, as in ``tests/safety/test_runner_exits.py``: a
recording injector, a scripted evidence source (no stack), and a virtual clock, so a 20 s
fault phase costs no wall time and every duration below is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from fixtures.envs import stack_environment

from gameday.evidence.testing import ScriptedSource
from gameday.injectors.base import Applied, FaultContext, Injector, Target
from gameday.registry import Registry, load_injectors
from gameday.run.console import Console
from gameday.run.record import RunRecord
from gameday.run.results import ScenarioResult
from gameday.run.runner import RunOptions, Seams, run_scenario
from gameday.scenario.model import parse_scenario
from gameday.undo.journal import Journal

ENV = stack_environment({"toxiproxy": "http://127.0.0.1:1", "prometheus": "http://127.0.0.1:2"})
# The SLO check is decided as soon as the fault is on: an adaptive fault phase ends early.
SCENARIO = """
name: hook
timeline: {baseline: 0s, fault: 20s, recovery: 0s}
faults:
  - {injector: test.hook, target: feature-store}
expect:
  - slo: {phase: fault, error_rate_below: 0.5}
"""
PLANNED_FAULT_S = 20.0


class VirtualClock:
    """A clock whose sleeps return at once, having advanced the time they asked for."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class Recording(Injector):
    """Applies and reverts nothing, but notes when (on the run's clock) it was asked to."""

    name = "test.hook"
    target_kinds = ("proxy",)
    clock = VirtualClock()
    log: list[tuple[str, float]] = []

    def apply(self, ctx: FaultContext) -> Applied:
        Recording.log.append(("apply", Recording.clock.time()))
        return Applied(self.name, ctx.fault_id, ctx.target.name, {"id": ctx.fault_id})

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        Recording.log.append(("revert", Recording.clock.time()))
        return {}

    def enforces_ttl(self, target: Target) -> bool:
        return True


RunWith = Callable[[Callable[[RunRecord], bool] | None], ScenarioResult]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    clock = VirtualClock()
    monkeypatch.setattr(Recording, "clock", clock)
    monkeypatch.setattr(Recording, "log", [])
    return clock


@pytest.fixture
def run_with(tmp_path: Path, clock: VirtualClock) -> RunWith:
    known: Registry[Injector] = load_injectors(modules=(), entry_points=[])
    known.register(Recording, origin="tests", builtin=False)
    scenario = parse_scenario(SCENARIO, "hook.yaml", known, environment=ENV)
    seams = Seams(clock=clock, source=ScriptedSource(), injectors=known)

    def go(fault_until: Callable[[RunRecord], bool] | None) -> ScenarioResult:
        options = RunOptions(
            settle_s=1,
            tick_s=0.02,
            decide_every_s=0.02,
            journal=Journal(tmp_path / "journal"),
            fault_until=fault_until,
        )
        return run_scenario(scenario, ENV, Console(quiet=True), tmp_path, options, seams)

    return go


def _fault_phase_s(result: ScenarioResult) -> float:
    phase = result.evidence.timeline.phases["fault"]
    assert phase.end is not None
    return phase.end - phase.start


def test_without_the_hook_a_decided_fault_phase_ends_early(run_with: RunWith) -> None:
    """The reference: the only check is decided at once, so the fault phase ends well before
    its configured 20 s (after the runner's minimum fault phase of a few seconds)."""
    result = run_with(None)
    assert _fault_phase_s(result) < PLANNED_FAULT_S / 2
    assert [what for what, _ in Recording.log] == ["apply", "revert"]


def test_the_hook_holds_the_fault_until_it_says_so_then_the_fault_is_reverted(
    run_with: RunWith, clock: VirtualClock
) -> None:
    seen: list[RunRecord] = []
    release = clock.time() + 12.0  # past the adaptive end, before the configured one

    def until(record: RunRecord) -> bool:
        seen.append(record)
        return clock.time() >= release

    result = run_with(until)
    assert 12.0 <= _fault_phase_s(result) < 13.0  # held past the adaptive end, not to 20 s
    assert [what for what, _ in Recording.log] == ["apply", "revert"]
    assert Recording.log[1][1] >= release
    assert seen[0].faults[0].applied_at is not None  # the hook sees the live record
    assert all(r is seen[0] for r in seen)  # the same record, every tick
    assert result.evidence.timeline.faults[0].applied_at == seen[0].faults[0].applied_at
    assert result.aborted is None


def test_a_hook_that_raises_still_reverts_the_fault(run_with: RunWith) -> None:
    def broken(_record: RunRecord) -> bool:
        raise RuntimeError("a bug in the drill")

    with pytest.raises(RuntimeError, match="a bug in the drill"):
        run_with(broken)
    assert [what for what, _ in Recording.log] == ["apply", "revert"]
