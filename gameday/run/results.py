"""A run's outcome: the verdict, its checks, and the results file (CONTRACT.md "Results").

``--json FILE`` holds one JSON object per scenario, one per line (JSON Lines), so a single
scenario's file is also one plain JSON document.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.redaction import redact
from gameday.run.record import RunRecord
from gameday.scenario.model import Scenario
from gameday.verifiers.base import Check

PASS, FAIL, ABORTED = "pass", "fail", "aborted"
EXIT_CODES = {PASS: 0, FAIL: 1, ABORTED: 3}


@dataclass
class ScenarioResult:
    """The verdict of one scenario and everything behind it."""

    scenario: Scenario
    record: RunRecord
    checks: list[Check] = field(default_factory=list)
    reason: str | None = None

    @property
    def verdict(self) -> str:
        if self.record.aborted:
            return ABORTED
        return PASS if self.checks and all(c.passed for c in self.checks) else FAIL

    @property
    def failing(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        """The contract's object: scenario, verdict, started_at, faults, checks, load (+ more)."""
        rec = self.record
        out: dict[str, Any] = {
            "scenario": self.scenario.name,
            "verdict": self.verdict,
            "started_at": rec.started_at,
            "finished_at": rec.finished_at,
            "duration_s": round((rec.finished_at or rec.started_at) - rec.started_at, 2),
            "faults": [f.to_json() for f in rec.faults],
            "checks": [c.to_json() for c in self.checks],
            "load": rec.stats("run").to_json(),
            "phases": {
                n: {"start": p.start, "end": p.end, "planned_s": p.planned_s}
                for n, p in rec.phases.items()
            },
            "load_by_phase": {n: rec.stats(n).to_json() for n in rec.phases},
        }
        if self.scenario.runbook:
            out["runbook"] = self.scenario.runbook
        if self.scenario.source:
            out["file"] = str(self.scenario.source)
        if rec.aborted:
            out["reason"] = rec.aborted
        return redact(out)  # evidence may hold URLs with passwords; reports build on this


def exit_code(results: Iterable[ScenarioResult]) -> int:
    """3 if any run aborted, else 1 if any verdict failed, else 0."""
    codes = [EXIT_CODES[r.verdict] for r in results]
    if 3 in codes:
        return 3
    return max(codes, default=0)


def write_json(path: str | Path, results: Iterable[ScenarioResult]) -> None:
    """Write the results file atomically: one JSON object per scenario, one per line."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text("".join(json.dumps(r.to_json()) + "\n" for r in results))
    os.replace(tmp, target)


def summary(result: ScenarioResult) -> str:
    """The human summary of one result: a verdict line, then one line per check."""
    rec = result.record
    took = (rec.finished_at or rec.started_at) - rec.started_at
    lines = [f"{result.scenario.name}: {result.verdict.upper()} ({took:.1f} s)"]
    if rec.aborted:
        lines.append(f"  ! aborted: {rec.aborted}")
    for check in result.checks:
        mark = "ok  " if check.passed else ("FAIL" if check.decided else "????")
        lines.append(f"  {mark} {check.name}\n         {check.detail}")
    if result.scenario.runbook and result.verdict != PASS:
        lines.append(f"  runbook: {result.scenario.runbook}")
    return "\n".join(lines)
