"""Alert evidence when gameday's webhook sink hears nothing: Alertmanager's view, polled in the run.

The collectors (:class:`gameday.evidence.collect.Collectors`) poll Alertmanager's API on every
tick of the run and hand its sightings over as notification evidence; the pure
:class:`~gameday.verifiers.alerts.AlertVerifier` uses them when no webhook reached gameday.
Alertmanager and the sink are canned answers here, and Prometheus's side is stated with
:class:`~gameday.evidence.testing.EvidenceBuilder`; the live path (a real Alertmanager whose
receivers page elsewhere) is in test_external_environment.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from gameday.evidence.alertwatch import AlertmanagerLog
from gameday.evidence.collect import CapturePlan, Collectors
from gameday.evidence.model import NotificationsEvidence, RunEvidence
from gameday.evidence.testing import EvidenceBuilder
from gameday.scenario.environment import Environment
from gameday.scenario.expectations import AlertExpectation
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
ROUTING = """\
route:
  receiver: platform-oncall
  group_wait: 30s
  routes:
    - {receiver: ml-oncall, group_wait: 2s, matchers: ['team="ml"']}
receivers: [{name: platform-oncall}, {name: ml-oncall}]
"""
STARTED = 20.0  # the run started this long before the fault, which was applied ...
FAULT_AGO = 10.0  # ... this long before the test polls Alertmanager
FIRED_AFTER = 7.2  # Prometheus's FiredAt, as Alertmanager carries it, after the fault


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


def _run(receiver: str) -> tuple[EvidenceBuilder, float]:
    """Prometheus's side of a run under way, and when its fault was applied (Unix seconds):
    the rule, and ``ALERTS`` pending from 4 s after the fault, firing from the first
    evaluation after FiredAt (the ``ALERTS`` samples are on a 1 s grid: +8 s)."""
    fault_at = time.time() - FAULT_AGO
    b = EvidenceBuilder(SCENARIO % receiver, t0=fault_at - STARTED).fault(0, applied=STARTED)
    b.rule("ModelLatencyHigh", for_s=2).healthy("ModelLatencyHigh")
    b.episode("ModelLatencyHigh", pending=STARTED + 4, firing=STARTED + 8, labels=LABELS)
    return b, fault_at


def _collected(url: str, sink: str | None, since: float) -> NotificationsEvidence:
    """What the collectors hand over at the end of a run whose every tick polled ``url``."""
    env = {"alertmanager": url, "toxiproxy": url, **({"sink": sink} if sink else {})}
    collectors = Collectors(Environment.from_endpoints(env))
    collectors.begin(CapturePlan(("ModelLatencyHigh",), since))
    collectors.tick()  # as the runner does on every turn of its loop
    return collectors.notifications(since, final=True)


def _judge(b: EvidenceBuilder, notifications: NotificationsEvidence) -> Any:
    evidence: RunEvidence = b.build().model_copy(update={"notifications": notifications})
    expectation = b.scenario.expect[0]
    assert isinstance(expectation, AlertExpectation)
    return AlertVerifier().check(expectation, evidence)


def _alertmanager(receivers: list[str], fired_at: float) -> dict[str, tuple[int, Any]]:
    status = {"config": {"original": ROUTING}}
    return {
        "/api/v2/alerts": (200, [_am_alert(fired_at, receivers)]),
        "/api/v2/status": (200, status),
    }


@pytest.mark.parametrize("sink", ["none", "silent", "not a sink"])
def test_without_a_webhook_the_notified_stage_and_receiver_come_from_alertmanager(
    canned_http: Callable[[dict[str, tuple[int, Any]]], str], sink: str
) -> None:
    """No sink, a sink that heard nothing, or a URL that is no sink (answers 404)."""
    b, fault_at = _run("ml-oncall")
    table = _alertmanager(["ml-oncall"], fault_at + FIRED_AFTER)
    if sink == "silent":
        table["/api/notifications"] = (200, {"notifications": []})
    url = canned_http(table)

    notes = _collected(url, None if sink == "none" else url, since=fault_at - STARTED)
    check = _judge(b, notes)

    [seen] = notes.sightings
    assert seen.receivers == ("ml-oncall",)
    assert seen.starts_at == pytest.approx(fault_at + FIRED_AFTER, abs=1e-3)
    assert notes.webhooks == () and notes.group_wait_s["ml-oncall"] == 2.0
    assert any("webhook sink" in e for e in notes.errors) == (sink == "not a sink")
    assert check.passed, check.detail
    assert "seen active in Alertmanager's API" in check.detail
    assert "routed to ml-oncall" in check.detail
    assert check.evidence["notified_via"] == ALERTMANAGER_API
    assert check.evidence["receivers"] == ["ml-oncall"]
    assert check.extra["detected_after_s"] == pytest.approx(FIRED_AFTER, abs=0.01)


def test_alertmanager_routing_elsewhere_fails_the_receiver_check(
    canned_http: Callable[[dict[str, tuple[int, Any]]], str],
) -> None:
    b, fault_at = _run("ml-oncall")
    url = canned_http(_alertmanager(["platform-oncall"], fault_at + FIRED_AFTER))

    check = _judge(b, _collected(url, None, since=fault_at - STARTED))

    assert not check.passed
    assert "routed to platform-oncall, not ml-oncall" in check.detail


def test_a_webhook_that_reached_gameday_is_preferred(
    canned_http: Callable[[dict[str, tuple[int, Any]]], str],
) -> None:
    b, fault_at = _run("ml-oncall")
    table = _alertmanager(["platform-oncall"], fault_at + FIRED_AFTER)
    note = {
        "received_at": fault_at + 7.5,
        "receiver": "ml-oncall",
        "payload_receiver": "ml-oncall",
        "status": "firing",
        "alerts": [{"status": "firing", "labels": LABELS, "starts_at": fault_at + FIRED_AFTER}],
    }
    table["/api/notifications"] = (200, {"notifications": [note]})
    url = canned_http(table)

    notes = _collected(url, url, since=fault_at - STARTED)
    check = _judge(b, notes)

    assert [w.receiver for w in notes.webhooks] == ["ml-oncall"]
    assert check.passed, check.detail
    assert "notified +7.5 s (webhook to gameday)" in check.detail
    assert check.evidence["notified_via"] == WEBHOOK


def test_an_unreachable_alertmanager_leaves_the_receiver_check_unpassed_and_says_why(
    canned_http: Callable[[dict[str, tuple[int, Any]]], str],
) -> None:
    """The collectors never raise for it: the evidence names what could not be read."""
    b, fault_at = _run("ml-oncall")
    dead = "http://127.0.0.1:9"

    notes = _collected(dead, None, since=fault_at - STARTED)
    check = _judge(b, notes)

    assert notes.sightings == ()
    assert any(e.startswith("Alertmanager API:") and "127.0.0.1:9" in e for e in notes.errors)
    assert any(e.startswith("Alertmanager routing:") for e in notes.errors)
    assert not check.passed, check.detail
