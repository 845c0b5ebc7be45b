"""A finished sweep computed again from its folder: ``sweep.json`` names the param, range and
alerts; every probe is re-judged from its bundle (no network) and the findings rebuilt."""

from __future__ import annotations

import json
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
    walls = {str(p.get("run_dir")): _number(p, "wall_s") for p in _probes(recorded)}
    probes = tuple(
        probe_of(r, param, i, walls.get(str(r.run_dir), 0.0)) for i, r in enumerate(results, 1)
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
    return result, results[0].scenario, differences(recorded, result.to_json())


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
    before = [p.get("fired") for p in _probes(recorded)]
    after = [p.get("fired") for p in _probes(now)]
    for i, (b, a) in enumerate(zip(before, after, strict=False), 1):
        if b != a:
            out.append(f"probe {i}: recorded {b}, recomputed {a}")
    return out
