"""``traces_api`` picks the trace client, and a Jaeger v3 trace flows into the root-cause verdict.

The Tempo client against the sink's Tempo-compatible API is tested in
tests/telemetry/test_tempo_api.py; the Jaeger client's parsing in test_jaeger_client.py.
"""

from __future__ import annotations

import time

import pytest

from gameday.evidence.observe import Observability
from gameday.run.load import Record
from gameday.run.record import FaultRecord, Phase, RunRecord
from gameday.scenario.environment import Environment
from gameday.scenario.model import parse_scenario
from gameday.telemetry import JaegerClient, TempoClient
from gameday.verifiers.root_cause import RootCauseVerifier

SCENARIO = """\
name: feature-store-timeouts
faults: [{injector: network.latency, target: feature-store, params: {latency_ms: 800}}]
expect:
  - root_cause: {service: feature-store, span: "GET /features/{entity_id}", min_share: 0.9}
"""


def _environment(url: str, api: str) -> Environment:
    endpoints = {"traces": url, "traces_api": api, "toxiproxy": url, "prometheus": url}
    return Environment.from_endpoints(endpoints)


@pytest.mark.parametrize(("api", "client"), [("jaeger", JaegerClient), ("tempo", TempoClient)])
def test_traces_api_picks_the_trace_client(api, client):
    assert isinstance(Observability(_environment("http://127.0.0.1:16686", api)).traces, client)


def _record(env: Environment, slow_ids: list[str]) -> RunRecord:
    """20 s of fast baseline, then requests that fail after ~850 ms, each with its trace id."""
    t0 = time.time() - 120
    scenario = parse_scenario(SCENARIO, "feature-store-timeouts.yaml", environment=env)
    record = RunRecord(scenario, env, Observability(env), started_at=t0)
    record.phases = {
        "baseline": Phase("baseline", t0, t0 + 20, 20),
        "fault": Phase("fault", t0 + 20, t0 + 50, 30),
    }
    record.faults = [FaultRecord(0, scenario.faults[0], "f0", applied_at=t0 + 20)]
    fast = [
        Record(t0 + i / 10, 12.0 + i % 7, True, 200, "/predict", f"{i:032x}") for i in range(200)
    ]
    slow = [
        Record(t0 + 21 + i, 850.0, False, 504, "/predict", trace_id)
        for i, trace_id in enumerate(slow_ids)
    ]
    record.requests = fast + slow
    return record


def test_a_jaeger_v3_backend_feeds_the_root_cause_verdict(canned_http, jaeger_v3_trace):
    """Each failed request's trace, fetched from Jaeger's /api/v3, blames the feature store."""
    slow_ids = [f"{0xFEED0000 + i:032x}" for i in range(25)]
    table = {f"/api/v3/traces/{tid}": (200, jaeger_v3_trace(tid)) for tid in slow_ids}
    env = _environment(canned_http(table), "jaeger")
    run = _record(env, slow_ids)

    check = RootCauseVerifier().check(run.scenario.expect[0], run)

    assert check.passed, check.detail
    assert check.evidence["fault"]["analysed"] == 25
    assert check.evidence["fault"]["spans"] == {"feature-store/GET /features/{entity_id}": 1.0}
    assert check.evidence["traces_missing"] == 0
    assert "blame feature-store/GET /features/{entity_id} first" in check.detail
