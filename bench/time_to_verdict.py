"""Time to verdict: wall time of the catalogue's latency scenario over its physical bound.

The physical bound is what no tool can beat: the configured baseline, plus the alerting chain's
detection time (fault applied → alert firing, measured in the same run), plus the time the
fault's alerts took to resolve after the revert (also measured). A ratio near 1 means the run
wastes nothing; adaptive phases are what bring it down from the fixed timeline's. With
``--fixed`` the same scenario also runs with ``adaptive: false`` in the same session, for the
side-by-side ratio.

    python bench/time_to_verdict.py [--fixed] [--scenario scenarios/feature-store-latency.yaml]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gameday.run.console import Console
from gameday.run.results import ScenarioResult
from gameday.run.runner import run_scenario
from gameday.scenario.environment import Environment
from gameday.scenario.model import load_scenario
from gameday.stack.launcher import Stack

ROOT = Path(__file__).resolve().parents[1]


def _seconds(value: object) -> float:
    """A time read from a check's JSON (``None`` or absent: 0)."""
    return float(value) if isinstance(value, int | float) else 0.0


def physical_bound(result: ScenarioResult) -> tuple[float, float, float]:
    """``(baseline, detection, resolution)`` seconds measured in the run."""
    checks = {c.kind: c for c in result.checks if c.passed}
    alert_checks = [c for c in result.checks if c.kind == "alert"]
    detected = max(_seconds(c.extra.get("detected_after_s")) for c in alert_checks)
    recovered = checks.get("recovered")
    alerts = recovered.evidence.get("alerts", []) if recovered else []
    assert isinstance(alerts, list), alerts  # the recovered check's rows, one per alert
    resolved = max((_seconds(a["resolved_after_s"]) for a in alerts), default=0.0)
    return result.scenario.timeline.baseline, detected, resolved


def measure(scenario_path: Path, env: Environment, adaptive: bool, workdir: Path) -> None:
    scenario = load_scenario(scenario_path)
    if not adaptive:
        timeline = scenario.timeline.model_copy(update={"adaptive": False})
        scenario = scenario.model_copy(update={"timeline": timeline})
    start = time.monotonic()
    result = run_scenario(scenario, env, Console(quiet=True), workdir)
    wall = time.monotonic() - start
    base, detect, resolve = physical_bound(result)
    bound = base + detect + resolve
    label = "adaptive" if adaptive else "fixed"
    print(
        f"{label:8}  verdict {result.verdict:5}  wall {wall:6.1f} s  bound {bound:5.1f} s "
        f"(baseline {base:g} + detection {detect:.1f} + resolution {resolve:.1f})  "
        f"ratio {wall / bound:.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", type=Path, default=ROOT / "scenarios" / "feature-store-latency.yaml"
    )
    parser.add_argument("--fixed", action="store_true", help="also run with adaptive phases off")
    args = parser.parse_args()
    with Stack() as stack, tempfile.TemporaryDirectory() as tmp:
        env = Environment.from_endpoints(stack.endpoints)
        measure(args.scenario, env, True, Path(tmp) / "a")
        if args.fixed:
            measure(args.scenario, env, False, Path(tmp) / "f")


if __name__ == "__main__":
    main()
