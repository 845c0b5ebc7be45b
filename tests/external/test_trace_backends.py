"""``traces_api`` picks the trace client, and a Jaeger v3 trace flows into the root-cause verdict.

The collectors (:meth:`gameday.evidence.collect.Collectors.traces`) fetch the traces a run
wants into its :class:`~gameday.evidence.model.TracesEvidence`; root cause reads only that.
The Tempo client against the sink's Tempo-compatible API is tested in
tests/telemetry/test_tempo_api.py; the Jaeger client's parsing in test_jaeger_client.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
import requests

from gameday.evidence.collect import Collectors
from gameday.evidence.model import TracesEvidence
from gameday.evidence.requests import Record, from_columns
from gameday.evidence.testing import T0, EvidenceBuilder
from gameday.evidence.traces import Wanted, wanted
from gameday.scenario.environment import Environment
from gameday.scenario.expectations import RootCauseExpectation
from gameday.servers.sink.testing import SinkOptions, otlp_request, otlp_span, running_sink
from gameday.telemetry import JaegerClient, TempoClient
from gameday.telemetry.traces import trace_client
from gameday.verifiers.base import Check
from gameday.verifiers.root_cause import RootCauseVerifier

SCENARIO = """\
name: feature-store-timeouts
faults: [{injector: network.latency, target: feature-store, params: {latency_ms: 800}}]
expect:
  - root_cause: {service: feature-store, span: "GET /features/{entity_id}", min_share: 0.9}
"""
SLOW_IDS = [f"{0xFEED0000 + i:032x}" for i in range(25)]
Canned = Callable[[dict[str, tuple[int, Any]]], str]


def _environment(url: str, api: str) -> Environment:
    return Environment.from_endpoints({"traces": url, "traces_api": api, "toxiproxy": url})


@pytest.mark.parametrize(("api", "client"), [("jaeger", JaegerClient), ("tempo", TempoClient)])
def test_traces_api_picks_the_trace_client(api: str, client: type) -> None:
    env = _environment("http://127.0.0.1:16686", api)
    assert env.traces is not None
    assert isinstance(trace_client(env.traces, env.traces_api), client)


def _run() -> EvidenceBuilder:
    """20 s of fast baseline, then 30 s of fault in which requests fail after ~850 ms, each
    with its trace id."""
    b = EvidenceBuilder(SCENARIO).timeline(baseline=20.0, fault=30.0, recovery=0.0)
    b.fault(0, applied=20.0)
    fast = [
        Record(T0 + i / 10, 12.0 + i % 7, True, 200, "/predict", f"{i:032x}") for i in range(200)
    ]
    slow = [
        Record(T0 + 21 + i, 850.0, False, 504, "/predict", trace_id)
        for i, trace_id in enumerate(SLOW_IDS)
    ]
    return b.requests(fast + slow)


def _collect(b: EvidenceBuilder, env: Environment) -> TracesEvidence:
    """What a run captures at its end: the traces it wants, from the environment's backend."""
    so_far = b.build()
    records = from_columns(so_far.load.requests)
    return Collectors(env).traces(wanted(records, so_far.timeline, so_far.captured_at))


def _root_cause(b: EvidenceBuilder, traces: TracesEvidence) -> Check:
    evidence = b.traces(traces).build()
    expectation = b.scenario.expect[0]
    assert isinstance(expectation, RootCauseExpectation)
    return RootCauseVerifier().check(expectation, evidence)


def test_a_jaeger_v3_backend_feeds_the_root_cause_verdict(
    canned_http: Canned, jaeger_v3_trace: Callable[[str], dict[str, Any]]
) -> None:
    """Each failed request's trace, fetched from Jaeger's /api/v3, blames the feature store."""
    table = {f"/api/v3/traces/{tid}": (200, jaeger_v3_trace(tid)) for tid in SLOW_IDS}
    b = _run()

    traces = _collect(b, _environment(canned_http(table), "jaeger"))
    check = _root_cause(b, traces)

    assert traces.fetched and traces.error is None
    assert traces.fault_ids == tuple(SLOW_IDS)  # exactly the failed requests of the fault
    assert all(traces.traces[tid] for tid in SLOW_IDS)
    assert check.passed, check.detail
    fault = check.evidence["fault"]
    assert isinstance(fault, Mapping)
    assert fault["analysed"] == 25
    assert fault["spans"] == {"feature-store/GET /features/{entity_id}": 1.0}
    assert check.evidence["traces_missing"] == 0
    assert "blame feature-store/GET /features/{entity_id} first" in check.detail


def test_traces_the_backend_does_not_have_leave_root_cause_undecided(
    canned_http: Canned, jaeger_v3_trace: Callable[[str], dict[str, Any]]
) -> None:
    """Most wanted traces missing (404): kept as missing in the evidence, never a pass."""
    table = {f"/api/v3/traces/{tid}": (200, jaeger_v3_trace(tid)) for tid in SLOW_IDS[:5]}
    b = _run()

    traces = _collect(b, _environment(canned_http(table), "jaeger"))
    check = _root_cause(b, traces)

    assert [tid for tid in SLOW_IDS if traces.traces[tid] is None] == SLOW_IDS[5:]
    assert (check.passed, check.decided) == (False, False)
    assert "20 of 25 traces of slow/failed requests are missing" in check.detail


def test_an_unreachable_trace_backend_is_named_in_the_evidence() -> None:
    b = _run()

    traces = _collect(b, _environment("http://127.0.0.1:9", "jaeger"))
    check = _root_cause(b, traces)

    assert not traces.fetched and "trace backend" in (traces.error or "")
    assert traces.fault_ids == tuple(SLOW_IDS)  # what was wanted is still on record
    assert (check.passed, check.decided) == (False, False)
    assert "no traces were read: trace backend" in check.detail


TOKEN = "sink-t0ken-4711"


def _export(url: str, trace_id: str) -> None:
    body = otlp_request("model-server", otlp_span(trace_id, "cd" * 8, "POST /predict"))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    requests.post(f"{url}/v1/traces", json=body, headers=auth, timeout=5).raise_for_status()


def test_traces_of_a_token_protected_sink_are_read_with_its_token() -> None:
    """The embedded stack's sink serves its traces behind ``sink_token``: the collectors
    use that token for it, and send it to no other server."""
    trace_id = "ab" * 16
    want = Wanted(fault=(trace_id,), baseline=(), candidates=1, baseline_p95_ms=None)
    with (
        running_sink(SinkOptions(token=TOKEN)) as sink,
        running_sink(SinkOptions(token=TOKEN)) as elsewhere,
    ):
        _export(sink.url, trace_id)
        _export(elsewhere.url, trace_id)
        own = {"traces": sink.url, "sink_token": TOKEN, "toxiproxy": sink.url}
        other = {**own, "traces": elsewhere.url, "sink": sink.url}

        read = Collectors(Environment.from_endpoints(own)).traces(want)
        refused = Collectors(Environment.from_endpoints(other)).traces(want)

    assert read.fetched and read.error is None, read.error
    spans = read.traces[trace_id]
    assert spans is not None and [s.name for s in spans] == ["POST /predict"]
    assert not refused.fetched and "401" in (refused.error or "")
