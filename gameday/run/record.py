"""What happened in one run: phases, faults with exact times, and every request.

The runner fills a :class:`RunRecord` as the timeline advances; verifiers read it (also
while it is still running, to decide early). Times are Unix seconds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gameday.evidence.alertwatch import AlertmanagerLog
from gameday.evidence.observe import Observability
from gameday.injectors.base import Applied
from gameday.run.load import LoadStats, Record, summarize
from gameday.scenario.environment import Environment
from gameday.scenario.model import Fault, Scenario

PHASES = ("baseline", "fault", "recovery")


@dataclass
class Phase:
    """One phase of the timeline; ``end`` is ``None`` while it runs."""

    name: str
    start: float
    end: float | None = None
    planned_s: float = 0.0

    def elapsed(self, now: float | None = None) -> float:
        return (self.end or now or time.time()) - self.start


@dataclass
class FaultRecord:
    """One fault of the scenario: when it was applied and reverted, and what it touched."""

    index: int
    fault: Fault
    fault_id: str
    applied: Applied | None = None
    applied_at: float | None = None
    reverted_at: float | None = None
    revert_evidence: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "injector": self.fault.injector,
            "target": self.fault.target,
            "params": dict(self.fault.params),
            "applied_at": self.applied_at,
            "reverted_at": self.reverted_at,
        }
        evidence = {**(self.applied.evidence if self.applied else {}), **self.revert_evidence}
        if evidence:
            out["evidence"] = evidence
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class RunRecord:
    """Everything a verifier may look at: the scenario, the timeline, the faults, the load."""

    scenario: Scenario
    environment: Environment
    observe: Observability
    started_at: float = field(default_factory=time.time)
    phases: dict[str, Phase] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)
    requests: list[Record] = field(default_factory=list)
    aborted: str | None = None
    finished_at: float | None = None
    # Alertmanager's view, polled during the run (alert evidence when no webhook reaches gameday)
    alertmanager_seen: AlertmanagerLog = field(default_factory=AlertmanagerLog)

    @property
    def steady_since(self) -> float:
        """When the steady state was established: the start of the (last) baseline, or the run's
        start before any baseline. Alerts are judged from here: an alert firing in a baseline
        that was discarded (and settled again) belongs to what came before, not to this run."""
        baseline = self.phases.get("baseline")
        return baseline.start if baseline else self.started_at

    def phase(self, name: str) -> Phase | None:
        return self.phases.get(name)

    def window(self, name: str) -> tuple[float, float] | None:
        """``(start, end)`` of a phase (``run``: the whole run); the end is now while running."""
        if name == "run":
            return self.started_at, self.finished_at or time.time()
        phase = self.phases.get(name)
        if phase is None:
            return None
        return phase.start, phase.end or time.time()

    @property
    def fault_start(self) -> float | None:
        """When the first fault was applied (what ``fires_within`` is measured from); for a
        scenario without faults (a control run), when its fault phase began."""
        times = [f.applied_at for f in self.faults if f.applied_at is not None]
        if times:
            return min(times)
        phase = self.phases.get("fault")
        return phase.start if phase and not self.scenario.faults else None

    @property
    def fault_end(self) -> float | None:
        """When the last fault was reverted (what ``recovered.within`` is measured from)."""
        if any(f.applied_at is not None and f.reverted_at is None for f in self.faults):
            return None
        times = [f.reverted_at for f in self.faults if f.reverted_at is not None]
        return max(times) if times else None

    def silent_window(self) -> float:
        """How long silent alerts are watched under the fault before it may end early."""
        timeline = self.scenario.timeline
        return min(timeline.silent_window or timeline.fault, timeline.fault)

    def stats(self, phase: str) -> LoadStats:
        """Load figures over a phase (or ``run``)."""
        window = self.window(phase)
        if window is None:
            return summarize([])
        return summarize(self.requests, *window)
