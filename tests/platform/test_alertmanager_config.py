"""The platform example's Alertmanager configuration (examples/platform/alertmanager.yml.tmpl).

amtool accepts it once run-stack has filled in the sink; every alert of the platform's rules,
with the labels those rules give it, routes to its team's receiver; and a real Alertmanager,
sent the alerts of a feature-store outage, pages the platform on-call once and no model team,
while a model server that dies meanwhile still pages its own team.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from gameday.errors import StackUnavailable
from gameday.servers.sink.testing import RunningSink, running_sink
from gameday.telemetry import backends
from gameday.telemetry.notifications import Notification

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "examples" / "platform" / "alertmanager.yml.tmpl"
RULES = ROOT / "examples" / "platform" / "prometheus" / "rules.yml"
PLACEHOLDER = "${SINK}"
RECEIVERS = {
    "fraud": "fraud-team",
    "ranking": "ranking-team",
    "personalization": "personalization-team",
    "platform": "platform-oncall",
    "data": "data-oncall",
}
MODELS = ("fraud", "ranking", "personalization")


def filled(sink: str) -> str:
    """The configuration as run-stack writes it: the placeholder replaced by the sink's URL."""
    return TEMPLATE.read_text().replace(PLACEHOLDER, sink)


def amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        pytest.skip("amtool not installed (apt-get install -y prometheus-alertmanager; CI has it)")
    return path


def run_amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([amtool(), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alertmanager") / "alertmanager.yml"
    path.write_text(filled("http://127.0.0.1:9"))
    return path


def alert_label_sets() -> list[dict[str, str]]:
    """Each alert of rules.yml with the labels it fires with (a model's alerts once per model)."""
    sets = []
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in (r for r in group["rules"] if "alert" in r):
            labels = {"alertname": rule["alert"], **rule["labels"]}
            if "{{ $labels.model }}" not in labels["team"]:
                sets.append(labels)
                continue
            sets += [{**labels, "model": m, "team": m} for m in MODELS]
    return sets


# --- offline: the file and amtool -------------------------------------------------------------


def test_every_receiver_is_a_webhook_into_the_sink_that_reports_resolutions() -> None:
    config = yaml.safe_load(filled("http://127.0.0.1:9"))
    assert {r["name"] for r in config["receivers"]} == set(RECEIVERS.values())
    for receiver in config["receivers"]:
        [hook] = receiver["webhook_configs"]
        assert hook["url"] == f"http://127.0.0.1:9/alertmanager/{receiver['name']}"
        assert hook["send_resolved"] is True


def test_the_template_says_how_its_placeholder_is_filled() -> None:
    header = TEMPLATE.read_text().split("\nroute:")[0]
    assert PLACEHOLDER in header and "run-stack" in header


def test_amtool_accepts_the_filled_configuration(config_file: Path) -> None:
    result = run_amtool("check-config", str(config_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_rejects_the_template_left_unfilled() -> None:
    """A stack that forgot to fill in the sink fails at start-up, not at the first page."""
    result = run_amtool("check-config", str(TEMPLATE))
    assert result.returncode != 0
    assert "unsupported scheme" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "labels", alert_label_sets(), ids=lambda labels: f"{labels['alertname']}-{labels['team']}"
)
def test_every_alert_routes_to_its_teams_receiver(
    labels: dict[str, str], config_file: Path
) -> None:
    pairs = [f"{k}={v}" for k, v in labels.items()]
    result = run_amtool("config", "routes", "test", f"--config.file={config_file}", *pairs)
    assert result.stdout.strip() == RECEIVERS[labels["team"]], result.stdout + result.stderr


def test_an_alert_of_no_known_team_still_reaches_the_platform_oncall(config_file: Path) -> None:
    result = run_amtool(
        "config", "routes", "test", f"--config.file={config_file}", "alertname=New", "team=search"
    )
    assert result.stdout.strip() == "platform-oncall"


def test_the_label_sets_cover_every_team() -> None:
    assert {labels["team"] for labels in alert_label_sets()} == set(RECEIVERS)


# --- a real Alertmanager: one incident, one page ------------------------------------------------


def _alert(labels: dict[str, str]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": labels,
        "annotations": {"summary": labels["alertname"]},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
        "generatorURL": "http://127.0.0.1:9/graph",
    }


def _model(alertname: str, model: str, **extra: str) -> dict[str, str]:
    return {"alertname": alertname, "severity": "page", "team": model, "model": model, **extra}


OUTAGE = [
    # The platform's side of a feature-store outage...
    {"alertname": "FeatureStoreDown", "severity": "page", "team": "platform"},
    {"alertname": "PlatformErrorBudgetBurn", "severity": "page", "team": "platform", "slo": "a"},
    {"alertname": "FeatureStoreLatencyHigh", "severity": "page", "team": "platform"},
    # ...the model teams' symptoms of it, and the data team's...
    _model("ModelErrorRateHigh", "fraud"),
    _model("ModelErrorBudgetBurn", "ranking", slo="availability"),
    _model("ModelLatencyHigh", "personalization"),
    {"alertname": "FeaturesStale", "severity": "page", "team": "data", "job": "ingest"},
    # ...and an unrelated incident at the same time: the fraud model's server dies.
    _model("ModelServerDown", "fraud", job="fraud-model", instance="127.0.0.1:9101"),
]


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningSink, str]]:
    """A real Alertmanager with the platform's configuration, sent the outage's alerts."""
    try:
        backends.find_binary(backends.ALERTMANAGER_BINARIES)
    except StackUnavailable:
        pytest.skip("Alertmanager not installed (apt-get install -y prometheus-alertmanager)")
    with running_sink() as sink:
        folder = tmp_path_factory.mktemp("am")
        child = backends.start_alertmanager(filled(sink.url), folder, timeout=30)
        try:
            url = str(child.info["url"])
            reply = requests.post(
                f"{url}/api/v2/alerts", json=[_alert(a) for a in OUTAGE], timeout=10
            )
            assert reply.status_code == 200, reply.text
            _wait_for(lambda: {"platform-oncall", "fraud-team"} <= _receivers(sink), 30)
            yield sink, url
        finally:
            child.stop()


def _receivers(sink: RunningSink) -> set[str]:
    return {n.receiver for n in sink.notifications.since()}


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.1)


def _notified(sink: RunningSink, receiver: str) -> list[Notification]:
    return sink.notifications.since(None, receiver=receiver)


@pytest.mark.integration
def test_a_feature_store_outage_pages_the_platform_oncall_once_with_cause_and_impact(
    outage: tuple[RunningSink, str],
) -> None:
    sink, _ = outage
    [page] = _notified(sink, "platform-oncall")
    assert page.alertnames() == {"FeatureStoreDown", "PlatformErrorBudgetBurn"}
    assert dict(page.group_labels) == {"team": "platform"}


@pytest.mark.integration
def test_no_model_team_and_not_the_data_team_is_paged_for_the_outage(
    outage: tuple[RunningSink, str],
) -> None:
    """Their symptoms are inhibited: watched for 2 s after the platform's page arrived, by
    which time their groups (sent to Alertmanager at the same moment) have been flushed."""
    sink, _ = outage
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        paged = _receivers(sink) & {"ranking-team", "personalization-team", "data-oncall"}
        assert not paged
        time.sleep(0.1)


@pytest.mark.integration
def test_a_model_server_dying_during_the_outage_still_pages_its_team_alone(
    outage: tuple[RunningSink, str],
) -> None:
    sink, _ = outage
    [page] = _notified(sink, "fraud-team")
    assert page.alertnames() == {"ModelServerDown"}
    assert dict(page.group_labels) == {"team": "fraud", "model": "fraud"}


@pytest.mark.integration
def test_alertmanager_shows_each_symptom_inhibited_by_feature_store_down(
    outage: tuple[RunningSink, str],
) -> None:
    _, url = outage
    alerts = requests.get(f"{url}/api/v2/alerts", timeout=10).json()
    by_name = {a["labels"]["alertname"]: a for a in alerts}
    source = by_name["FeatureStoreDown"]["fingerprint"]
    inhibited = {n for n, a in by_name.items() if a["status"]["inhibitedBy"]}
    assert inhibited == {
        "ModelErrorRateHigh",
        "ModelErrorBudgetBurn",
        "ModelLatencyHigh",
        "FeaturesStale",
        "FeatureStoreLatencyHigh",
    }
    assert all(by_name[n]["status"]["inhibitedBy"] == [source] for n in inhibited)
    assert by_name["ModelServerDown"]["status"]["state"] == "active"
