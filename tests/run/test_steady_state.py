"""The steady state concerns the alerts the scenario and the environment name, nothing else.

The runner runs in-process on its seams: a clock that advances only when the runner sleeps, a
scripted Prometheus (which alerts fire when), and an injector that records what it was asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fixtures.envs import stack_environment

from gameday.evidence.testing import ScriptedSource
from gameday.injectors.base import Applied, FaultContext, Injector, Target
from gameday.registry import Registry, load_injectors
from gameday.run.console import Console
from gameday.run.results import ScenarioResult
from gameday.run.runner import RunOptions, Seams, run_scenario
from gameday.scenario.model import parse_scenario
from gameday.undo.journal import Journal

SCENARIO = """
name: steady
timeline: {baseline: 5s, fault: 5s, recovery: 2s, adaptive: false}
faults:
  - {injector: test.noted, target: feature-store}
expect:
  - {alert: ModelLatencyHigh, fires_within: 5s}
  - {alert: FeaturesStale, silent: true}
"""


class Noted(Injector):
    """Applies nothing; remembers what it was asked to do."""

    name = "test.noted"
    target_kinds = ("proxy",)
    applied: list[str] = []

    def apply(self, ctx: FaultContext) -> Applied:
        Noted.applied.append(ctx.fault_id)
        return Applied(self.name, ctx.fault_id, ctx.target.name, {})

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        return {}

    def enforces_ttl(self, target: Target) -> bool:
        return True


class StepClock:
    """Time that passes only when the runner sleeps: a run of minutes takes milliseconds."""

    def __init__(self) -> None:
        self.now, self.mono = 1_800_000_000.0, 0.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        self.mono += max(0.0, seconds)


def run(tmp_path: Path, firing: list[str], env: dict[str, Any] | None = None) -> ScenarioResult:
    known: Registry[Injector] = load_injectors(modules=(), entry_points=[])
    known.register(Noted, origin="tests", builtin=False)
    environment = stack_environment(
        {"toxiproxy": "http://127.0.0.1:1", "prometheus": "http://127.0.0.1:2", **(env or {})}
    )
    scenario = parse_scenario(SCENARIO, "steady.yaml", known, environment=environment)
    Noted.applied = []
    seams = Seams(clock=StepClock(), source=ScriptedSource(lambda _t: firing), injectors=known)
    options = RunOptions(settle_s=10, tick_s=0.5, journal=Journal(tmp_path / "journal"))
    return run_scenario(
        scenario, environment, Console(quiet=True), tmp_path / "run", options, seams
    )


def test_an_alert_the_scenario_does_not_name_fires_without_blocking_the_run(tmp_path: Path) -> None:
    result = run(tmp_path, ["Watchdog"])
    assert result.aborted is None
    assert len(Noted.applied) == 1  # the fault went in


def test_a_named_alert_active_before_the_baseline_stops_the_run_with_nothing_injected(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, ["FeaturesStale"])
    assert result.verdict == "aborted"
    assert result.reason == (
        "steady state not reached: still active after 10 s: FeaturesStale (firing); "
        "nothing was injected"
    )
    assert Noted.applied == []


def test_an_alert_the_environment_adds_to_the_steady_state_blocks_it_too(tmp_path: Path) -> None:
    result = run(tmp_path, ["CustomerImpact"], {"steady_state": {"alerts": ["CustomerImpact"]}})
    assert result.verdict == "aborted" and "CustomerImpact (firing)" in str(result.reason)
    assert Noted.applied == []


def test_every_run_writes_its_bundle_even_an_aborted_one(tmp_path: Path) -> None:
    result = run(tmp_path, ["FeaturesStale"])
    assert (tmp_path / "run" / "evidence.json.gz").exists()
    assert result.run_dir == tmp_path / "run"


@pytest.mark.parametrize("firing", [[], ["Watchdog"]])
def test_a_run_without_prometheus_evidence_decides_no_alert_check(
    tmp_path: Path, firing: list[str]
) -> None:
    """The scripted source captures no ALERTS: nothing may pass for lack of evidence."""
    result = run(tmp_path, firing)
    assert result.verdict == "fail"
    assert all(not c.passed and not c.decided for c in result.checks)
