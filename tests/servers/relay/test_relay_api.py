"""The relay server's HTTP API, endpoint by endpoint, as BRIEF17's "Relay server HTTP API" says."""

from __future__ import annotations

import pytest

from gameday.servers.relay import FAULT_TYPES, TTL_KEY, VERSION


def _error(reply, status: int, message: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"error": message, "status": status}


def test_version_says_the_server_expires_ttl_faults_itself_and_where_its_state_is(api, folders):
    reply = api.get("/version")
    assert reply.status_code == 200
    assert reply.json() == {"version": VERSION, TTL_KEY: True, "state": str(folders.state)}


# --- /relays ------------------------------------------------------------------------------------


def test_relay_index_is_an_empty_object_at_first(api):
    reply = api.get("/relays")
    assert reply.status_code == 200
    assert reply.json() == {}


def test_create_relay_returns_201_and_the_relay(api, folders):
    body = {"name": "b", "upstream": str(folders.upstream), "landing": str(folders.landing)}
    reply = api.post("/relays", json=body)
    assert reply.status_code == 201
    assert reply.json() == {**body, "format": None, "faults": []}


def test_relay_index_maps_names_to_relays(api, make_relay):
    created = make_relay("b", format="csv")
    assert created["format"] == "csv"
    assert api.get("/relays").json() == {"b": created}
    assert api.get("/relays/b").json() == created


def test_create_relay_makes_missing_local_folders(api, folders):
    up, land = folders.upstream / "deep" / "up", folders.landing / "deep" / "land"
    reply = api.post("/relays", json={"name": "b", "upstream": str(up), "landing": str(land)})
    assert reply.status_code == 201
    assert up.is_dir()
    assert land.is_dir()


def test_file_urls_are_accepted(api, folders):
    body = {"name": "b", "upstream": f"file://{folders.upstream}", "landing": str(folders.landing)}
    assert api.post("/relays", json=body).status_code == 201


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "missing required field: name"),
        ({"upstream": "/a", "landing": "/b"}, "missing required field: name"),
        ({"name": "", "upstream": "/a", "landing": "/b"}, "missing required field: name"),
        ({"name": "b", "landing": "/b"}, "missing required field: upstream"),
        ({"name": "b", "upstream": None, "landing": "/b"}, "missing required field: upstream"),
        ({"name": "b", "upstream": "/a"}, "missing required field: landing"),
    ],
)
def test_create_relay_reports_missing_fields_in_order(api, body, message):
    _error(api.post("/relays", json=body), 400, message)


@pytest.mark.parametrize(
    "body",
    [
        {"name": 5, "upstream": "/a", "landing": "/b"},
        {"name": "b", "upstream": ["/a"], "landing": "/b"},
        {"name": "b", "upstream": "/a", "landing": "/b", "format": "xml"},
        {"name": "b", "upstream": "/a", "landing": "/a/"},
        ["not", "an", "object"],
    ],
)
def test_create_relay_with_a_bad_body_is_400(api, body):
    reply = api.post("/relays", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("bad request body: ")
    assert api.get("/relays").json() == {}


@pytest.mark.parametrize("raw", [b"", b"{not json", b"   "])
def test_create_relay_with_no_json_is_400(api, raw):
    reply = api.post("/relays", data=raw)
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("bad request body: ")


def test_create_duplicate_relay_is_409(api, make_relay):
    make_relay("b")
    reply = api.post("/relays", json={"name": "b", "upstream": "/x", "landing": "/y"})
    _error(reply, 409, "relay already exists")


def test_a_location_no_filesystem_can_open_is_500_and_creates_nothing(api, folders):
    body = {"name": "b", "upstream": "nosuchproto://bucket/up", "landing": str(folders.landing)}
    reply = api.post("/relays", json=body)
    assert reply.status_code == 500
    assert reply.json()["error"].startswith("cannot open relay b: ")
    assert api.get("/relays").json() == {}


def test_unknown_relay_is_404_everywhere(api):
    for method, path in [
        ("GET", "/relays/nope"),
        ("DELETE", "/relays/nope"),
        ("GET", "/relays/nope/faults"),
        ("POST", "/relays/nope/faults"),
        ("GET", "/relays/nope/faults/f"),
        ("DELETE", "/relays/nope/faults/f"),
        ("GET", "/relays/nope/schema"),
        ("GET", "/relays/nope/stats"),
    ]:
        _error(api.request(method, path, json={"type": "stale"}), 404, "relay not found")


def test_delete_relay_is_204_and_it_is_gone(api, relay):
    reply = api.delete(f"/relays/{relay}")
    assert reply.status_code == 204
    assert reply.content == b""
    _error(api.get(f"/relays/{relay}"), 404, "relay not found")


# --- routing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/relays/b/nope", "/proxies"])
def test_unknown_path_is_404_json(api, path):
    _error(api.get(path), 404, "not found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/relays"), ("GET", "/reset"), ("PUT", "/relays/b"), ("POST", "/version")],
)
def test_wrong_method_is_405_json(api, method, path):
    _error(api.request(method, path), 405, "method not allowed")


def test_browsers_are_refused(api):
    reply = api.get("/relays", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    _error(reply, 403, "User agent not allowed")


# --- faults ---------------------------------------------------------------------------------------


def test_create_fault_returns_it_with_every_attribute_and_empty_evidence(api, relay):
    body = {"name": "nulls", "type": "null_column", "attributes": {"column": "amount"}}
    reply = api.post(f"/relays/{relay}/faults", json=body)
    assert reply.status_code == 200
    assert reply.json() == {
        "name": "nulls",
        "type": "null_column",
        "attributes": {"column": "amount", "fraction": 1.0, "seed": 0, "batches": 0},
        "evidence": {
            "batches": [],
            "rows": 0,
            "columns": [],
            "held": 0,
            "released": 0,
            "dropped": 0,
        },
    }


@pytest.mark.parametrize(
    ("kind", "attributes"),
    [
        ("null_column", {"column": "c"}),
        ("drift", {"column": "c"}),
        ("unit_change", {"column": "c", "factor": 1000}),
        ("type_change", {"column": "c"}),
        ("corrupt", {"mode": "garbage"}),
        ("duplicate", {}),
        ("empty", {}),
        ("stale", {}),
        ("delay", {"delay_s": 1.5}),
        ("label_flip", {"column": "c"}),
    ],
)
def test_every_fault_type_is_accepted_with_its_attributes(api, relay, kind, attributes):
    fault = api.add_fault(relay, type=kind, attributes=attributes)
    assert fault["name"] == kind  # the name defaults to the type
    assert set(fault["attributes"]) == {*FAULT_TYPES[kind], "seed", "batches"}
    for key, value in attributes.items():
        assert fault["attributes"][key] == value


def test_fault_index_lists_faults_in_creation_order(api, relay):
    api.add_fault(relay, name="a", type="stale")
    api.add_fault(relay, name="b", type="empty")
    reply = api.get(f"/relays/{relay}/faults")
    assert reply.status_code == 200
    assert [f["name"] for f in reply.json()] == ["a", "b"]
    assert [f["name"] for f in api.get(f"/relays/{relay}").json()["faults"]] == ["a", "b"]


def test_unknown_fault_type_is_400(api, relay):
    reply = api.post(f"/relays/{relay}/faults", json={"name": "x", "type": "latency"})
    _error(reply, 400, "invalid fault type")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "null_column"},
        {"type": "null_column", "attributes": {"column": 3}},
        {"type": "null_column", "attributes": {"column": "c", "fraction": 1.5}},
        {"type": "unit_change", "attributes": {"column": "c"}},
        {"type": "unit_change", "attributes": {"column": "c", "factor": "1000"}},
        {"type": "corrupt", "attributes": {"mode": "bitflip"}},
        {"type": "corrupt", "attributes": {}},
        {"type": "delay", "attributes": {"delay_s": -1}},
        {"type": "stale", "attributes": {"seed": 1.5}},
        {"type": "stale", "attributes": {"batches": -1}},
        {"type": "stale", "attributes": ["x"]},
        {"type": "stale", TTL_KEY: 0},
        {"type": "stale", TTL_KEY: "soon"},
        {"name": 7, "type": "stale"},
    ],
)
def test_bad_fault_bodies_are_400_and_create_nothing(api, relay, body):
    reply = api.post(f"/relays/{relay}/faults", json=body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"].startswith("bad request body: ")
    assert api.get(f"/relays/{relay}/faults").json() == []


def test_duplicate_fault_name_is_409(api, relay):
    api.add_fault(relay, name="f", type="stale")
    reply = api.post(f"/relays/{relay}/faults", json={"name": "f", "type": "empty"})
    _error(reply, 409, "fault already exists")


def test_get_and_delete_fault(api, relay):
    created = api.add_fault(relay, name="f", type="empty")
    assert api.fault(relay, "f") == created
    reply = api.delete(f"/relays/{relay}/faults/f")
    assert reply.status_code == 200
    assert reply.json() == created
    _error(api.get(f"/relays/{relay}/faults/f"), 404, "fault not found")
    _error(api.delete(f"/relays/{relay}/faults/f"), 404, "fault not found")


def test_reset_removes_every_fault_of_every_relay(api, make_relay, relay, folders):
    other = make_relay("other", upstream=str(folders.upstream / "o"))["name"]
    api.add_fault(relay, type="stale")
    api.add_fault(other, type="empty")
    reply = api.post("/reset")
    assert reply.status_code == 204
    assert api.get(f"/relays/{relay}/faults").json() == []
    assert api.get(f"/relays/{other}/faults").json() == []


# --- schema and stats -------------------------------------------------------------------------


def test_schema_before_the_first_batch_is_empty(api, relay, make_relay, folders):
    assert api.get(f"/relays/{relay}/schema").json() == {
        "format": None,
        "columns": {},
        "batches_seen": 0,
    }
    fixed = make_relay("fixed", upstream=str(folders.upstream / "f"), format="csv")
    assert api.get(f"/relays/{fixed['name']}/schema").json()["format"] == "csv"


def test_stats_before_the_first_batch(api, relay):
    reply = api.get(f"/relays/{relay}/stats")
    assert reply.status_code == 200
    assert reply.json() == {"batches": 0, "bytes": 0, "held": 0, "last_batch_at": None}


# --- populate -----------------------------------------------------------------------------------


def _spec(folders, name: str, **extra):
    up = folders.upstream / name
    return {"name": name, "upstream": str(up), "landing": str(folders.landing), **extra}


def test_populate_creates_relays(api, folders):
    reply = api.post("/populate", json=[_spec(folders, "a"), _spec(folders, "b", format="csv")])
    assert reply.status_code == 201
    relays = reply.json()["relays"]
    assert [r["name"] for r in relays] == ["a", "b"]
    assert relays[1]["format"] == "csv"
    assert set(api.get("/relays").json()) == {"a", "b"}


def test_populate_validates_everything_first(api, folders):
    body = [_spec(folders, "a"), {"name": "b", "upstream": "/x"}]
    _error(api.post("/populate", json=body), 400, "missing required field: landing at relay 2")
    assert api.get("/relays").json() == {}


@pytest.mark.parametrize("body", [{"name": "a"}, [1], "relays"])
def test_populate_needs_an_array_of_objects(api, body):
    reply = api.post("/populate", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("bad request body: ")


def test_populate_leaves_an_identical_relay_and_its_faults(api, folders):
    api.post("/populate", json=[_spec(folders, "a")])
    api.add_fault("a", name="f", type="stale")
    reply = api.post("/populate", json=[_spec(folders, "a")])
    assert reply.status_code == 201
    assert [f["name"] for f in reply.json()["relays"][0]["faults"]] == ["f"]
    assert [f["name"] for f in api.get("/relays/a/faults").json()] == ["f"]


def test_populate_replaces_a_differing_relay(api, folders):
    api.post("/populate", json=[_spec(folders, "a")])
    api.add_fault("a", name="f", type="stale")
    reply = api.post("/populate", json=[_spec(folders, "a", format="jsonl")])
    assert reply.status_code == 201
    assert api.get("/relays/a").json()["format"] == "jsonl"
    assert api.get("/relays/a/faults").json() == []
