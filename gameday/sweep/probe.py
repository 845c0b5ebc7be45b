"""One probe of a sweep: a real run at one magnitude, and what the sweep keeps of it.

A probe is computed from the run's result alone (its checks and its bundle's evidence), so
``gameday sweep --replay`` rebuilds every probe from the saved bundles with no network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gameday.evidence.alerts import all_episodes
from gameday.evidence.model import RunEvidence
from gameday.run.results import ScenarioResult
from gameday.scenario.expectations import AlertExpectation
from gameday.scenario.model import Scenario
from gameday.sweep.impact import Measured, impact_of
from gameday.sweep.param import Param, magnitude_in
from gameday.sweep.search import Observation
from gameday.verifiers.base import Check

NEAR_BOUND = 0.8  # fired after this share of its bound: the verdict is near it
LATE = 1.25  # fired after its bound but within this multiple of it: near it too


@dataclass(frozen=True)
class AlertOutcome:
    """One expected alert in one probe."""

    fired: bool | None  # within its bound; None: the check could not tell
    detected_after_s: float | None
    bound_s: float
    marginal: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        return {
            "fired": self.fired,
            "detected_after_s": self.detected_after_s,
            "bound_s": self.bound_s,
            "marginal": self.marginal,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Probe:
    """A probe: its magnitude, run folder, verdict, expected alerts, other alerts that
    fired under the fault, and the impact measured."""

    index: int
    magnitude: float
    run_dir: str
    verdict: str
    alerts: Mapping[str, AlertOutcome]
    others: tuple[str, ...]
    impact: Mapping[str, Measured]
    wall_s: float = 0.0
    reason: str | None = None

    @property
    def detected(self) -> bool:
        """Whether any expected alert fired within its bound, or another alert fired."""
        return any(a.fired for a in self.alerts.values()) or bool(self.others)

    @property
    def silent(self) -> bool:
        """Whether it is certain nothing noticed: every expected alert decided and silent,
        and no other alert fired under the fault."""
        return not self.others and all(a.fired is False for a in self.alerts.values())

    def observation(self) -> Observation:
        return Observation(
            self.magnitude,
            {name: a.fired for name, a in self.alerts.items()},
            {name: a.marginal for name, a in self.alerts.items()},
        )

    def to_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "magnitude": self.magnitude,
            "run_dir": self.run_dir,
            "verdict": self.verdict,
            "fired": {name: a.fired for name, a in self.alerts.items()},
            "alerts": {name: a.to_json() for name, a in self.alerts.items()},
            "other_alerts": list(self.others),
            "impact": {name: m.harm for name, m in self.impact.items()},
            "impact_detail": {name: m.to_json() for name, m in self.impact.items()},
            "wall_s": round(self.wall_s, 1),
            **({"reason": self.reason} if self.reason else {}),
        }


def alert_keys(scenario: Scenario) -> dict[str, AlertExpectation]:
    """The alerts a sweep finds thresholds for: each ``fires_within`` expectation, keyed by
    alert name (by its title where one alert is expected twice)."""
    firing = [e for e in scenario.expect if isinstance(e, AlertExpectation) and e.fires_within]
    names = [e.alert for e in firing]
    return {(e.alert if names.count(e.alert) == 1 else e.title): e for e in firing}


def probe_of(result: ScenarioResult, param: Param, index: int, wall_s: float = 0.0) -> Probe:
    """The probe a finished (or re-judged) run makes."""
    evidence = result.evidence
    magnitude = magnitude_in(evidence.scenario, param)
    if magnitude is None:
        raise ValueError(f"the run in {result.run_dir} has no {param.path}")
    wanted = alert_keys(result.scenario)
    checks = {id(e): c for e, c in zip(result.scenario.expect, result.checks, strict=False)}
    alerts = {name: _outcome(exp, checks.get(id(exp))) for name, exp in wanted.items()}
    return Probe(
        index=index,
        magnitude=magnitude,
        run_dir=str(result.run_dir or ""),
        verdict=result.verdict,
        alerts=alerts,
        others=other_alerts(evidence, {e.alert for e in wanted.values()}),
        impact=impact_of(evidence),
        wall_s=wall_s,
        reason=result.reason,
    )


def _outcome(exp: AlertExpectation, check: Check | None) -> AlertOutcome:
    bound = float(exp.fires_within or 0.0)
    if check is None:
        return AlertOutcome(None, None, bound, False, "not judged: the fault phase never ran")
    raw = check.extra.get("detected_after_s")
    detected = float(raw) if isinstance(raw, int | float) else None
    fired = check.passed if check.decided else None
    if detected is not None:
        marginal = NEAR_BOUND * bound <= detected <= LATE * bound
    else:  # silent: near the bound when it went pending without firing
        instances = check.evidence.get("instances")
        marginal = bool(instances) if isinstance(instances, Sequence) else False
    return AlertOutcome(fired, detected, bound, marginal, check.detail)


def other_alerts(evidence: RunEvidence, expected: set[str]) -> tuple[str, ...]:
    """Alerts not expected to fire that went firing under the fault (not already firing
    when it was applied): the stack noticed something, though not what was expected."""
    alerts, start = evidence.alerts, evidence.timeline.fault_start
    if alerts is None or start is None:
        return ()
    end = evidence.timeline.fault_end or alerts.end
    found = {
        e.alertname
        for e in all_episodes(alerts)
        if e.firing_at is not None
        and start <= e.firing_at <= end
        and not e.active(start)
        and e.alertname not in expected
    }
    return tuple(sorted(found))


def describe(probe: Probe) -> str:
    """One line for the console: the magnitude and what fired."""
    parts = []
    for name, a in probe.alerts.items():
        said = {True: "fired", False: "silent", None: "cannot tell"}[a.fired]
        after = f" after {a.detected_after_s:.0f} s" if a.detected_after_s is not None else ""
        parts.append(f"{name} {said}{after}")
    others = f"; also fired: {', '.join(probe.others)}" if probe.others else ""
    return f"probe {probe.index} at {probe.magnitude:g}: {'; '.join(parts)}{others}"
