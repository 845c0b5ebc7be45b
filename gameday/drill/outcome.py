"""A drill's outcome: what the answer was, what the trainee gave, how long it took.

``gameday drill --json FILE`` writes :meth:`DrillOutcome.to_json` as one JSON document.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.drill.answers import AnswerKey
from gameday.drill.sheet import Event
from gameday.drill.trainee import Score


@dataclass
class DrillOutcome:
    """The outcome of one drill; ``aborted`` says why the run stopped (exit 3) if it did."""

    scenario: str
    seed: int
    key: AnswerKey
    score: Score
    timeline: list[Event] = field(default_factory=list)
    aborted: str | None = None
    file: str | None = None

    @property
    def correct(self) -> bool:
        return self.score.ended == "diagnosed"

    def to_json(self) -> dict[str, Any]:
        """scenario, answer, given answers, wrong count, times, correct, timeline (+ more)."""
        s = self.score
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "seed": self.seed,
            "answer": {
                "component": self.key.primary.component,
                "family": self.key.primary.family,
                "accepted": [
                    {
                        "fault": c.fault,
                        "components": list(c.components),
                        "families": list(c.families),
                    }
                    for c in self.key.culprits
                ],
            },
            "given": [g.to_json() for g in s.given],
            "wrong": s.wrong,
            "correct": self.correct,
            "ended": s.ended,
            "paged_by": s.paged_by or None,
            "time_to_acknowledge_s": s.time_to_acknowledge_s,
            "time_to_diagnosis_s": s.time_to_diagnosis_s,
            "hints": s.hints,
            "fault_applied_at": s.fault_at,
            "timeline": [e.to_json() for e in sorted(self.timeline, key=lambda e: e.at)],
        }
        if self.file:
            out["file"] = self.file
        if self.aborted:
            out["aborted"] = self.aborted
        return out


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, outcome: DrillOutcome) -> None:
    write_text(path, json.dumps(outcome.to_json(), indent=2) + "\n")
