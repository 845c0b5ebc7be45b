"""The HTTP API of the embedded server, endpoint by endpoint, as TOXIPROXY.md specifies it."""

from __future__ import annotations

import socket

import pytest

from gameday.servers.toxiproxy import TTL_KEY, VERSION
from gameday.servers.toxiproxy.testing import connect, round_trip, tcp_server

UPSTREAM = "127.0.0.1:9"  # never dialled in these tests: upstreams are not validated


def _port(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def _error(reply, status: int, message: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"error": message, "status": status}


# --- /proxies -----------------------------------------------------------------------------------


def test_proxy_index_is_an_empty_object_at_first(api):
    reply = api.get("/proxies")
    assert reply.status_code == 200
    assert reply.json() == {}


def test_create_proxy_returns_201_with_the_bound_port(api):
    reply = api.post("/proxies", json={"name": "db", "upstream": UPSTREAM, "listen": "127.0.0.1:0"})
    assert reply.status_code == 201
    body = reply.json()
    assert body["name"] == "db"
    assert body["upstream"] == UPSTREAM
    assert body["enabled"] is True
    assert body["toxics"] == []
    assert body["listen"].startswith("127.0.0.1:")
    assert _port(body["listen"]) > 0
    assert not _refused(_port(body["listen"]))


def test_proxy_index_maps_names_to_proxies(api):
    created = api.post("/proxies", json={"name": "db", "upstream": UPSTREAM}).json()
    assert api.get("/proxies").json() == {"db": created}


def test_create_proxy_without_listen_binds_an_ephemeral_loopback_port(api):
    body = api.post("/proxies", json={"name": "db", "upstream": UPSTREAM}).json()
    assert body["listen"].startswith("127.0.0.1:")


def test_create_disabled_proxy_does_not_listen(api):
    body = api.post("/proxies", json={"name": "db", "upstream": UPSTREAM, "enabled": False}).json()
    assert body["enabled"] is False
    assert api.get("/proxies/db").json()["enabled"] is False


def test_null_enabled_means_the_default_true(api):
    body = api.post("/proxies", json={"name": "db", "upstream": UPSTREAM, "enabled": None}).json()
    assert body["enabled"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "missing required field: name"),
        ({"upstream": UPSTREAM}, "missing required field: name"),
        ({"name": "", "upstream": UPSTREAM}, "missing required field: name"),
        ({"name": "db"}, "missing required field: upstream"),
        ({"name": "db", "upstream": None}, "missing required field: upstream"),
    ],
)
def test_create_proxy_reports_missing_fields_name_first(api, body, message):
    _error(api.post("/proxies", json=body), 400, message)


def test_create_duplicate_proxy_is_409(api):
    api.post("/proxies", json={"name": "db", "upstream": UPSTREAM})
    _error(
        api.post("/proxies", json={"name": "db", "upstream": UPSTREAM}), 409, "proxy already exists"
    )


def test_create_proxy_on_a_taken_port_is_500(api):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        reply = api.post("/proxies", json={"name": "db", "upstream": UPSTREAM, "listen": listen})
    assert reply.status_code == 500
    assert "address already in use" in reply.json()["error"]
    assert api.get("/proxies").json() == {}


def test_upstream_is_not_validated_at_creation(api):
    reply = api.post("/proxies", json={"name": "db", "upstream": "no-such-host.invalid:1"})
    assert reply.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"name": 5, "upstream": UPSTREAM},
        {"name": "db", "upstream": ["x"]},
        {"name": "db", "upstream": UPSTREAM, "enabled": "yes"},
        {"name": "db", "upstream": UPSTREAM, "listen": 8080},
        ["not", "an", "object"],
    ],
)
def test_wrong_types_in_a_proxy_body_are_400(api, body):
    reply = api.post("/proxies", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("bad request body: ")


@pytest.mark.parametrize("raw", [b"", b"{not json", b"nul"])
def test_unparseable_body_is_400(api, raw):
    reply = api.post("/proxies", data=raw, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("bad request body: ")
    assert reply.json()["status"] == 400


def test_unknown_keys_in_a_body_are_ignored(api):
    body = {"name": "db", "upstream": UPSTREAM, "colour": "blue", "gameday_ttl_s": None}
    assert api.post("/proxies", json=body).status_code == 201


# --- /proxies/{p} -----------------------------------------------------------------------------


def test_show_proxy(api):
    created = api.post("/proxies", json={"name": "db", "upstream": UPSTREAM}).json()
    reply = api.get("/proxies/db")
    assert reply.status_code == 200
    assert reply.json() == created


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/proxies/nope"),
        ("POST", "/proxies/nope"),
        ("PATCH", "/proxies/nope"),
        ("DELETE", "/proxies/nope"),
        ("GET", "/proxies/nope/toxics"),
        ("POST", "/proxies/nope/toxics"),
        ("GET", "/proxies/nope/toxics/t"),
        ("PATCH", "/proxies/nope/toxics/t"),
        ("DELETE", "/proxies/nope/toxics/t"),
    ],
)
def test_missing_proxy_is_404_everywhere(api, method, path):
    _error(api.request(method, path, json={"type": "latency"}), 404, "proxy not found")


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_update_keeps_omitted_fields(api, method):
    created = api.post("/proxies", json={"name": "db", "upstream": UPSTREAM}).json()
    reply = api.request(method, "/proxies/db", json={"enabled": False})
    assert reply.status_code == 200
    assert reply.json() == {**created, "enabled": False}


def test_disable_then_enable_rebinds_the_same_port(api, proxy):
    api.post("/proxies/echo", json={"enabled": False})
    assert _refused(proxy.port)
    reply = api.patch("/proxies/echo", json={"enabled": True})
    assert reply.json()["enabled"] is True
    assert _port(reply.json()["listen"]) == proxy.port
    with connect(proxy.port) as sock:
        round_trip(sock)


def test_enable_fails_with_500_when_the_port_was_taken_meanwhile(api, proxy):
    api.post("/proxies/echo", json={"enabled": False})
    with socket.create_server(("127.0.0.1", proxy.port)):
        reply = api.post("/proxies/echo", json={"enabled": True})
        assert reply.status_code == 500
        assert reply.json()["status"] == 500
    assert api.get("/proxies/echo").json()["enabled"] is False


def test_changing_upstream_restarts_the_listener_towards_the_new_upstream(api, proxy):
    with connect(proxy.port) as old:
        round_trip(old)
        with tcp_server(lambda conn: conn.sendall(b"other")) as other:
            reply = api.patch("/proxies/echo", json={"upstream": other.address})
            assert reply.json()["upstream"] == other.address
            assert old.recv(10) == b""  # live connections were closed by the restart
            with connect(_port(reply.json()["listen"])) as new:
                assert new.recv(10) == b"other"


def test_changing_listen_moves_the_proxy(api, proxy):
    reply = api.patch("/proxies/echo", json={"listen": "127.0.0.1:0"})
    new_port = _port(reply.json()["listen"])
    assert new_port != proxy.port
    assert _refused(proxy.port)
    with connect(new_port) as sock:
        round_trip(sock)


def test_delete_proxy_is_204_and_closes_listener_and_connections(api, proxy):
    with connect(proxy.port) as sock:
        round_trip(sock)
        reply = api.delete("/proxies/echo")
        assert reply.status_code == 204
        assert reply.content == b""
        assert sock.recv(10) == b""
    assert _refused(proxy.port)
    _error(api.get("/proxies/echo"), 404, "proxy not found")


# --- /reset, /version, /populate ------------------------------------------------------------------


def test_reset_enables_every_proxy_and_removes_every_toxic(api, proxy):
    api.add_toxic("echo", type="latency", attributes={"latency": 1000})
    api.post("/proxies/echo", json={"enabled": False})
    reply = api.post("/reset")
    assert reply.status_code == 204
    body = api.get("/proxies/echo").json()
    assert body["enabled"] is True
    assert body["toxics"] == []
    with connect(proxy.port) as sock:
        assert round_trip(sock) < 0.5


def test_version(api):
    reply = api.get("/version")
    assert reply.status_code == 200
    assert reply.json() == {"version": VERSION, TTL_KEY: True}  # True: faults expire by TTL


def test_populate_creates_proxies_and_returns_them(api):
    reply = api.post(
        "/populate", json=[{"name": "a", "upstream": UPSTREAM}, {"name": "b", "upstream": UPSTREAM}]
    )
    assert reply.status_code == 201
    proxies = reply.json()["proxies"]
    assert [p["name"] for p in proxies] == ["a", "b"]
    assert all(p["enabled"] and _port(p["listen"]) > 0 for p in proxies)
    assert sorted(api.get("/proxies").json()) == ["a", "b"]


def test_populate_validates_everything_before_creating_anything(api):
    reply = api.post("/populate", json=[{"name": "a", "upstream": UPSTREAM}, {"name": "b"}])
    _error(reply, 400, "missing required field: upstream at proxy 2")
    reply = api.post(
        "/populate", json=[{"name": "a", "upstream": UPSTREAM}, {"upstream": UPSTREAM}]
    )
    _error(reply, 400, "missing required field: name at proxy 2")
    assert api.get("/proxies").json() == {}


def test_populate_needs_an_array(api):
    reply = api.post("/populate", json={"name": "a", "upstream": UPSTREAM})
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("bad request body: ")


def test_populate_leaves_an_identical_proxy_untouched_with_its_toxics(api):
    first = api.post(
        "/populate", json=[{"name": "a", "upstream": UPSTREAM, "listen": "127.0.0.1:0"}]
    )
    listen = first.json()["proxies"][0]["listen"]
    api.add_toxic("a", type="latency")
    for wanted in ("127.0.0.1:0", listen):
        again = api.post("/populate", json=[{"name": "a", "upstream": UPSTREAM, "listen": wanted}])
        assert again.status_code == 201
        kept = again.json()["proxies"][0]
        assert kept["listen"] == listen
        assert [t["name"] for t in kept["toxics"]] == ["latency_downstream"]


def test_populate_replaces_a_differing_proxy(api):
    api.post("/populate", json=[{"name": "a", "upstream": UPSTREAM}])
    api.add_toxic("a", type="latency")
    reply = api.post("/populate", json=[{"name": "a", "upstream": "127.0.0.1:10"}])
    replaced = reply.json()["proxies"][0]
    assert replaced["upstream"] == "127.0.0.1:10"
    assert replaced["toxics"] == []


def test_populate_rolls_back_when_a_bind_fails(api):
    api.post("/populate", json=[{"name": "a", "upstream": UPSTREAM}])
    before = api.get("/proxies").json()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        items = [
            {"name": "a", "upstream": "127.0.0.1:10"},
            {"name": "b", "upstream": UPSTREAM, "listen": listen},
        ]
        reply = api.post("/populate", json=items)
    assert reply.status_code == 500
    assert api.get("/proxies").json() == before
    assert not _refused(_port(before["a"]["listen"]))


# --- HTTP behaviour ---------------------------------------------------------------------------


def test_unknown_path_is_404_with_a_json_error(api):
    _error(api.get("/nowhere"), 404, "not found")
    _error(api.get("/proxies/a/b/c/d/e"), 404, "not found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/proxies"),
        ("DELETE", "/version"),
        ("GET", "/reset"),
        ("GET", "/populate"),
        ("PUT", "/proxies/x"),
    ],
)
def test_wrong_method_is_405_with_a_json_error(api, method, path):
    _error(api.request(method, path), 405, "method not allowed")


def test_browsers_are_refused(api):
    reply = api.get("/proxies", headers={"User-Agent": "Mozilla/5.0"})
    assert reply.status_code == 403


def test_keep_alive_serves_many_requests_on_one_connection(api, toxi):
    for i in range(20):
        assert api.post("/proxies", json={"name": f"p{i}", "upstream": UPSTREAM}).status_code == 201
        assert api.get(f"/proxies/p{i}").status_code == 200
    assert len(toxi.server._clients) == 1


def test_pipelined_requests_are_answered_in_order(toxi):
    request = b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(toxi.port) as sock:
        sock.sendall(request * 3 + b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200") == 3
    assert data.rindex(b"HTTP/1.1 200") < data.index(b"HTTP/1.1 404")


def test_malformed_http_gets_400_and_a_close(toxi):
    with connect(toxi.port) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        data = sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 400")


def test_percent_encoded_names_are_decoded(api):
    api.post("/proxies", json={"name": "a b", "upstream": UPSTREAM})
    assert api.get("/proxies/a%20b").json()["name"] == "a b"
