"""A run's outcome: the verdict, its checks, and the results file (``docs/reference/results.md``).

A :class:`ScenarioResult` is computed from the scenario and the run's evidence only, so the
runner and ``gameday verify`` (from a bundle) build it the same way. ``--json FILE`` holds one
JSON object per scenario, one per line (JSON Lines), so a single scenario's file is also one
plain JSON document.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gameday.evidence.model import RunEvidence
from gameday.evidence.requests import LoadStats, from_columns, summarize
from gameday.redaction import redact
from gameday.scenario.model import Scenario
from gameday.verifiers.base import Check

PASS, FAIL, ABORTED, INCONCLUSIVE = "pass", "fail", "aborted", "inconclusive"
VERDICTS = (PASS, FAIL, ABORTED, INCONCLUSIVE)
EXIT_CODES = {PASS: 0, FAIL: 1, ABORTED: 3, INCONCLUSIVE: 3}


@dataclass
class ScenarioResult:
    """The verdict of one scenario and everything behind it.

    ``run_dir`` is the run's bundle (``None`` for a result never written to disk).
    """

    scenario: Scenario
    evidence: RunEvidence
    checks: list[Check] = field(default_factory=list)
    run_dir: Path | None = None

    @property
    def aborted(self) -> str | None:
        return self.evidence.timeline.aborted

    @property
    def no_effect(self) -> list[str]:
        """Faults whose injector recorded that they changed nothing, with that evidence."""
        return [
            f"{f.title}: {f.effect.detail}"
            for f in self.evidence.timeline.faults
            if f.effect is not None and f.effect.took_effect is False
        ]

    @property
    def verdict(self) -> str:
        """``aborted`` (stopped before a verdict), ``inconclusive`` (a fault never took
        effect), else ``pass`` when there are checks and every one passed, else ``fail``."""
        if self.aborted:
            return ABORTED
        if self.no_effect:
            return INCONCLUSIVE
        return PASS if self.checks and all(c.passed for c in self.checks) else FAIL

    @property
    def reason(self) -> str | None:
        """Why the run has no pass/fail verdict, if it has none."""
        if self.aborted:
            return self.aborted
        if self.no_effect:
            return "the fault never took effect: " + "; ".join(self.no_effect)
        return None

    def unnamed_alerts(self) -> list[str]:
        """Alerts active during the run that neither the scenario nor the environment named:
        they may fire throughout without blocking the run, and reports list them."""
        alerts = self.evidence.alerts
        if alerts is None:
            return []
        named, start = set(self.evidence.named_alerts), self.started_at
        active = {s.alertname for s in alerts.series if any(t >= start for t, _ in s.points)}
        return sorted(active - named - {""})

    @property
    def failing(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def stats(self, phase: str) -> LoadStats:
        """Load figures over a phase (or ``run``)."""
        window = self.evidence.timeline.window(phase)
        records = from_columns(self.evidence.load.requests)
        return summarize(records, *window) if window else summarize([])

    @property
    def started_at(self) -> float:
        return self.evidence.timeline.started_at

    @property
    def finished_at(self) -> float:
        tl = self.evidence.timeline
        return tl.finished_at or tl.started_at

    def to_json(self) -> dict[str, object]:
        """The contract's object: scenario, verdict, started_at, faults, checks, load (+ more)."""
        tl = self.evidence.timeline
        out: dict[str, object] = {
            "scenario": self.scenario.name,
            "verdict": self.verdict,
            "started_at": tl.started_at,
            "finished_at": tl.finished_at,
            "duration_s": round(self.finished_at - tl.started_at, 2),
            "faults": [_fault_json(f.model_dump(mode="json")) for f in tl.faults],
            "checks": [c.to_json() for c in self.checks],
            "load": self.stats("run").to_json(),
            "phases": {
                n: {"start": p.start, "end": p.end, "planned_s": p.planned_s}
                for n, p in tl.phases.items()
            },
            "load_by_phase": {n: self.stats(n).to_json() for n in tl.phases},
        }
        if self.scenario.runbook:
            out["runbook"] = self.scenario.runbook
        if self.evidence.scenario_file:
            out["file"] = self.evidence.scenario_file
        unnamed = self.unnamed_alerts()
        if unnamed:
            out["unnamed_alerts"] = unnamed
        if self.run_dir is not None:
            out["run_dir"] = str(self.run_dir)
        if self.reason:
            out["reason"] = self.reason
        return dict(redact(out))  # evidence may hold URLs with passwords; reports build on this


def _fault_json(fault: dict[str, object]) -> dict[str, object]:
    """A fault as the results file writes it (CONTRACT.md keys first)."""
    keys = ("injector", "target", "params", "apply_started_at", "applied_at", "reverted_at")
    out = {k: fault[k] for k in keys}
    evidence = {**_mapping(fault.get("applied")), **_mapping(fault.get("reverted"))}
    if evidence:
        out["evidence"] = evidence
    if fault.get("effect") is not None:
        out["effect"] = fault["effect"]
    if fault.get("error"):
        out["error"] = fault["error"]
    return out


def _mapping(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, dict) else {}


def exit_code(results: Iterable[ScenarioResult]) -> int:
    """3 if any run aborted or was inconclusive, else 1 if any verdict failed, else 0."""
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
    took = result.finished_at - result.started_at
    lines = [f"{result.scenario.name}: {result.verdict.upper()} ({took:.1f} s)"]
    if result.aborted:
        lines.append(f"  ! aborted: {result.aborted}")
    elif result.no_effect:
        lines.append(f"  ! inconclusive: {result.reason}")
    for check in result.checks:
        mark = "ok  " if check.passed else ("FAIL" if check.decided else "????")
        lines.append(f"  {mark} {check.name}\n         {check.detail}")
    unnamed = result.unnamed_alerts()
    if unnamed:
        lines.append(f"  (not named by the scenario, also active: {', '.join(unnamed)})")
    if result.scenario.runbook and result.verdict != PASS:
        lines.append(f"  runbook: {result.scenario.runbook}")
    if result.run_dir is not None:
        lines.append(f"  evidence: {result.run_dir}")
    return "\n".join(lines)
