"""What happens in one run while it happens: phases, faults with exact times, every request.

The runner fills a :class:`RunRecord` as the timeline advances. It is the run's mutable,
live side; :meth:`RunRecord.timeline` and :meth:`RunRecord.load` turn it into the frozen
evidence the verdict is computed from. Times are Unix seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gameday.evidence.model import (
    Effect,
    FaultEvidence,
    LoadEvidence,
    LoadTick,
    PhaseEvidence,
    PlannedTimeline,
    TimelineEvidence,
)
from gameday.evidence.requests import LoadStats, Record, summarize, to_columns
from gameday.injectors.base import Applied
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

    def elapsed(self, now: float) -> float:
        return (self.end if self.end is not None else now) - self.start


@dataclass
class FaultRecord:
    """One fault of the scenario: when it was applied and reverted, and what it touched."""

    index: int
    fault: Fault
    fault_id: str
    target_kind: str = ""
    applied: Applied | None = None
    apply_started_at: float | None = None
    applied_at: float | None = None
    reverted_at: float | None = None
    revert_evidence: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    effect: Effect | None = None

    def evidence(self) -> FaultEvidence:
        """This fault as the bundle keeps it."""
        return FaultEvidence.model_validate(
            {
                "index": self.index,
                "fault_id": self.fault_id,
                "injector": self.fault.injector,
                "target": self.fault.target,
                "target_kind": self.target_kind,
                "params": dict(self.fault.params),
                "start_s": self.fault.start,
                "duration_s": self.fault.duration,
                "apply_started_at": self.apply_started_at,
                "applied_at": self.applied_at,
                "reverted_at": self.reverted_at,
                "applied": dict(self.applied.evidence) if self.applied else {},
                "reverted": dict(self.revert_evidence),
                "error": self.error,
                "effect": self.effect,
            }
        )


@dataclass
class RunRecord:
    """The live state of one run: the scenario, the timeline so far, the faults, the load."""

    scenario: Scenario
    environment: Environment
    started_at: float = field(default_factory=time.time)
    phases: dict[str, Phase] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)
    requests: list[Record] = field(default_factory=list)
    load_ticks: list[LoadTick] = field(default_factory=list)
    load_stopped: str | None = None
    baselines: int = 0
    aborted: str | None = None
    finished_at: float | None = None

    def phase(self, name: str) -> Phase | None:
        return self.phases.get(name)

    @property
    def fault_start(self) -> float | None:
        """When the first fault was applied (for a run without faults, its fault phase)."""
        times = [
            f.apply_started_at if f.apply_started_at is not None else f.applied_at
            for f in self.faults
            if f.applied_at is not None
        ]
        if times:
            return min(times)
        phase = self.phases.get("fault")
        return phase.start if phase and not self.scenario.faults else None

    def window(self, name: str, now: float) -> tuple[float, float] | None:
        """``(start, end)`` of a phase (``run``: the whole run); an open end is ``now``."""
        if name == "run":
            return self.started_at, self.finished_at or now
        phase = self.phases.get(name)
        if phase is None:
            return None
        return phase.start, phase.end if phase.end is not None else now

    def stats(self, phase: str, now: float | None = None) -> LoadStats:
        """Load figures over a phase (or ``run``)."""
        window = self.window(phase, now if now is not None else time.time())
        return summarize(self.requests, *window) if window else summarize([])

    def timeline(self) -> TimelineEvidence:
        """The timeline as it stands, as evidence."""
        t = self.scenario.timeline
        planned = PlannedTimeline(
            baseline=t.baseline,
            fault=t.fault,
            recovery=t.recovery,
            silent_window=t.silent_window,
            adaptive=t.adaptive,
        )
        return TimelineEvidence(
            started_at=self.started_at,
            finished_at=self.finished_at,
            planned=planned,
            phases={
                n: PhaseEvidence(name=n, start=p.start, end=p.end, planned_s=p.planned_s)
                for n, p in self.phases.items()
            },
            faults=tuple(f.evidence() for f in self.faults),
            baselines=self.baselines,
            aborted=self.aborted,
        )

    def load(self, keep_trace: Callable[[Record], bool] | None = None) -> LoadEvidence:
        """The load as it stands, as evidence (trace ids where ``keep_trace`` says)."""
        users = self.scenario.load.users if self.scenario.load else 0
        return LoadEvidence.model_construct(
            users=users,
            requests=to_columns(self.requests, keep_trace),
            ticks=tuple(self.load_ticks),
            stopped=self.load_stopped,
        )
