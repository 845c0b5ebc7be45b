"""Which scenario a drill plays, and the blind copy of it that the runner is given.

The pick is seeded: the same seed and the same scenarios give the same pick, whatever order
the paths came in. The blind copy carries an anonymous name and no summary, so nothing the
runner prints or creates (fault ids, toxic names, journal entries) names the scenario, and
it holds every fault from its start until the trainee's diagnosis ends the fault phase.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence

from gameday.errors import ScenarioError
from gameday.scenario.model import Scenario

BLIND_NAME = "drill"
HOLD_MARGIN_S = 5.0  # the drill ends the fault phase itself; the runner's bound is a backstop


def new_seed() -> int:
    """A fresh seed for a drill run without ``--seed`` (written to the facilitator's sheet)."""
    return secrets.randbelow(2**31)


def drillable(scenarios: Sequence[Scenario]) -> list[Scenario]:
    """The scenarios a drill can play (those with a fault to diagnose), in name order."""
    return sorted((s for s in scenarios if s.faults), key=lambda s: s.name)


def pick(scenarios: Sequence[Scenario], seed: int) -> Scenario:
    """One scenario with faults, drawn with ``seed``; ScenarioError when none has a fault."""
    candidates = drillable(scenarios)
    if not candidates:
        names = ", ".join(s.name for s in scenarios) or "none"
        raise ScenarioError(f"no scenario with a fault to drill on (given: {names})")
    return random.Random(seed).choice(candidates)


def blind(scenario: Scenario, max_s: float) -> Scenario:
    """The scenario as the drill runs it: anonymous, its fault phase ``max_s`` (plus a margin)
    long, every fault applied at its offset and held to the end of that phase.

    Each fault's window, hence its TTL, covers the whole phase: a fault must not expire
    while the trainee is still looking for it. ScenarioError if a fault would start only
    after ``max_s``.
    """
    late = [f for f in scenario.faults if f.start >= max_s]
    if late:
        raise ScenarioError(
            f"{scenario.name}: a fault starts {late[0].start:g} s into the fault phase, "
            f"after the drill's maximum of {max_s:g} s; give a longer --max-minutes"
        )
    phase = max_s + HOLD_MARGIN_S
    faults = tuple(f.model_copy(update={"duration": phase - f.start}) for f in scenario.faults)
    timeline = scenario.timeline.model_copy(update={"fault": phase})
    update = {"name": BLIND_NAME, "summary": "", "faults": faults, "timeline": timeline}
    return scenario.model_copy(update=update)
