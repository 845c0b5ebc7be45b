"""The toxic endpoints of the embedded server's API, as TOXIPROXY.md specifies them."""

from __future__ import annotations

import pytest


def _error(reply, status: int, message: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"error": message, "status": status}


def test_toxic_index_is_an_empty_array(api, proxy):
    reply = api.get("/proxies/echo/toxics")
    assert reply.status_code == 200
    assert reply.json() == []


def test_create_toxic_fills_in_defaults(api, proxy):
    reply = api.post("/proxies/echo/toxics", json={"type": "latency"})
    assert reply.status_code == 200
    assert reply.json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 0, "jitter": 0},
    }


@pytest.mark.parametrize(
    ("kind", "attributes"),
    [
        ("latency", {"latency": 0, "jitter": 0}),
        ("bandwidth", {"rate": 0}),
        ("slow_close", {"delay": 0}),
        ("timeout", {"timeout": 0}),
        ("reset_peer", {"timeout": 0}),
        ("slicer", {"average_size": 0, "size_variation": 0, "delay": 0}),
        ("limit_data", {"bytes": 0}),
        ("noop", {}),
    ],
)
def test_every_toxic_type_lists_all_its_attributes(api, proxy, kind, attributes):
    body = api.add_toxic("echo", type=kind, stream="upstream")
    assert body["name"] == f"{kind}_upstream"
    assert body["attributes"] == attributes


def test_null_values_in_a_toxic_body_mean_defaults(api, proxy):
    body = api.add_toxic(
        "echo", type="latency", name=None, stream=None, toxicity=None, attributes={"latency": None}
    )
    assert body == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 0, "jitter": 0},
    }


def test_toxics_are_listed_upstream_first_then_downstream_in_insertion_order(api, proxy):
    for name, stream in [
        ("d1", "downstream"),
        ("u1", "upstream"),
        ("d2", "downstream"),
        ("u2", "upstream"),
    ]:
        api.add_toxic("echo", name=name, type="noop", stream=stream)
    assert [t["name"] for t in api.get("/proxies/echo/toxics").json()] == ["u1", "u2", "d1", "d2"]
    assert [t["name"] for t in api.get("/proxies/echo").json()["toxics"]] == [
        "u1",
        "u2",
        "d1",
        "d2",
    ]


def test_invalid_stream_is_400(api, proxy):
    reply = api.post("/proxies/echo/toxics", json={"type": "latency", "stream": "sideways"})
    _error(reply, 400, "stream was invalid, can be either upstream or downstream")


def test_unknown_toxic_type_is_400(api, proxy):
    _error(api.post("/proxies/echo/toxics", json={"type": "gremlins"}), 400, "invalid toxic type")
    _error(api.post("/proxies/echo/toxics", json={}), 400, "invalid toxic type")


def test_toxic_name_taken_in_either_stream_is_409(api, proxy):
    api.add_toxic("echo", name="slow", type="latency", stream="upstream")
    reply = api.post("/proxies/echo/toxics", json={"name": "slow", "type": "latency"})
    _error(reply, 409, "toxic already exists")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "latency", "attributes": {"latency": 1.5}},
        {"type": "latency", "attributes": {"latency": 100.0}},
        {"type": "latency", "attributes": {"latency": "100"}},
        {"type": "latency", "attributes": {"jitter": True}},
        {"type": "latency", "attributes": "fast"},
        {"type": "latency", "toxicity": "high"},
        {"type": 7},
        {"type": "latency", "stream": 1},
        {"type": "latency", "gameday_ttl_s": "soon"},
        {"type": "latency", "gameday_ttl_s": -1},
    ],
)
def test_wrong_types_in_a_toxic_body_are_400(api, proxy, body):
    reply = api.post("/proxies/echo/toxics", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("bad request body: ")


def test_unknown_attributes_are_ignored(api, proxy):
    body = api.add_toxic("echo", type="latency", attributes={"latency": 5, "colour": "red"})
    assert body["attributes"] == {"latency": 5, "jitter": 0}


def test_show_toxic_and_missing_toxic(api, proxy):
    created = api.add_toxic("echo", type="timeout", attributes={"timeout": 10})
    reply = api.get("/proxies/echo/toxics/timeout_downstream")
    assert reply.status_code == 200
    assert reply.json() == created
    _error(api.get("/proxies/echo/toxics/nope"), 404, "toxic not found")


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_update_toxic_merges_attributes_and_sets_toxicity(api, proxy, method):
    api.add_toxic("echo", type="latency", attributes={"latency": 100, "jitter": 5}, toxicity=0.5)
    reply = api.request(
        method, "/proxies/echo/toxics/latency_downstream", json={"attributes": {"jitter": 9}}
    )
    assert reply.status_code == 200
    assert reply.json()["attributes"] == {"latency": 100, "jitter": 9}
    assert reply.json()["toxicity"] == 0.5
    reply = api.patch(
        "/proxies/echo/toxics/latency_downstream", json={"toxicity": 1, "stream": "upstream"}
    )
    assert reply.json()["toxicity"] == 1.0
    assert reply.json()["stream"] == "downstream"  # name, type and stream cannot change
    assert api.get("/proxies/echo/toxics/latency_downstream").json() == reply.json()


def test_update_missing_toxic_is_404(api, proxy):
    _error(api.patch("/proxies/echo/toxics/nope", json={}), 404, "toxic not found")


def test_update_toxic_with_wrong_types_is_400(api, proxy):
    api.add_toxic("echo", type="latency")
    reply = api.patch(
        "/proxies/echo/toxics/latency_downstream", json={"attributes": {"latency": "x"}}
    )
    assert reply.status_code == 400


def test_delete_toxic_is_204_then_404(api, proxy):
    api.add_toxic("echo", type="latency")
    reply = api.delete("/proxies/echo/toxics/latency_downstream")
    assert reply.status_code == 204
    assert api.get("/proxies/echo/toxics").json() == []
    _error(api.delete("/proxies/echo/toxics/latency_downstream"), 404, "toxic not found")


def test_ttl_key_never_appears_in_responses(api, proxy):
    created = api.add_toxic("echo", type="latency", gameday_ttl_s=60)
    assert "gameday_ttl_s" not in created
    reply = api.post("/proxies/echo", json={"enabled": False, "gameday_ttl_s": 60})
    assert "gameday_ttl_s" not in reply.json()
    assert "gameday_ttl_s" not in reply.text
