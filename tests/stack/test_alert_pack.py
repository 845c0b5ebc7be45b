"""The alert pack: valid rules, every contract alert present and documented, unit tested."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gameday.stack import observability

ROOT = Path(__file__).resolve().parents[2]
SERVING_AND_DATA_ALERTS = {
    "ModelLatencyHigh",
    "ModelErrorRateHigh",
    "FeatureStoreErrors",
    "FeatureNullRateHigh",
    "FeatureDriftHigh",
    "PredictionDriftHigh",
    "BatchValidationFailed",
    "FeaturesStale",
    "ServiceDown",
    "ErrorBudgetBurn",
}


def _alert_rules() -> list[dict[str, object]]:
    rules = []
    for path in observability.rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    return rules


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: apt-get install -y prometheus")
    return path


def test_rule_files_pass_promtool_check() -> None:
    files = [str(p) for p in observability.rule_files()]
    result = subprocess.run([_promtool(), "check", "rules", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_show_every_alert_firing_and_silent() -> None:
    tests = observability.rule_files()[0].with_name("reference-stack.rules.test.yml")
    result = subprocess.run(
        [_promtool(), "test", "rules", str(tests)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    covered = set(re.findall(r"alertname: (\w+)", tests.read_text()))
    assert covered >= {str(r["alert"]) for r in _alert_rules()}


def test_pack_has_every_alert_named_in_the_contract() -> None:
    names = {str(r["alert"]) for r in _alert_rules()}
    assert names >= SERVING_AND_DATA_ALERTS


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda r: str(r["alert"]))
def test_every_alert_is_routable_and_actionable(rule: dict[str, object]) -> None:
    labels, annotations = rule["labels"], rule["annotations"]
    assert isinstance(labels, dict) and isinstance(annotations, dict)
    assert labels["severity"] in {"page", "ticket"}
    assert labels["team"] in observability.RECEIVERS
    assert {"summary", "description", "runbook_url"} <= set(annotations)


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda r: str(r["alert"]))
def test_every_runbook_link_has_a_section_in_the_runbooks(rule: dict[str, object]) -> None:
    url = str(rule["annotations"]["runbook_url"])  # type: ignore[index]
    anchor = url.split("#", 1)[1]
    headings = re.findall(r"^## (\w+)", (ROOT / "docs" / "runbooks.md").read_text(), re.M)
    assert anchor in {h.lower() for h in headings}


def test_alertmanager_config_is_valid_and_routes_teams_to_receivers(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.fail("amtool not found: apt-get install -y prometheus-alertmanager")
    config = observability.alertmanager_config("http://127.0.0.1:9999", token="s3cret")
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(config))
    check = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    route = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={path}", "team=data", "alertname=X"],
        capture_output=True,
        text=True,
    )
    assert route.stdout.strip() == "data-oncall"
