"""A finished sweep computed again from its folder: ``sweep.json`` names the param, range and
alerts; every probe is re-judged from its bundle (no network) and the findings rebuilt."""

from __future__ import annotations

import json
import math
from pathlib import Path

from gameday.errors import ScenarioError
from gameday.evidence.bundle import find_bundles, read_bundle
from gameday.run.judge import rejudge
from gameday.scenario.model import Scenario
from gameday.sweep.param import Param, Span, parse_path
from gameday.sweep.probe import probe_of
from gameday.sweep.result import FORMAT, SweepResult


def recompute(folder: Path, measure: str | None = None) -> tuple[SweepResult, Scenario, list[str]]:
    """The sweep in ``folder`` recomputed, the scenario it swept, and every way the recomputed
    findings differ from the recorded ``sweep.json``."""
    recorded = _recorded(folder)
    param = _param(folder, _text(recorded, "param"))
    span = Span.between(_number(recorded, "from"), _number(recorded, "to"))
    bundles = [read_bundle(p) for p in find_bundles([folder / "probes"])]
    if not bundles:
        raise ScenarioError(f"{folder}: no probe bundles under probes/")
    bundles.sort(key=lambda b: b.evidence.timeline.started_at)
    results = [rejudge(b) for b in bundles]
    # A probe's wall time is not in its bundle; it is kept from sweep.json, matched by the
    # run folder's name (run_dir is relative to the sweep's folder, or as the sweep was given).
    walls = {Path(str(p.get("run_dir"))).name: _number(p, "wall_s") for p in _probes(recorded)}
    probes = tuple(
        probe_of(r, param, i, walls.get(Path(str(r.run_dir)).name, 0.0))
        for i, r in enumerate(results, 1)
    )
    alerts = recorded.get("alerts")
    kept_measure = recorded.get("blind_spot_measure")
    result = SweepResult(
        scenario=_text(recorded, "scenario"),
        scenario_file=_text(recorded, "scenario_file") or None,
        param=param,
        span=span,
        alerts=tuple(str(a) for a in alerts) if isinstance(alerts, list) else (),
        probes=probes,
        wall_s=_number(recorded, "wall_s"),
        measure=measure
        if measure is not None
        else (kept_measure if isinstance(kept_measure, str) else None),
        budget=int(_number(recorded, "budget")),
    )
    return result, results[0].scenario, differences(recorded, result.to_json(folder))


def _recorded(folder: Path) -> dict[str, object]:
    file = folder / "sweep.json"
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"not a sweep folder: {exc}", file) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ScenarioError(f"not a sweep file (format is not {FORMAT!r})", file)
    return data


def _text(data: dict[str, object], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _number(data: dict[str, object], key: str) -> float:
    value = data.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


def _param(folder: Path, path: str) -> Param:
    found = parse_path(path)
    if found is None:
        raise ScenarioError(f"param {path!r} is not faults[I].params.NAME", folder / "sweep.json")
    return found


def _probes(recorded: dict[str, object]) -> list[dict[str, object]]:
    probes = recorded.get("probes")
    return [p for p in probes if isinstance(p, dict)] if isinstance(probes, list) else []


def differences(recorded: dict[str, object], now: dict[str, object]) -> list[str]:
    """Where the recomputed findings differ from the recorded ones."""
    out = [
        f"{key}: recorded {recorded.get(key)}, recomputed {now.get(key)}"
        for key in ("thresholds", "probes_run")
        if recorded.get(key) != now.get(key)
    ]
    spots = [d.get("blind_spot") for d in (recorded, now)]
    where = [s.get("magnitude") if isinstance(s, dict) else None for s in spots]
    if where[0] != where[1]:
        out.append(f"blind spot: recorded at {where[0]}, recomputed at {where[1]}")
    pairs = zip(_probes(recorded), _probes(now), strict=False)
    for i, (before, after) in enumerate(pairs, 1):
        if before.get("fired") != after.get("fired"):
            out.append(
                f"probe {i}: recorded {before.get('fired')}, recomputed {after.get('fired')}"
            )
        out.extend(f"probe {i}: {d}" for d in _impact_differences(before, after))
    return out


def _impact_differences(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """Each impact measure of one probe that the bundle no longer gives (JSON keeps every
    digit, so anything past float rounding is a real change)."""
    old, new = (p.get("impact") for p in (before, after))
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else [f"impact: recorded {old}, recomputed {new}"]
    out = []
    for name in [*old, *(n for n in new if n not in old)]:
        a, b = old.get(name), new.get(name)
        if isinstance(a, int | float) and isinstance(b, int | float):
            if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
                continue
        elif a == b:
            continue
        out.append(f"impact {name}: recorded {a}, recomputed {b}")
    return out
