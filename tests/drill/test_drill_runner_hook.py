"""The runner's ``fault_until`` hook: the caller, not the adaptive decision, ends the fault phase.

The runner runs in this process with a recording injector and no stack (Prometheus answers
"nothing firing"), as in ``tests/safety/test_runner_exits.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from gameday.injectors.base import Applied, FaultContext, Injector, Target
from gameday.registry import Registry, load_injectors
from gameday.run import runner
from gameday.run.console import Console
from gameday.run.record import RunRecord
from gameday.run.results import ScenarioResult
from gameday.scenario.environment import Environment
from gameday.scenario.model import Scenario, parse_scenario
from gameday.undo.journal import Journal

ENV = Environment.from_endpoints(
    {"toxiproxy": "http://127.0.0.1:1", "prometheus": "http://127.0.0.1:2"}
)
SCENARIO = """
name: hook
timeline: {baseline: 0s, fault: 20s, recovery: 0s}
faults:
  - {injector: test.hook, target: feature-store}
"""


class Recording(Injector):
    """Applies and reverts nothing, but notes when it was asked to."""

    name = "test.hook"
    target_kinds = ("proxy",)
    log: list[tuple[str, float]] = []

    def apply(self, ctx: FaultContext) -> Applied:
        Recording.log.append(("apply", time.time()))
        return Applied(self.name, ctx.fault_id, ctx.target.name, {"id": ctx.fault_id})

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        Recording.log.append(("revert", time.time()))
        return {}

    def enforces_ttl(self, target: Target) -> bool:
        return True


@pytest.fixture
def run_with(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[Callable[[RunRecord], bool] | None], ScenarioResult]:
    known: Registry[Injector] = load_injectors(modules=(), entry_points=[])
    known.register(Recording, origin="tests", builtin=False)
    monkeypatch.setattr(runner.registry, "injectors", lambda: known)
    monkeypatch.setattr(runner, "_firing", lambda _run: [])
    monkeypatch.setattr(runner, "TICK_S", 0.02)
    monkeypatch.setattr(runner, "DECIDE_EVERY_S", 0.02)
    monkeypatch.setitem(runner.MIN_PHASE_S, "fault", 0.1)  # adaptive: ends after 0.1 s
    Recording.log = []
    scenario: Scenario = parse_scenario(SCENARIO, "hook.yaml", known, environment=ENV)

    def go(fault_until: Callable[[RunRecord], bool] | None) -> ScenarioResult:
        return runner.run_scenario(
            scenario,
            ENV,
            Console(quiet=True),
            tmp_path,
            settle_s=1,
            journal=Journal(tmp_path / "journal"),
            fault_until=fault_until,
        )

    return go


def _fault_phase_s(result: ScenarioResult) -> float:
    phase = result.record.phases["fault"]
    assert phase.end is not None
    return phase.end - phase.start


def test_without_the_hook_a_decided_fault_phase_ends_early(run_with) -> None:  # type: ignore[no-untyped-def]
    """The reference: no check to wait for, so the adaptive fault phase ends at once."""
    assert _fault_phase_s(run_with(None)) < 1.0


def test_the_hook_holds_the_fault_until_it_says_so_then_the_fault_is_reverted(run_with) -> None:  # type: ignore[no-untyped-def]
    seen: list[RunRecord] = []
    release = time.time() + 1.5

    def until(record: RunRecord) -> bool:
        seen.append(record)
        return time.time() >= release

    result = run_with(until)
    assert 1.5 <= _fault_phase_s(result) < 5.0  # held past the adaptive end, not to 20 s
    assert [what for what, _ in Recording.log] == ["apply", "revert"]
    assert Recording.log[1][1] >= release
    assert seen[0] is result.record and seen[0].faults[0].applied_at is not None  # live record
    assert result.record.aborted is None


def test_a_hook_that_raises_still_reverts_the_fault(run_with) -> None:  # type: ignore[no-untyped-def]
    def broken(_record: RunRecord) -> bool:
        raise RuntimeError("a bug in the drill")

    with pytest.raises(RuntimeError, match="a bug in the drill"):
        run_with(broken)
    assert [what for what, _ in Recording.log] == ["apply", "revert"]
