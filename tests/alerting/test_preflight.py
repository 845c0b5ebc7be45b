"""Routing checked before a run: ``gameday validate`` refuses paging expectations that the
Alertmanager configuration can never meet, naming the routes, and lets possible ones pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.cli import GamedayCli

from gameday.alerting.preflight import Routing, problems
from gameday.alerting.routing import RoutingTree
from gameday.run.session import embedded_routing
from gameday.scenario.model import parse_scenario
from gameday.stack.observability import alertmanager_config
from gameday.telemetry.backends import start_alertmanager

HEAD = """name: paging
timeline: {baseline: 10s, fault: 30s, recovery: 30s}
faults:
  - {injector: process.kill, target: feature-store}
expect:
"""


def found(expect: str, routing: Routing | None = None) -> list[str]:
    scenario = parse_scenario(HEAD + expect, "paging.yaml")
    return problems(scenario, routing or embedded_routing())


def test_an_alert_expected_at_a_receiver_its_team_label_never_routes_to_is_refused() -> None:
    (problem,) = found(
        "  - {alert: ModelErrorRateHigh, fires_within: 20s, receiver: data-oncall}\n"
    )
    assert problem.startswith("paging.yaml:6: ModelErrorRateHigh can never reach 'data-oncall'")
    assert 'team="ml"' in problem  # the rule's static labels are known
    assert 'ml-oncall (route > routes[0] {team="ml"})' in problem  # where it does go


def test_an_alert_routed_where_its_labels_lead_passes() -> None:
    ok = "  - {alert: ModelErrorRateHigh, fires_within: 20s, receiver: ml-oncall}\n"
    assert found(ok) == []


def test_an_expectation_label_can_make_a_receiver_impossible_or_possible() -> None:
    # An alert of no rule: only its name and the expectation's labels are known.
    unknown = "  - {alert: CustomAlert, fires_within: 20s, receiver: data-oncall}\n"
    assert found(unknown) == []  # its team may be data
    labelled = (
        "  - {alert: CustomAlert, fires_within: 20s, receiver: data-oncall, labels: {team: ml}}\n"
    )
    assert "can never reach 'data-oncall'" in found(labelled)[0]


def test_a_receiver_the_configuration_does_not_have_is_refused_with_the_known_ones() -> None:
    (problem,) = found("  - pages: {receiver: ml-on-call, at_most: 1}\n")
    assert "receiver 'ml-on-call' is not in the embedded stack's Alertmanager configuration" in (
        problem
    )
    assert "ml-oncall, data-oncall, platform-oncall" in problem


def test_alerts_a_route_always_groups_apart_cannot_be_expected_in_one_group() -> None:
    split = "  - grouped: {alerts: [FeatureStoreErrors, ModelErrorRateHigh], receiver: ml-oncall}\n"
    (problem,) = found(split)
    assert "FeatureStoreErrors and ModelErrorRateHigh never share a notification group" in problem
    assert "groups by ['...']" in problem


def test_grouping_by_team_lets_alerts_of_one_team_share_a_group() -> None:
    config = alertmanager_config("http://127.0.0.1:9")
    config["route"]["group_by"] = ["team"]
    routing = Routing(
        RoutingTree.from_config(config), "team-grouped", embedded_routing().rule_labels
    )
    split = "  - grouped: {alerts: [FeatureStoreErrors, ModelErrorRateHigh], receiver: ml-oncall}\n"
    assert found(split, routing) == []


def test_an_inhibition_no_rule_allows_is_refused_and_the_configured_one_passes() -> None:
    assert found("  - inhibited: {alert: FeatureStoreErrors, by: ServiceDown}\n") == []
    (problem,) = found("  - inhibited: {alert: FeatureStoreErrors, by: ModelLatencyHigh}\n")
    assert "no inhibition rule of the embedded stack's Alertmanager configuration" in problem
    assert "can let ModelLatencyHigh mute FeatureStoreErrors (1 rule" in problem


def test_validate_exits_2_with_the_line_of_an_impossible_receiver(
    gameday_cli: GamedayCli, tmp_path: Path
) -> None:
    path = tmp_path / "paging.yaml"
    path.write_text(HEAD + "  - {alert: ServiceDown, fires_within: 20s, receiver: ml-oncall}\n")
    result = gameday_cli("validate", str(path), timeout=60)
    assert result.returncode == 2, result.stdout
    assert f"{path}:6: ServiceDown can never reach 'ml-oncall'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_validate_env_reads_the_routing_of_the_running_alertmanager(
    gameday_cli: GamedayCli, tmp_path: Path
) -> None:
    """Against a real Alertmanager, its own configuration decides (from /api/v2/status): here a
    routing tree with a receiver the embedded stack does not have."""
    config = alertmanager_config("http://127.0.0.1:9")
    config["receivers"].append({"name": "search-team"})
    config["route"]["routes"].insert(0, {"receiver": "search-team", "matchers": ['team="search"']})
    am = start_alertmanager(config, tmp_path / "am")
    try:
        url = f"http://127.0.0.1:{am.port}"
        env = tmp_path / "env.json"
        env.write_text(json.dumps({"alertmanager": url}))
        good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
        good.write_text(
            "name: search\ntimeline: {baseline: 10s, fault: 30s, recovery: 30s}\nexpect:\n"
            "  - {alert: SearchDown, fires_within: 20s, receiver: search-team,"
            " labels: {team: search}}\n"
        )
        bad.write_text(
            "name: search-wrong\ntimeline: {baseline: 10s, fault: 30s, recovery: 30s}\nexpect:\n"
            "  - {alert: SearchDown, fires_within: 20s, receiver: ml-oncall,"
            " labels: {team: search}}\n"
        )
        ok = gameday_cli("validate", "--env", str(env), str(good), timeout=60)
        assert ok.returncode == 0, ok.stderr
        refused = gameday_cli("validate", "--env", str(env), str(bad), timeout=60)
        assert refused.returncode == 2
        assert f"{bad}:4: SearchDown can never reach 'ml-oncall' under the configuration of " in (
            refused.stderr
        )
        assert f"Alertmanager at {url}" in refused.stderr
        assert 'search-team (route > routes[0] {team="search"})' in refused.stderr
    finally:
        am.stop()


def test_validate_env_with_no_alertmanager_answering_says_routing_was_not_checked(
    gameday_cli: GamedayCli, tmp_path: Path
) -> None:
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"alertmanager": "http://127.0.0.1:9"}))
    path = tmp_path / "paging.yaml"
    path.write_text(
        "name: x\ntimeline: {baseline: 10s, fault: 30s, recovery: 30s}\nexpect:\n"
        "  - pages: {receiver: nobody, at_most: 1}\n"
    )
    result = gameday_cli("validate", "--env", str(env), str(path), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "note: routing not checked: Alertmanager at http://127.0.0.1:9" in result.stderr
