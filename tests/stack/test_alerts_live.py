"""The alert pack on the running stack: silent when healthy under load, and a paused service
shows up as ServiceDown and clears (Prometheus and Alertmanager for real).

Every other alert of the pack is provoked through its cause by the catalogue's scenarios and
shown to fire within its bound and to resolve after the revert (tests/e2e/test_catalogue.py:
each scenario carries ``fires_within`` and ``recovered`` expectations); the alert pack's
promtool tests show each one firing and staying silent on synthetic series."""

from __future__ import annotations

import time

import pytest

from gameday.evidence.requests import summarize
from gameday.run.load import Load
from gameday.stack.launcher import Stack
from gameday.telemetry.alertmanager import SinkClient
from gameday.telemetry.prometheus import PrometheusClient
from gameday.testing import wait_firing, wait_resolved

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIRE_S = 30.0  # each alert fires within ~15 s of its cause; the margin absorbs a busy CI box
RESOLVE_S = 45.0


def test_healthy_stack_under_load_fires_no_alert_for_60_s(
    stack: Stack, load: Load, prometheus: PrometheusClient
) -> None:
    start = time.time()
    deadline = time.monotonic() + 60
    seen: set[str] = set()
    while not seen and time.monotonic() < deadline:  # stop early at the first alert
        seen = {f"{a.name} ({a.state})" for a in prometheus.alerts()}
        load.poll()
        time.sleep(0.5)
    # Every rule evaluation of the window, not only what the polls happened to see.
    step = prometheus.evaluation_interval()
    for series in prometheus.query_range("ALERTS", start, time.time(), step):
        seen.add(f"{series.labels['alertname']} ({series.labels['alertstate']})")
    load.poll()
    stats = summarize(load.records, start)
    assert seen == set(), f"alerts during a healthy run: {sorted(seen)}"
    assert stats.requests > 3000 and stats.failures == 0
    assert SinkClient(stack.endpoints["sink"]).notifications(since=start) == []


def test_service_down_fires_for_a_paused_service_and_resolves(
    stack: Stack, prometheus: PrometheusClient
) -> None:
    stack.pause("drift-monitor")
    try:
        alert = wait_firing(prometheus, "ServiceDown", FIRE_S, service="drift-monitor")
        assert alert.labels["team"] == "platform"
    finally:
        stack.resume("drift-monitor")
    wait_resolved(prometheus, "ServiceDown", RESOLVE_S)
