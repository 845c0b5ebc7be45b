"""Judging a run: every expectation of the scenario checked against the run's evidence.

The same function serves the runner (right after the capture) and ``gameday verify`` (from a
bundle, with no network), so both give the same verdict.
"""

from __future__ import annotations

from gameday import registry
from gameday.evidence.bundle import EVIDENCE, Bundle
from gameday.evidence.model import RunEvidence
from gameday.injectors.base import Injector
from gameday.registry import Registry
from gameday.run.results import ScenarioResult
from gameday.scenario.environment import Environment
from gameday.scenario.expectations import AlertExpectation, Expectation
from gameday.scenario.model import Scenario, scenario_from_document
from gameday.scenario.yamlsafe import Document
from gameday.verifiers.base import Check, Verifier, verify


def verifiers_for(
    scenario: Scenario, verifiers: Registry[Verifier[Expectation]] | None = None
) -> list[tuple[Verifier[Expectation], Expectation]]:
    """One verifier per expectation of ``scenario``, from ``verifiers`` (default: installed)."""
    known = verifiers if verifiers is not None else registry.verifiers()
    return [(known.get(e.kind)(), e) for e in scenario.expect]


def judge(
    scenario: Scenario,
    evidence: RunEvidence,
    verifiers: Registry[Verifier[Expectation]] | None = None,
) -> list[Check]:
    """The checks of ``scenario`` on ``evidence`` (none when no fault phase was reached)."""
    if evidence.timeline.fault_start is None:
        return []
    return [verify(v, e, evidence) for v, e in verifiers_for(scenario, verifiers)]


def named_alerts(scenario: Scenario, environment: Environment) -> tuple[str, ...]:
    """The alerts the steady state concerns: every alert the scenario names (expected,
    silent, guards) and those the environment adds (``steady_state.alerts``)."""
    names = {e.alert for e in scenario.expect if isinstance(e, AlertExpectation)}
    names |= {g.alert for g in scenario.guards if g.alert}
    names |= set(environment.steady_state.alerts)
    return tuple(sorted(names))


def scenario_of(
    evidence: RunEvidence,
    where: str = "<bundle>",
    injectors: Registry[Injector] | None = None,
    verifiers: Registry[Verifier[Expectation]] | None = None,
) -> Scenario:
    """The scenario a bundle was run with, loaded again through the same checks."""
    document = Document(f"{where}#scenario", dict(evidence.scenario))
    return scenario_from_document(document, injectors, verifiers)


def rejudge(
    bundle: Bundle,
    injectors: Registry[Injector] | None = None,
    verifiers: Registry[Verifier[Expectation]] | None = None,
) -> ScenarioResult:
    """The verdict of a bundle, judged again from its evidence alone (no network)."""
    scenario = scenario_of(bundle.evidence, str(bundle.path / EVIDENCE), injectors, verifiers)
    checks = judge(scenario, bundle.evidence, verifiers)
    return ScenarioResult(scenario, bundle.evidence, checks, bundle.path)
