"""The catalogue against the alert pack: the control run watches every alert, and every alert a
scenario names exists in the pack (a typo would make a check fail for the wrong reason)."""

from __future__ import annotations

from pathlib import Path

import yaml

from gameday.run.session import embedded_template
from gameday.scenario.expectations import AlertExpectation
from gameday.scenario.model import load_scenario, load_scenarios
from gameday.stack import observability

ROOT = Path(__file__).resolve().parents[1]


def pack() -> set[str]:
    return {
        rule["alert"]
        for path in observability.rule_files()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_the_control_run_keeps_every_alert_of_the_pack_silent() -> None:
    control = load_scenario(ROOT / "scenarios" / "control.yaml", environment=embedded_template())
    silent = {e.alert for e in control.expect if isinstance(e, AlertExpectation) and e.silent}
    assert silent == pack()
    assert not control.faults


def test_every_alert_the_catalogue_names_is_in_the_pack() -> None:
    scenarios = load_scenarios([ROOT / "scenarios"], environment=embedded_template())
    named = {e.alert for s in scenarios for e in s.expect if isinstance(e, AlertExpectation)}
    assert named <= pack(), sorted(named - pack())
