"""The running reference stack: predictions, joined telemetry, and bad input."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import requests

from gameday.stack.launcher import Stack
from gameday.telemetry.spans import Trace
from gameday.telemetry.traces import TempoClient
from gameday.testing import wait_until

pytestmark = pytest.mark.integration


def _traceparent() -> tuple[str, str]:
    trace_id = os.urandom(16).hex()
    return trace_id, f"00-{trace_id}-{os.urandom(8).hex()}-01"


def test_predict_returns_a_score_and_one_trace_spans_both_services(stack: Stack) -> None:
    trace_id, header = _traceparent()
    response = requests.post(
        f"{stack.endpoints['model_server']}/predict",
        json={"entity_id": "e00042"},
        headers={"traceparent": header},
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"entity_id", "score", "label", "model_version"}
    assert 0.0 <= body["score"] <= 1.0
    assert body["label"] in {"fraud", "legit"}

    client = TempoClient(stack.endpoints["traces"])
    trace = wait_until(lambda: _complete(client, trace_id), 10, "trace with spans of both services")
    assert trace is not None  # wait_until returns only a truthy answer
    assert len(trace.spans) >= 3
    names = {(s.service, s.name) for s in trace.spans}
    assert ("model-server", "feature_store.get") in names
    assert ("feature-store", "GET /features/{entity_id}") in names
    root = next(s for s in trace.spans if s.name == "POST /predict")
    assert root.parent_id is not None  # it continues the caller's span from traceparent


def _complete(client: TempoClient, trace_id: str) -> Trace | None:
    trace = client.get_trace(trace_id)
    return trace if trace and {"model-server", "feature-store"} <= trace.services() else None


def test_log_lines_carry_the_trace_id_of_their_request(stack: Stack) -> None:
    trace_id, header = _traceparent()
    requests.post(
        f"{stack.endpoints['model_server']}/predict",
        json={"entity_id": "e00007"},
        headers={"traceparent": header},
        timeout=5,
    )

    def logged() -> list[dict[str, object]]:
        lines = []
        for service in ("model-server", "feature-store"):
            log = stack.children[service].log_path
            assert log is not None
            lines += [json.loads(x) for x in log.read_text().splitlines() if trace_id in x]
        both = {line["service"] for line in lines} == {"model-server", "feature-store"}
        return lines if both else []  # each service writes its line when its request ends

    lines = wait_until(logged, 5, "log lines of both services with the request's trace id")
    assert all(line["trace_id"] == trace_id and len(str(line["span_id"])) == 16 for line in lines)


@pytest.mark.slow
def test_latency_histogram_carries_trace_ids_as_exemplars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our request's latency observation carries its trace id as the exemplar, even when the
    process starting the stack has a prometheus_client multiprocess directory set, as importing
    Feast does: inherited, it put the services in multiprocess mode, which keeps no exemplars
    (every full test session, where the platform tests import Feast first, lost them)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "multiproc"))
    (tmp_path / "multiproc").mkdir()
    with Stack(workdir=tmp_path / "stack") as stack:
        trace_id, header = _traceparent()
        requests.post(
            f"{stack.endpoints['model_server']}/predict",
            json={"entity_id": "e00001"},
            headers={"traceparent": header},
            timeout=5,
        )

        def exemplars() -> list[str]:  # observed as the response ends: poll, do not race it
            text = requests.get(
                f"{stack.endpoints['model_server']}/metrics",
                timeout=5,
                headers={"Accept": "application/openmetrics-text"},
            ).text
            lines = [line for line in text.splitlines() if 'route="/predict"' in line]
            return re.findall(r'# \{trace_id="([^"]*)"\}', "\n".join(lines))

        seen = wait_until(exemplars, 5, "exemplars on the /predict latency buckets", 0.05)
        assert trace_id in seen, seen


def test_malformed_json_gets_400_with_a_message(stack: Stack) -> None:
    response = requests.post(
        f"{stack.endpoints['model_server']}/predict",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    wrong_shape = requests.post(
        f"{stack.endpoints['model_server']}/predict", json=[1, 2], timeout=5
    )
    assert wrong_shape.status_code == 400
    assert "entity_id" in wrong_shape.json()["error"]


def test_unknown_entity_gets_404(stack: Stack) -> None:
    response = requests.post(
        f"{stack.endpoints['model_server']}/predict",
        json={"entity_id": "no-such-entity"},
        timeout=5,
    )
    assert response.status_code == 404
    assert "no-such-entity" in response.json()["error"]


def test_garbage_to_the_otlp_sink_gets_400_and_the_sink_keeps_serving(stack: Stack) -> None:
    sink = stack.endpoints["traces"]
    for content_type in ("application/x-protobuf", "application/json"):
        response = requests.post(
            f"{sink}/v1/traces",
            data=b"\x00\xffgarbage{",
            headers={"Content-Type": content_type},
            timeout=5,
        )
        assert response.status_code == 400
    trace_id, header = _traceparent()
    requests.post(
        f"{stack.endpoints['model_server']}/predict",
        json={"entity_id": "e00003"},
        headers={"traceparent": header},
        timeout=5,
    )
    client = TempoClient(sink)
    wait_until(lambda: client.get_trace(trace_id), 10, "a trace stored after the garbage")


def test_every_service_is_alive_and_ready(stack: Stack) -> None:
    for key in ("model_server", "feature_store", "pipeline", "producer", "drift_monitor"):
        assert requests.get(f"{stack.endpoints[key]}/healthz", timeout=5).status_code == 200
        assert requests.get(f"{stack.endpoints[key]}/readyz", timeout=5).status_code == 200


def test_batches_flow_from_producer_through_pipeline_to_the_store(stack: Stack) -> None:
    pipeline = stack.endpoints["pipeline"]

    def produced() -> list[str]:  # the producer's batches (other tests drop probes of their own)
        stored = requests.get(f"{pipeline}/internal/stored", timeout=5).json()["batches"]
        return [b for b in stored if b.startswith("batch-")]

    last = wait_until(produced, 15, "a stored batch")[-1]
    batches = requests.get(
        f"{stack.endpoints['feature_store']}/internal/batches", params={"ids": last}, timeout=5
    ).json()["batches"]
    assert batches[last]["written"] == 500
