"""Real Prometheus and Alertmanager: an alert goes pending, fires, and reaches the sink."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
import yaml

from gameday.errors import StackUnavailable
from gameday.telemetry import AlertmanagerClient, PrometheusClient, SinkClient
from gameday.telemetry._time import parse_duration
from gameday.telemetry.backends import (
    INSTALL_HINT,
    alertmanager_config,
    find_binary,
    prometheus_config,
    start_alertmanager,
    start_prometheus,
    start_sink,
)


def _rules(started: float) -> dict[str, Any]:
    """AlwaysOn is true from Prometheus's first evaluation; Later turns true 6 s after start."""
    labels = {"severity": "page", "service": "model-server"}
    return {
        "groups": [
            {
                "name": "gameday-test",
                "rules": [
                    {
                        "alert": "AlwaysOn",
                        "expr": "vector(1) > 0",
                        "for": "1s",
                        "labels": labels,
                        "annotations": {"summary": "always true"},
                    },
                    {"alert": "Later", "expr": f"vector(time()) > {started + 6:.3f}", "for": "2s"},
                ],
            }
        ]
    }


def test_missing_binary_raises_with_install_hint():
    with pytest.raises(
        StackUnavailable, match="apt-get install -y prometheus prometheus-alertmanager"
    ):
        find_binary(("no-such-prometheus-binary",))
    assert INSTALL_HINT == "apt-get install -y prometheus prometheus-alertmanager"


def test_configs_route_to_webhook_and_point_prometheus_at_alertmanager(tmp_path):
    am = alertmanager_config("http://127.0.0.1:1/alertmanager/ml-oncall", "ml-oncall", token="t")
    prom = prometheus_config(
        {"sink": ["127.0.0.1:5"]}, [tmp_path / "r.yml"], "http://127.0.0.1:9093"
    )

    assert am["route"]["receiver"] == "ml-oncall"
    assert am["route"]["group_wait"] == "0s"
    [webhook] = am["receivers"][0]["webhook_configs"]
    assert webhook["http_config"]["authorization"] == {"type": "Bearer", "credentials": "t"}
    assert prom["alerting"]["alertmanagers"][0]["static_configs"] == [
        {"targets": ["127.0.0.1:9093"]}
    ]
    assert prom["rule_files"] == [str((tmp_path / "r.yml").resolve())]


def test_durations_parse_like_prometheus():
    assert parse_duration("1m30s") == 90
    assert parse_duration("500ms") == 0.5
    assert parse_duration(2) == 2.0
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("5 minutes")


class _Backends(TypedDict):
    """The ``stack`` fixture: when it started, its folder, and each server's URL."""

    started: float
    dir: Path
    sink: str
    alertmanager: str
    prometheus: str


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[_Backends]:
    """Sink, Alertmanager (webhook → sink, receiver ml-oncall), Prometheus (rule + sink target)."""
    started = time.time()
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(_rules(started)))
    with contextlib.ExitStack() as stop:
        sink = start_sink(log_path=tmp_path / "sink.log")
        stop.callback(sink.stop)
        webhook = f"{sink.info['url']}/alertmanager/ml-oncall"
        am = start_alertmanager(alertmanager_config(webhook, "ml-oncall"), tmp_path / "am")
        stop.callback(am.stop)
        am_url = str(am.info["url"])
        prom = start_prometheus(
            tmp_path / "prom", [rules], {"sink": [f"127.0.0.1:{sink.port}"]}, am_url
        )
        stop.callback(prom.stop)
        yield {
            "started": started,
            "dir": tmp_path,
            "sink": str(sink.info["url"]),
            "alertmanager": am_url,
            "prometheus": str(prom.info["url"]),
        }


@pytest.mark.integration
@pytest.mark.slow
def test_always_true_alert_goes_pending_then_firing_and_reaches_sink_webhook(
    stack: _Backends,
) -> None:
    started = stack["started"]
    prometheus = PrometheusClient(stack["prometheus"])

    notification = SinkClient(stack["sink"]).wait_for_notification(
        "AlwaysOn", since=started, timeout=30
    )

    assert (notification.receiver, notification.payload_receiver, notification.status) == (
        "ml-oncall",
        "ml-oncall",
        "firing",
    )
    [alert] = notification.alerts
    assert alert.labels["severity"] == "page"
    assert alert.annotations == {"summary": "always true"}
    assert alert.starts_at is not None
    assert started <= alert.starts_at <= notification.received_at
    assert prometheus.alertmanagers() == [f"{stack['alertmanager']}/api/v2/alerts"]

    firing = [a for a in prometheus.alerts() if a.name == "AlwaysOn"]
    assert [a.state for a in firing] == ["firing"]
    assert firing[0].labels["service"] == "model-server"

    [managed] = [
        a for a in AlertmanagerClient(stack["alertmanager"]).alerts() if a.alertname == "AlwaysOn"
    ]
    assert managed.receivers == ("ml-oncall",)
    assert managed.state == "active"
    assert managed.fingerprint == alert.fingerprint

    [always] = prometheus.alert_transitions("AlwaysOn", started - 5, time.time())
    # True from Prometheus's first evaluation: ALERTS has no pending sample (written only once
    # the rule restored its `for` state), so pending_at is ActiveAt (whole seconds).
    assert not always.pending_sampled
    assert always.pending_at == always.active_at
    active_at = firing[0].active_at
    assert active_at is not None and always.active_at is not None
    assert active_at - 1 < always.active_at <= active_at
    assert always.pending_at is not None and always.firing_at is not None
    assert always.pending_at < always.firing_at <= notification.received_at + 1
    assert always.labels == {"alertname": "AlwaysOn", "severity": "page", "service": "model-server"}


@pytest.mark.integration
@pytest.mark.slow
def test_alert_turning_true_later_is_sampled_pending_then_firing(stack: _Backends) -> None:
    prometheus = PrometheusClient(stack["prometheus"])
    SinkClient(stack["sink"]).wait_for_notification("Later", since=stack["started"], timeout=30)

    [later] = prometheus.alert_transitions("Later", stack["started"], time.time())

    assert later.pending_sampled
    assert later.pending_at is not None and later.firing_at is not None
    assert stack["started"] + 6 <= later.pending_at < later.firing_at
    # for: 2s at a 1 s evaluation interval: firing two evaluations after pending (one step slack)
    assert 1.0 <= later.firing_at - later.pending_at <= 3.0
    assert later.resolved_at is None


@pytest.mark.integration
@pytest.mark.slow
def test_prometheus_reports_rules_intervals_and_healthy_targets(stack: _Backends) -> None:
    prometheus = PrometheusClient(stack["prometheus"])

    [rule] = [r for r in prometheus.rules() if r.name == "AlwaysOn"]
    with pytest.raises(StackUnavailable, match="rule files not found"):
        start_prometheus(stack["dir"] / "bad", ["/no/such/rules.yml"])
    targets = prometheus.wait_until_up(timeout=30)

    assert (rule.type, rule.duration_s, rule.query, rule.group) == (
        "alerting",
        1.0,
        "vector(1) > 0",
        "gameday-test",
    )
    assert rule.labels == {"severity": "page", "service": "model-server"}
    assert prometheus.scrape_interval() == 1.0
    assert prometheus.evaluation_interval() == 1.0
    assert prometheus.flags()["storage.tsdb.path"].endswith("prometheus-data")
    assert [t.job for t in targets] == ["sink"]
    assert targets[0].scrape_url.endswith("/metrics")
    [up] = prometheus.query('up{job="sink"}')
    assert up.value == 1.0
    assert prometheus.query("vector(2)")[0].value == 2.0
    [series] = prometheus.query_range("vector(1)", time.time() - 3, time.time(), 1)
    assert len(series.points) >= 3
    assert AlertmanagerClient(stack["alertmanager"]).status()["cluster"]["status"] == "disabled"
    assert AlertmanagerClient(stack["alertmanager"]).ready()
    assert prometheus.ready()
