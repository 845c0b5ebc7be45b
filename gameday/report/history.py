"""Run history in SQLite: every scenario run and its checks, detection times over time.

One file (default ``.gameday/history.sqlite``) holds a row per scenario run (``runs``) and a
row per check (``checks``). For checks that time an alert (``fires_within``), ``alert`` and
``detected_after_s`` make a detection-time series per (scenario, alert), so a slow drift in
how fast the monitoring notices shows up before it misses a bound. :func:`regressions` flags a
detection time more than ``factor`` (2) times the median of that alert's last ``window`` (5)
runs in that scenario; :func:`verdict_changes` lists pass→fail and fail→pass flips.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sqlite3
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gameday.run.results import ScenarioResult
from gameday.scenario.expectations import AlertExpectation

DEFAULT_PATH = Path(".gameday") / "history.sqlite"
FACTOR, WINDOW, MIN_HISTORY = 2.0, 5, 3
# Metadata that says where a run happened without asking git (CI systems set these).
CI_VARIABLES = ("CI", "GITHUB_SHA", "GITHUB_REF_NAME", "GITHUB_RUN_ID", "GITHUB_WORKFLOW",
                "CI_COMMIT_SHA", "CI_PIPELINE_ID", "BUILD_ID")  # fmt: skip

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    scenario TEXT NOT NULL,
    verdict TEXT NOT NULL,
    duration_s REAL NOT NULL,
    reason TEXT,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_scenario ON runs (scenario, started_at);
CREATE TABLE IF NOT EXISTS checks (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    passed INTEGER NOT NULL,
    decided INTEGER NOT NULL DEFAULT 1,
    alert TEXT,
    detected_after_s REAL,
    PRIMARY KEY (run_id, position)
);
"""


@dataclass(frozen=True)
class CheckRow:
    """One check of a stored run; ``alert`` is set on checks that time an alert."""

    kind: str
    name: str
    passed: bool
    decided: bool = True
    alert: str | None = None
    detected_after_s: float | None = None


@dataclass(frozen=True)
class RunRow:
    """One stored scenario run."""

    id: int
    started_at: float
    scenario: str
    verdict: str
    duration_s: float
    reason: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    checks: tuple[CheckRow, ...] = ()


@dataclass(frozen=True)
class Point:
    """One run's detection time of one alert (``None``: the alert did not fire)."""

    run_id: int
    started_at: float
    detected_after_s: float | None


@dataclass(frozen=True)
class Regression:
    """A run whose detection time exceeded ``factor`` x the median of the runs before it."""

    scenario: str
    alert: str
    run_id: int
    started_at: float
    detected_after_s: float | None
    median_s: float
    history: int  # how many earlier runs the median is over

    def describe(self, factor: float = FACTOR) -> str:
        took = "did not fire" if self.detected_after_s is None else f"{self.detected_after_s:.1f} s"
        return (
            f"{self.alert} detection {took}: more than {factor:g}x the median "
            f"{self.median_s:.1f} s of its last {self.history} runs"
        )


@dataclass(frozen=True)
class VerdictChange:
    """A scenario's verdict differing from its previous run's."""

    scenario: str
    run_id: int
    started_at: float
    before: str
    after: str


class History:
    """The history file: ``record`` appends a run, the queries read runs and series back."""

    def __init__(self, path: str | Path = DEFAULT_PATH):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.executescript(SCHEMA)

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def record(self, result: ScenarioResult) -> int:
        """Append one scenario run with its checks; return its run id."""
        took = result.finished_at - result.started_at
        return self.add_run(
            result.started_at,
            result.scenario.name,
            result.verdict,
            took,
            check_rows(result),
            reason=result.reason,
            meta=run_meta(result),
        )

    def add_run(
        self,
        started_at: float,
        scenario: str,
        verdict: str,
        duration_s: float,
        checks: Iterable[CheckRow] = (),
        *,
        reason: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> int:
        """Append a run from plain values (what :meth:`record` stores); return its id."""
        with self.db:  # one transaction: a run is stored with all its checks or not at all
            cur = self.db.execute(
                "INSERT INTO runs (started_at, scenario, verdict, duration_s, reason, meta)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (started_at, scenario, verdict, duration_s, reason, json.dumps(meta or {})),
            )
            run_id = int(cur.lastrowid or 0)
            self.db.executemany(
                "INSERT INTO checks (run_id, position, kind, name, passed, decided, alert,"
                " detected_after_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, i, c.kind, c.name, c.passed, c.decided, c.alert, c.detected_after_s)
                    for i, c in enumerate(checks)
                ],
            )
        return run_id

    def runs(self, scenario: str | None = None) -> list[RunRow]:
        """Stored runs, oldest first, each with its checks (only ``scenario``'s, if given)."""
        rows = self.db.execute(
            "SELECT id, started_at, scenario, verdict, duration_s, reason, meta FROM runs"
            " WHERE (?1 IS NULL OR scenario = ?1) ORDER BY started_at, id",
            (scenario,),
        ).fetchall()
        checks = self._checks(scenario)
        return [
            RunRow(i, t, s, v, d, why, json.loads(meta or "{}"), tuple(checks.get(i, ())))
            for i, t, s, v, d, why, meta in rows
        ]

    def _checks(self, scenario: str | None) -> dict[int, list[CheckRow]]:
        query = (
            "SELECT run_id, kind, name, passed, decided, alert, detected_after_s FROM checks"
            " WHERE (?1 IS NULL OR run_id IN (SELECT id FROM runs WHERE scenario = ?1))"
            " ORDER BY run_id, position"
        )
        out: dict[int, list[CheckRow]] = {}
        for run_id, kind, name, passed, decided, alert, after in self.db.execute(
            query, (scenario,)
        ):
            out.setdefault(run_id, []).append(
                CheckRow(kind, name, bool(passed), bool(decided), alert, after)
            )
        return out


def check_rows(result: ScenarioResult) -> list[CheckRow]:
    """The rows of a result's checks; alert-timing checks carry their alert and detection."""
    expect = list(result.scenario.expect)
    pairs = zip(expect, result.checks, strict=True) if len(expect) == len(result.checks) else ()
    timed = {
        id(c): e.alert
        for e, c in pairs
        if isinstance(e, AlertExpectation) and e.fires_within is not None
    }
    return [
        CheckRow(
            c.kind,
            c.name,
            c.passed,
            c.decided,
            timed.get(id(c)),
            _seconds(c.extra.get("detected_after_s")),
        )
        for c in result.checks
    ]


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def run_meta(result: ScenarioResult) -> dict[str, Any]:
    """Where and what ran, without git: host, versions, scenario file and tags, CI variables."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        gameday_version = version("gameday-ml")
    except PackageNotFoundError:
        gameday_version = "unknown"
    meta: dict[str, Any] = {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "gameday": gameday_version,
        "tags": list(result.scenario.tags),
        "faults": [f.title for f in result.scenario.faults],
    }
    if result.scenario.source:
        meta["file"] = str(result.scenario.source)
    ci = {k: os.environ[k] for k in CI_VARIABLES if os.environ.get(k)}
    if ci:
        meta["ci"] = ci
    return meta


def detection_series(runs: Iterable[RunRow]) -> dict[tuple[str, str], list[Point]]:
    """Per (scenario, alert): each run's detection time, oldest first (one point per run)."""
    series: dict[tuple[str, str], list[Point]] = {}
    for run in sorted(runs, key=lambda r: (r.started_at, r.id)):
        seen: set[str] = set()
        for check in run.checks:
            if check.alert is None or check.alert in seen:
                continue  # two checks of one alert time the same firing: count it once
            seen.add(check.alert)
            point = Point(run.id, run.started_at, check.detected_after_s)
            series.setdefault((run.scenario, check.alert), []).append(point)
    return series


def regressions(
    scenario: str,
    alert: str,
    points: Sequence[Point],
    *,
    factor: float = FACTOR,
    window: int = WINDOW,
    min_history: int = MIN_HISTORY,
) -> list[Regression]:
    """Runs whose detection time was over ``factor`` x the median of the last ``window``
    detection times before it (needing ``min_history`` of them), or that did not fire at all."""
    out = []
    for i, point in enumerate(points):
        before = [p.detected_after_s for p in points[:i] if p.detected_after_s is not None]
        recent = before[-window:]
        if len(recent) < min_history:
            continue
        median = statistics.median(recent)
        took = point.detected_after_s
        if took is None or took > factor * median:
            out.append(
                Regression(
                    scenario, alert, point.run_id, point.started_at, took, median, len(recent)
                )
            )
    return out


def all_regressions(runs: Iterable[RunRow], **kw: Any) -> list[Regression]:
    """:func:`regressions` over every (scenario, alert) series of ``runs``, in time order."""
    found = [
        r
        for (scenario, alert), points in detection_series(runs).items()
        for r in regressions(scenario, alert, points, **kw)
    ]
    return sorted(found, key=lambda r: (r.started_at, r.run_id, r.alert))


def verdict_changes(runs: Iterable[RunRow]) -> list[VerdictChange]:
    """Every run whose verdict differs from the previous run of the same scenario."""
    last: dict[str, str] = {}
    out = []
    for run in sorted(runs, key=lambda r: (r.started_at, r.id)):
        before = last.get(run.scenario)
        if before is not None and before != run.verdict:
            out.append(VerdictChange(run.scenario, run.id, run.started_at, before, run.verdict))
        last[run.scenario] = run.verdict
    return out


def to_json(runs: Sequence[RunRow]) -> dict[str, Any]:
    """Runs, detection series, regressions and verdict changes as JSON data."""
    return {
        "runs": [asdict(r) for r in runs],
        "detection": [
            {"scenario": s, "alert": a, "points": [asdict(p) for p in pts]}
            for (s, a), pts in detection_series(runs).items()
        ],
        "regressions": [asdict(r) for r in all_regressions(runs)],
        "verdict_changes": [asdict(c) for c in verdict_changes(runs)],
    }


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def _spark(values: Sequence[float | None]) -> str:
    """A sparkline of detection times (``x`` where the alert did not fire)."""
    bars = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
    top = max((v for v in values if v is not None), default=0.0) or 1.0
    return "".join("x" if v is None else bars[min(7, int(v / top * 7.999))] for v in values)


def render_text(runs: Sequence[RunRow], limit: int = 20) -> str:
    """The history as text: per scenario its last ``limit`` runs, then per alert the detection
    times over time, then regressions and verdict changes."""
    if not runs:
        return "no runs recorded yet"
    flags = _flags(runs)
    lines: list[str] = []
    for scenario in sorted({r.scenario for r in runs}):
        mine = [r for r in runs if r.scenario == scenario]
        lines += _scenario_lines(scenario, mine, limit, flags)
    return "\n".join(lines + _summary_lines(runs))


def _flags(runs: Sequence[RunRow]) -> dict[int, list[str]]:
    flags: dict[int, list[str]] = {}
    for reg in all_regressions(runs):
        flags.setdefault(reg.run_id, []).append(f"REGRESSION: {reg.describe()}")
    for change in verdict_changes(runs):
        flags.setdefault(change.run_id, []).append(f"verdict {change.before} \u2192 {change.after}")
    return flags


def _scenario_lines(
    scenario: str, runs: Sequence[RunRow], limit: int, flags: Mapping[int, list[str]]
) -> list[str]:
    lines = [f"{scenario}: {len(runs)} run(s)"]
    for run in runs[-limit:]:
        timed = [
            f"{c.alert} {'-' if c.detected_after_s is None else f'{c.detected_after_s:.1f} s'}"
            for c in run.checks
            if c.alert
        ]
        passed = sum(c.passed for c in run.checks)
        marks = "  <- " + "; ".join(flags[run.id]) if run.id in flags else ""
        lines.append(
            f"  {_when(run.started_at)}  {run.verdict:<7}  {run.duration_s:6.1f} s  "
            f"checks {passed}/{len(run.checks)}  {', '.join(dict.fromkeys(timed))}{marks}"
        )
    for (_, alert), points in detection_series(runs).items():
        values = [p.detected_after_s for p in points[-limit:]]
        shown = " ".join("-" if v is None else f"{v:.1f}" for v in values)
        lines.append(f"  {alert} detection over time (s): {shown}  {_spark(values)}")
    return [*lines, ""]


def _summary_lines(runs: Sequence[RunRow]) -> list[str]:
    regs, changes = all_regressions(runs), verdict_changes(runs)
    lines = [f"regressions: {len(regs)}"]
    lines += [f"  {_when(r.started_at)}  {r.scenario}: {r.describe()}" for r in regs]
    lines.append(f"verdict changes: {len(changes)}")
    lines += [
        f"  {_when(c.started_at)}  {c.scenario}: {c.before} \u2192 {c.after}" for c in changes
    ]
    return lines
