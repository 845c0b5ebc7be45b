"""A sweep's findings: thresholds per alert, the impact curve and the blind spot.

Computed from the probes alone (``sweep.json`` and the probes' bundles), the same way
during a sweep and by ``gameday sweep --replay``. ``sweep.json``'s keys are documented in
``docs/reference/sweep.md``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from gameday.scenario.model import Scenario, scenario_document
from gameday.sweep.impact import rebased
from gameday.sweep.param import Param, Span
from gameday.sweep.probe import Probe
from gameday.sweep.search import Threshold, threshold

FORMAT = "gameday-sweep"


@dataclass(frozen=True)
class BlindSpot:
    """The worst probe nothing noticed: the most severe silent one, or the silent one with
    the most harm on the chosen measure."""

    probe: Probe
    measure: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "magnitude": self.probe.magnitude,
            "probe": self.probe.index,
            "measure": self.measure,
            "impact": {name: m.harm for name, m in self.probe.impact.items()},
        }


@dataclass(frozen=True)
class SweepResult:
    """Everything a sweep found."""

    scenario: str
    scenario_file: str | None
    param: Param
    span: Span
    alerts: tuple[str, ...]
    probes: tuple[Probe, ...]
    wall_s: float
    measure: str | None = None  # the impact the blind spot is ranked by (None: severity)
    budget: int = 0

    def __post_init__(self) -> None:
        # Every probe's harm against the sweep's one reference (see impact.rebased).
        impacts = rebased([p.impact for p in self.probes])
        probes = tuple(replace(p, impact=i) for p, i in zip(self.probes, impacts, strict=True))
        object.__setattr__(self, "probes", probes)

    @property
    def thresholds(self) -> dict[str, Threshold]:
        observations = [p.observation() for p in self.probes]
        return {a: threshold(observations, a, self.span) for a in self.alerts}

    @property
    def blind_spot(self) -> BlindSpot | None:
        silent = [p for p in self.probes if p.silent]
        if not silent:
            return None
        measure = self.measure
        if measure is not None:
            scored = [p for p in silent if _harm(p, measure) is not None]
            if scored:
                return BlindSpot(max(scored, key=lambda p: _harm(p, measure) or 0.0), measure)
        return BlindSpot(max(silent, key=lambda p: self.span.severity(p.magnitude)), None)

    def to_json(self, folder: Path | None = None) -> dict[str, object]:
        """The findings as ``sweep.json`` holds them; with ``folder``, each probe's
        ``run_dir`` is relative to it, so the sweep's folder can be moved or archived whole."""
        spot = self.blind_spot
        ts = self.thresholds
        return {
            "format": FORMAT,
            "scenario": self.scenario,
            "scenario_file": self.scenario_file,
            "param": self.param.path,
            "from": self.span.start,
            "to": self.span.stop,
            "scale": self.span.scale,
            "alerts": list(self.alerts),
            "budget": self.budget,
            "probes_run": len(self.probes),
            "wall_s": round(self.wall_s, 1),
            "blind_spot_measure": self.measure,
            "thresholds": {a: t.magnitude for a, t in ts.items()},
            "confidence": {a: t.to_json() for a, t in ts.items()},
            "probes": [_probe_json(p, folder) for p in self.probes],
            "blind_spot": spot.to_json() if spot else None,
        }


def _probe_json(probe: Probe, folder: Path | None) -> dict[str, object]:
    data = probe.to_json()
    if folder is not None and probe.run_dir:
        data["run_dir"] = os.path.relpath(Path(probe.run_dir).resolve(), folder.resolve())
    return data


def _harm(probe: Probe, measure: str) -> float | None:
    found = probe.impact.get(measure)
    return found.harm if found else None


def summary(result: SweepResult) -> str:
    """The findings in a few lines, for the console."""
    lines = [
        f"sweep of {result.scenario} over {result.param.path} from {result.span.start:g} to "
        f"{result.span.stop:g} ({result.span.scale}): {len(result.probes)} probe(s), "
        f"{result.wall_s / 60:.1f} min"
    ]
    for alert, t in result.thresholds.items():
        found = f"fires from {t.magnitude:g}" if t.magnitude is not None else "never fired"
        lines.append(f"  {alert}: {found} ({t.confidence}: {t.note})")
    spot = result.blind_spot
    if spot is None:
        lines.append("  blind spot: none (every probe was noticed, or could not tell)")
    else:
        harms = ", ".join(
            f"{name} {m.harm:+.3g}" for name, m in spot.probe.impact.items() if m.harm is not None
        )
        lines.append(
            f"  blind spot: {result.param.name}={spot.probe.magnitude:g}, nothing fired; "
            f"impact {harms or 'not measured'}"
        )
    return "\n".join(lines)


def blind_spot_scenario(
    result: SweepResult, scenario: Scenario, folder: Path
) -> dict[str, object] | None:
    """A scenario document for the blind spot's magnitude, to be written into ``folder``: the
    scenario's own expectations at the magnitude nothing noticed, so it fails until the
    monitoring catches that fault."""
    spot = result.blind_spot
    if spot is None:
        return None
    document = scenario_document(scenario)
    if scenario.load is not None and scenario.load.locustfile is not None:
        locustfile = os.path.relpath(scenario.load.locustfile.resolve(), folder.resolve())
        document["load"]["locustfile"] = locustfile
    document["faults"][result.param.fault]["params"][result.param.name] = spot.probe.magnitude
    document["name"] = f"{scenario.name}-blind-spot"
    document.pop("seed", None)
    harms = ", ".join(
        f"{name} {m.harm:+.3g}" for name, m in spot.probe.impact.items() if m.harm is not None
    )
    day = time.strftime("%Y-%m-%d", time.gmtime())
    document["summary"] = (
        f"Written by gameday sweep on {day} from {scenario.name}: at "
        f"{result.param.path}={spot.probe.magnitude:g} none of {', '.join(result.alerts)} fired "
        f"within its bound and no other alert fired, while the impact was "
        f"{harms or 'not measured'}. It fails until the monitoring notices this fault."
    )
    tags = [t for t in document.get("tags", []) if t != "blind-spot"]
    document["tags"] = [*tags, "blind-spot"]
    return document


def write_scenario(path: Path, document: dict[str, object]) -> None:
    """Write a scenario document as YAML, keys in the loader's order."""
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=96)
    path.write_text("# Written by `gameday sweep` for the blind spot it found.\n" + text)
