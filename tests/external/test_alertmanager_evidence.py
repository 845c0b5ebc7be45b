"""Alert evidence when gameday's webhook sink hears nothing: Alertmanager's view, polled in the run.

Prometheus, Alertmanager and the sink are canned answers here; the live path (a real
Alertmanager whose receivers page elsewhere) is in test_external_environment.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from gameday.evidence.alertwatch import AlertmanagerLog
from gameday.evidence.observe import Observability
from gameday.run.record import FaultRecord, Phase, RunRecord
from gameday.scenario.environment import Environment
from gameday.scenario.model import parse_scenario
from gameday.telemetry._time import format_rfc3339
from gameday.telemetry.alertmanager import AlertmanagerClient
from gameday.verifiers.alerts import ALERTMANAGER_API, WEBHOOK, AlertVerifier

LABELS = {"alertname": "ModelLatencyHigh", "service": "model-server", "team": "ml"}
SCENARIO = """\
name: latency
faults: [{injector: network.latency, target: feature-store, params: {latency_ms: 800}}]
expect:
  - {alert: ModelLatencyHigh, fires_within: 30s, labels: {service: model-server}, receiver: %s}
"""


def _am_alert(starts_at: float, receivers: list[str], state: str = "active") -> dict[str, Any]:
    return {
        "labels": LABELS,
        "annotations": {},
        "startsAt": format_rfc3339(starts_at),
        "endsAt": format_rfc3339(starts_at + 3600),
        "updatedAt": format_rfc3339(starts_at),
        "fingerprint": "c0ffee",
        "receivers": [{"name": r} for r in receivers],
        "status": {"state": state, "silencedBy": [], "inhibitedBy": []},
        "generatorURL": "",
    }


def _prometheus(fault_at: float) -> dict[str, tuple[int, Any]]:
    """ALERTS: pending from +4 s, firing from +7 s after the fault; rules and intervals."""
    pending = [[fault_at + s, "1"] for s in range(4, 7)]
    firing = [[fault_at + s, "1"] for s in range(7, 20)]
    matrix = [
        {"metric": {**LABELS, "__name__": "ALERTS", "alertstate": "pending"}, "values": pending},
        {"metric": {**LABELS, "__name__": "ALERTS", "alertstate": "firing"}, "values": firing},
    ]
    rule = {"type": "alerting", "name": "ModelLatencyHigh", "duration": 2, "labels": {}}
    config = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
    return {
        "/api/v1/query_range": (200, _ok({"resultType": "matrix", "result": matrix})),
        "/api/v1/rules": (200, _ok({"groups": [{"name": "g", "rules": [rule]}]})),
        "/api/v1/status/config": (200, _ok({"yaml": config})),
    }


def _ok(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


def _run(url: str, receiver: str, fault_at: float, sink: str | None) -> RunRecord:
    endpoints = {"prometheus": url, "alertmanager": url, "toxiproxy": url, "model_server": url}
    env = Environment.from_endpoints({**endpoints, **({"sink": sink} if sink else {})})
    scenario = parse_scenario(SCENARIO % receiver, "latency.yaml", environment=env)
    record = RunRecord(scenario, env, Observability(env), started_at=fault_at - 20)
    record.phases = {"fault": Phase("fault", fault_at, fault_at + 25, 25)}
    record.faults = [FaultRecord(0, scenario.faults[0], "f0", applied_at=fault_at)]
    record.faults[0].reverted_at = fault_at + 25
    return record


def test_first_sighting_of_each_active_alert_instance_is_kept_with_its_receivers(canned_http):
    table = {"/api/v2/alerts": (200, [_am_alert(100.0, ["ml-oncall"])])}
    client = AlertmanagerClient(canned_http(table))
    log = AlertmanagerLog(every_s=0.0)

    log.poll(client)
    first = log.seen("ModelLatencyHigh")[0].first_seen
    table["/api/v2/alerts"] = (200, [_am_alert(100.0, ["ml-oncall"]), _am_alert(200.0, ["x"])])
    log.poll(client)

    [one, two] = log.seen("ModelLatencyHigh", {"service": "model-server"})
    assert (one.first_seen, one.starts_at, one.receivers) == (first, 100.0, ("ml-oncall",))
    assert (two.starts_at, two.receivers) == (200.0, ("x",))  # fired again: a new instance
    assert log.seen("ModelLatencyHigh", {"service": "other"}) == []


def test_suppressed_alerts_are_not_sightings_and_polls_are_rate_limited(canned_http):
    table = {"/api/v2/alerts": (200, [_am_alert(100.0, ["ml-oncall"], state="suppressed")])}
    log = AlertmanagerLog(every_s=60.0)
    client = AlertmanagerClient(canned_http(table))

    log.poll(client)
    log.poll(client)

    assert (log.sightings, log.polls) == ({}, 1)


def test_an_unreachable_alertmanager_is_noted_not_raised_and_retried_later(canned_http):
    log = AlertmanagerLog(every_s=0.0)
    answering = AlertmanagerClient(canned_http({"/api/v2/alerts": (200, [_am_alert(1.0, [])])}))

    log.poll_url("http://127.0.0.1:9")
    log.poll(answering)  # right after a failure: not yet

    assert (log.sightings, log.polls) == ({}, 0)
    assert "127.0.0.1:9" in (log.error or "")


@pytest.mark.parametrize("sink", ["none", "silent", "not a sink"])
def test_without_a_webhook_the_notified_stage_and_receiver_come_from_alertmanager(
    canned_http, sink
):
    """No sink, a sink that heard nothing, or a URL that is no sink (``traces`` is a Tempo)."""
    fault_at = time.time() - 30
    table = _prometheus(fault_at)
    table["/api/v2/alerts"] = (200, [_am_alert(fault_at + 7.2, ["ml-oncall"])])
    if sink == "silent":
        table["/api/notifications"] = (200, {"notifications": []})
    url = canned_http(table)
    run = _run(url, "ml-oncall", fault_at, None if sink == "none" else url)
    run.alertmanager_seen.poll(run.observe.alertmanager)  # as the runner does every second

    check = AlertVerifier().check(run.scenario.expect[0], run)

    assert check.passed, check.detail
    assert "seen active in Alertmanager's API" in check.detail
    assert "routed to ml-oncall" in check.detail
    assert check.evidence["notified_via"] == ALERTMANAGER_API
    assert check.evidence["receivers"] == ["ml-oncall"]
    assert check.extra["detected_after_s"] == pytest.approx(7.2, abs=0.01)  # Alertmanager's FiredAt


def test_alertmanager_routing_elsewhere_fails_the_receiver_check(canned_http):
    fault_at = time.time() - 30
    table = _prometheus(fault_at)
    table["/api/v2/alerts"] = (200, [_am_alert(fault_at + 7.2, ["platform-oncall"])])
    run = _run(canned_http(table), "ml-oncall", fault_at, None)
    run.alertmanager_seen.poll(run.observe.alertmanager)

    check = AlertVerifier().check(run.scenario.expect[0], run)

    assert not check.passed
    assert "routed to platform-oncall, not ml-oncall" in check.detail


def test_a_webhook_that_reached_gameday_is_preferred(canned_http):
    fault_at = time.time() - 30
    table = _prometheus(fault_at)
    table["/api/v2/alerts"] = (200, [_am_alert(fault_at + 7.2, ["platform-oncall"])])
    note = {
        "received_at": fault_at + 7.5,
        "receiver": "ml-oncall",
        "payload_receiver": "ml-oncall",
        "status": "firing",
        "alerts": [{"status": "firing", "labels": LABELS, "starts_at": fault_at + 7.2}],
    }
    table["/api/notifications"] = (200, {"notifications": [note]})
    url = canned_http(table)
    run = _run(url, "ml-oncall", fault_at, url)
    run.alertmanager_seen.poll(run.observe.alertmanager)

    check = AlertVerifier().check(run.scenario.expect[0], run)

    assert check.passed, check.detail
    assert "notified +7.5 s (webhook to gameday)" in check.detail
    assert check.evidence["notified_via"] == WEBHOOK
