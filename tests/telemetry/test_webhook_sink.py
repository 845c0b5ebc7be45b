"""The Alertmanager webhook sink records notifications; the token guards the whole sink."""

from __future__ import annotations

import time

import pytest
import requests

from gameday.errors import StackUnavailable
from gameday.servers.sink.server import check_exposure
from gameday.telemetry import NotificationStore, SinkClient, TempoClient
from gameday.telemetry.notifications import parse_webhook


def _payload(status="firing", receiver="ml-oncall", alertname="ModelLatencyHigh"):
    """A version 4 webhook body as Alertmanager 0.25 sends it."""
    return {
        "version": "4",
        "groupKey": "{}:" + f'{{alertname="{alertname}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": alertname},
        "commonLabels": {"alertname": alertname, "service": "model-server"},
        "commonAnnotations": {"summary": "p95 over 500 ms"},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": alertname, "service": "model-server", "severity": "page"},
                "annotations": {"summary": "p95 over 500 ms"},
                "startsAt": "2026-11-28T03:00:00.123456789Z",
                "endsAt": "2026-11-28T03:01:00Z"
                if status == "resolved"
                else "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=...",
                "fingerprint": "1a30ba71cca2921f",
            }
        ],
    }


def test_webhook_records_receiver_statuses_and_times(sink):
    before = time.time()
    for status in ("firing", "resolved"):
        response = requests.post(
            f"{sink.url}/alertmanager/ml-oncall", json=_payload(status), timeout=5
        )
        assert response.status_code == 200

    firing, resolved = SinkClient(sink.url).notifications()

    assert (firing.receiver, firing.payload_receiver, firing.status) == (
        "ml-oncall",
        "ml-oncall",
        "firing",
    )
    assert before <= firing.received_at <= resolved.received_at <= time.time()
    [alert] = firing.alerts
    assert alert.alertname == "ModelLatencyHigh"
    assert alert.labels["service"] == "model-server"
    assert alert.annotations == {"summary": "p95 over 500 ms"}
    assert alert.fingerprint == "1a30ba71cca2921f"
    assert alert.starts_at == pytest.approx(1795834800.123456)
    assert alert.ends_at is None
    assert resolved.alerts[0].status == "resolved"
    assert resolved.alerts[0].ends_at == 1795834860.0
    assert firing.group_key == '{}:{alertname="ModelLatencyHigh"}'


def test_notifications_since_and_receiver_filter(sink):
    requests.post(f"{sink.url}/alertmanager/first", json=_payload(receiver="first"), timeout=5)
    cut = time.time()
    requests.post(f"{sink.url}/alertmanager/second", json=_payload(receiver="second"), timeout=5)
    client = SinkClient(sink.url)

    assert [n.receiver for n in client.notifications(since=cut)] == ["second"]
    assert [n.receiver for n in client.notifications(receiver="first")] == ["first"]
    assert (
        client.wait_for_notification("ModelLatencyHigh", since=cut, timeout=1).receiver == "second"
    )
    with pytest.raises(StackUnavailable, match="no firing notification for Other"):
        client.wait_for_notification("Other", timeout=0.2, poll=0.05)


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"alerts": "x"}', b'{"alerts": [{"startsAt": "yesterday"}]}']
)
def test_bad_webhook_payload_is_400_with_reason(sink, body):
    response = requests.post(f"{sink.url}/alertmanager/x", data=body, timeout=5)

    assert response.status_code == 400
    assert "Alertmanager webhook payload" in response.json()["error"]
    assert len(sink.notifications) == 0


def test_token_is_required_for_webhook_queries_and_ingest(make_sink):
    sink = make_sink(token="s3cret")
    guarded = [
        ("post", "/alertmanager/ml-oncall", _payload()),
        ("get", "/api/notifications", None),
        ("get", f"/api/traces/{'ab' * 16}", None),
        ("get", "/api/search", None),
        ("post", "/v1/traces", {"resourceSpans": []}),
    ]
    for method, path, body in guarded:
        response = requests.request(method, sink.url + path, json=body, timeout=5)
        assert response.status_code == 401, path
        wrong = requests.request(
            method, sink.url + path, json=body, headers={"Authorization": "Bearer nope"}, timeout=5
        )
        assert wrong.status_code == 401, path
    assert requests.get(f"{sink.url}/healthz", timeout=5).status_code == 200
    assert requests.post(
        f"{sink.url}/alertmanager/ml-oncall",
        json=_payload(),
        headers={"Authorization": "Bearer s3cret"},
        timeout=5,
    ).ok
    assert len(SinkClient(sink.url, token="s3cret").notifications()) == 1
    assert TempoClient(sink.url, token="s3cret").get_trace("ab" * 16) is None
    with pytest.raises(StackUnavailable, match="HTTP 401"):
        SinkClient(sink.url).notifications()


def test_sink_refuses_non_loopback_host_without_token():
    for host in ("0.0.0.0", "192.168.1.10", "example.org", "::"):
        with pytest.raises(StackUnavailable, match="without a token"):
            check_exposure(host, None)
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
        check_exposure(host, None)
    check_exposure("0.0.0.0", "s3cret")


def test_notification_store_is_bounded_but_counts_everything():
    store = NotificationStore(max_notifications=3)
    for n in range(5):
        store.add(parse_webhook(_payload(alertname=f"A{n}"), "r", received_at=float(n)))

    assert [sorted(n.alertnames()) for n in store.since()] == [["A2"], ["A3"], ["A4"]]
    assert (len(store), store.received) == (3, 5)
