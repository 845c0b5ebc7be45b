"""The alert pack on the running stack: silent when healthy, and each alert fires on its
cause and resolves once the cause is gone (Prometheus and Alertmanager for real)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from gameday.load import Load, summarize
from gameday.stack.launcher import Stack
from gameday.telemetry.alertmanager import SinkClient
from gameday.telemetry.prometheus import PrometheusClient
from gameday.testing import wait_firing, wait_resolved, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIRE_S = 30.0  # each alert fires within ~15 s of its cause; the margin absorbs a busy CI box
RESOLVE_S = 45.0


def test_healthy_stack_under_load_fires_no_alert_for_60_s(
    stack: Stack, load: Load, prometheus: PrometheusClient
) -> None:
    start = time.time()
    seen: set[str] = set()
    while time.time() - start < 60:
        seen |= {f"{a.name} ({a.state})" for a in prometheus.alerts()}
        time.sleep(1)  # sampling cadence of the observation, not a synchronisation
    load.poll()
    stats = summarize(load.records, start)
    assert stats.requests > 3000 and stats.failures == 0
    assert seen == set(), f"alerts during a healthy run: {sorted(seen)}"
    assert SinkClient(stack.endpoints["sink"]).notifications(since=start) == []


@pytest.fixture
def producer_fault(stack: Stack) -> Iterator[callable]:  # type: ignore[valid-type]
    """Add data faults through the producer's control API; always removed afterwards."""
    added: list[str] = []

    def add(kind: str, **params: object) -> None:
        fid = f"test-{kind}-{len(added)}"
        response = requests.post(
            f"{stack.endpoints['producer']}/internal/faults",
            json={"id": fid, "kind": kind, "params": params, "ttl_s": 120},
            timeout=5,
        )
        assert response.status_code == 201, response.text
        added.append(fid)

    yield add
    for fid in added:
        requests.delete(f"{stack.endpoints['producer']}/internal/faults/{fid}", timeout=5)


@pytest.fixture
def toxiproxy(stack: Stack) -> Iterator[str]:
    """The stack's toxiproxy API; every proxy is reset (enabled, no toxics) afterwards."""
    yield stack.endpoints["toxiproxy"]
    requests.post(f"{stack.endpoints['toxiproxy']}/reset", timeout=5).raise_for_status()


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


def test_features_stale_fires_when_the_producer_stops(
    stack: Stack, prometheus: PrometheusClient, producer_fault
) -> None:  # type: ignore[no-untyped-def]
    producer_fault("stale")
    wait_firing(prometheus, "FeaturesStale", FIRE_S)
    requests.delete(f"{stack.endpoints['producer']}/internal/faults/test-stale-0", timeout=5)
    wait_resolved(prometheus, "FeaturesStale", RESOLVE_S)


def test_nulled_column_fires_null_rate_and_validation_alerts(
    stack: Stack, prometheus: PrometheusClient, producer_fault
) -> None:  # type: ignore[no-untyped-def]
    producer_fault("null_column", column="merchant_risk", fraction=1.0)
    null_alert = wait_firing(prometheus, "FeatureNullRateHigh", FIRE_S, feature="merchant_risk")
    assert null_alert.labels["stage"] == "ingest"
    wait_firing(prometheus, "BatchValidationFailed", FIRE_S, reason="null_share")
    quarantined = requests.get(
        f"{stack.endpoints['pipeline']}/internal/quarantine", timeout=5
    ).json()
    bad = [b for b in quarantined["batches"] if "null_share" in b["reasons"]]
    assert bad
    stored = requests.get(
        f"{stack.endpoints['feature_store']}/internal/batches",
        params={"ids": ",".join(b["batch_id"] for b in bad)},
        timeout=5,
    ).json()
    assert all(v["written"] == 0 for v in stored["batches"].values())
    requests.delete(f"{stack.endpoints['producer']}/internal/faults/test-null_column-0", timeout=5)
    wait_resolved(prometheus, "FeatureNullRateHigh", RESOLVE_S)
    wait_resolved(prometheus, "BatchValidationFailed", RESOLVE_S)


def test_drifted_feature_fires_feature_and_prediction_drift(
    stack: Stack, prometheus: PrometheusClient, load: Load, producer_fault
) -> None:  # type: ignore[no-untyped-def]
    producer_fault("drift", column="merchant_risk", shift_sigma=2.0)
    wait_firing(prometheus, "FeatureDriftHigh", FIRE_S, feature="merchant_risk")
    wait_firing(prometheus, "PredictionDriftHigh", FIRE_S)
    requests.delete(f"{stack.endpoints['producer']}/internal/faults/test-drift-0", timeout=5)
    wait_resolved(prometheus, "FeatureDriftHigh", RESOLVE_S)
    wait_resolved(prometheus, "PredictionDriftHigh", RESOLVE_S)


def test_feature_store_latency_fires_model_latency(
    stack: Stack, prometheus: PrometheusClient, load: Load, toxiproxy: str
) -> None:
    toxic = {"name": "slow", "type": "latency", "attributes": {"latency": 800, "jitter": 50}}
    requests.post(
        f"{toxiproxy}/proxies/feature_store/toxics", json=toxic, timeout=5
    ).raise_for_status()
    alert = wait_firing(prometheus, "ModelLatencyHigh", FIRE_S)
    assert alert.labels["service"] == "model-server"
    requests.delete(f"{toxiproxy}/proxies/feature_store/toxics/slow", timeout=5).raise_for_status()
    wait_resolved(prometheus, "ModelLatencyHigh", RESOLVE_S)


def test_feature_store_outage_fires_error_alerts_and_routes_them(
    stack: Stack, prometheus: PrometheusClient, load: Load, toxiproxy: str
) -> None:
    since = time.time()
    requests.post(
        f"{toxiproxy}/proxies/feature_store", json={"enabled": False}, timeout=5
    ).raise_for_status()
    for name in ("ModelErrorRateHigh", "FeatureStoreErrors", "ErrorBudgetBurn"):
        wait_firing(prometheus, name, FIRE_S)
    sink = SinkClient(stack.endpoints["sink"])
    notified = wait_until(
        lambda: {
            n.receiver
            for n in sink.notifications(since=since)
            if "ModelErrorRateHigh" in n.alertnames()
        },
        10,
        "notification",
    )
    assert notified == {"ml-oncall"}
    requests.post(
        f"{toxiproxy}/proxies/feature_store", json={"enabled": True}, timeout=5
    ).raise_for_status()
    for name in ("ModelErrorRateHigh", "FeatureStoreErrors", "ErrorBudgetBurn"):
        wait_resolved(prometheus, name, RESOLVE_S + 30)
