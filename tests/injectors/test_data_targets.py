"""Data faults on each kind of target: what validation refuses before anything runs, the
clear word when a link's toxiproxy cannot carry a payload fault, and a producer that applies
faults itself through gameday's faults API."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gameday.errors import InjectionError, ScenarioError
from gameday.injectors.base import FaultContext, Target
from gameday.injectors.data import CorruptBatchInjector, NullColumnInjector, valid_path
from gameday.scenario.environment import Environment
from gameday.scenario.model import parse_scenario

ENV = Environment.from_endpoints(
    {
        "toxiproxy": "http://127.0.0.1:1",
        "relay": "http://127.0.0.1:2",
        "relays": {"batches": {"upstream": "/srv/up", "landing": "/srv/landing"}},
        "targets": {
            "scores": {"proxy": "model_server"},
            "upstream": {"relay": "batches"},
            "landing": {"batch_dir": "/srv/landing"},
        },
    }
)


def scenario(fault: str) -> str:
    return f"""name: s
timeline: {{baseline: 1s, fault: 5s, recovery: 1s}}
faults:
  - {fault}
expect:
  - {{alert: X, silent: true}}
"""


def refusal(fault: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(scenario(fault), "s.yaml", environment=ENV)
    return caught.value


def test_a_field_on_an_http_link_and_a_column_on_a_relay_are_what_each_needs() -> None:
    parse_scenario(
        scenario("{injector: data.null_column, target: scores, params: {field: 'items[*].score'}}"),
        "s.yaml",
        environment=ENV,
    )
    error = refusal("{injector: data.null_column, target: scores, params: {column: score}}")
    assert (error.line, error.message) == (
        4, "data.null_column on target 'scores' (proxy): field is required on HTTP targets",
    )  # fmt: skip
    error = refusal("{injector: data.null_column, target: upstream, params: {field: a.b}}")
    assert error.message.endswith("column is required on batch targets")


def test_a_malformed_json_path_is_refused_with_its_line() -> None:
    error = refusal("{injector: data.type_change, target: scores, params: {field: 'a..b'}}")
    assert error.line == 4 and "is not a JSON path like a.b[*].c" in error.message
    assert valid_path("features.merchant_risk") and valid_path("items[*].score")
    assert not valid_path("items[") and not valid_path(".a")


def test_faults_on_whole_batches_refuse_an_http_link() -> None:
    error = refusal("{injector: data.stale, target: scores}")
    assert "data.stale acts on a relay or batch_source; target 'scores' is a proxy" in str(error)


def test_http_only_supports_the_corruptions_a_json_field_can_carry() -> None:
    error = refusal(
        "{injector: data.corrupt_batch, target: scores, params: {field: x, mode: garbage}}"
    )
    assert "mode garbage needs a batch target" in error.message
    parse_scenario(
        scenario(
            "{injector: data.corrupt_batch, target: scores, params: {field: x, mode: sentinel}}"
        ),
        "s.yaml",
        environment=ENV,
    )


def test_a_batch_dir_target_says_how_to_route_the_pipeline_through_a_relay() -> None:
    error = refusal("{injector: data.null_column, target: landing, params: {column: c}}")
    assert "gameday never edits a pipeline's folder in place" in error.message
    assert "relays:" in error.message


def test_a_relay_target_needs_a_relay_the_environment_lists() -> None:
    with pytest.raises(ScenarioError, match="no relay 'other' in relays"):
        Environment.from_endpoints(
            {"relays": {"batches": {"upstream": "/a", "landing": "/b"}},
             "targets": {"x": {"relay": "other"}}}
        )  # fmt: skip
    with pytest.raises(ScenarioError, match="upstream and landing must be different"):
        Environment.from_endpoints({"relays": {"b": {"upstream": "/a", "landing": "/a/"}}})


def test_a_toxiproxy_that_does_not_know_payload_toxics_is_named_as_such(
    canned_http: Callable[[dict[str, tuple[int, Any]]], str],
) -> None:
    """A real Go toxiproxy answers 400 to an unknown toxic type (it cannot run here)."""
    url = canned_http({
        "/proxies/model_server/toxics": (400, {"error": "invalid toxic type", "status": 400}),
        "/version": (200, {"version": "2.12.0"}),
    })  # fmt: skip
    target = Target("scores", "proxy", {"toxiproxy": [url], "proxy": "model_server"})
    params = NullColumnInjector.validated({"field": "score"})
    ctx = FaultContext("s-0-abcdef", target, params, 30.0)
    with pytest.raises(
        InjectionError,
        match="does not know the toxic 'http_json': this fault needs gameday's toxiproxy",
    ):
        NullColumnInjector().apply(ctx)
    assert CorruptBatchInjector.validated({})["column"] == ""  # no stack column by default


class _Producer(BaseHTTPRequestHandler):
    """A user's producer that applies faults itself: gameday's faults API, nothing more."""

    faults: dict[str, dict[str, object]] = {}

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.faults[body["id"]] = body
        self._answer(201, {"id": body["id"], "kind": body["kind"]})

    def do_DELETE(self) -> None:
        fault = self.faults.pop(self.path.rsplit("/", 1)[-1], None)
        if fault is None:
            self._answer(404, {"error": "no such fault"})
        else:
            self._answer(200, {"evidence": {"batches": ["b-1", "b-2"], "rows": 20}})

    def _answer(self, status: int, doc: object) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_a_producer_target_gets_the_fault_through_its_faults_api_and_reports_the_batches() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Producer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        target = Target("upstream", "batch_source", {"producer": url})
        injector = NullColumnInjector()
        params = injector.validated({"column": "merchant_risk", "fraction": 0.5})
        applied = injector.apply(FaultContext("null-0-abcdef", target, params, 60.0, seed=3))
        sent = _Producer.faults["null-0-abcdef"]
        assert sent["kind"] == "null_column" and sent["ttl_s"] == 60.0
        params_sent = sent["params"]
        assert isinstance(params_sent, dict)
        assert params_sent["column"] == "merchant_risk" and params_sent["fraction"] == 0.5
        assert params_sent["seed"] == 3
        reverted = injector.revert(applied)
        assert reverted["batches"] == ["b-1", "b-2"] and not _Producer.faults
        effect = injector.effect(applied, reverted)
        assert effect is not None and effect.took_effect is True
    finally:
        server.shutdown()
        server.server_close()
