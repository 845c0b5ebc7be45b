"""gameday's ``GET /proxies/{p}/stats``: what crossed a proxy and what each toxic acted on.

Not a toxiproxy endpoint: everything toxiproxy defines must look exactly as before.
"""

from __future__ import annotations

from gameday.servers.toxiproxy.testing import connect, round_trip, wait_until


def _stats(api, proxy: str = "echo") -> dict:
    reply = api.get(f"/proxies/{proxy}/stats")
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    return reply.json()


def _toxic(api, name: str) -> dict:
    return _stats(api)["toxics"][name]


def test_a_new_proxy_has_counted_nothing(api, proxy):
    assert _stats(api) == {
        "proxy": "echo",
        "enabled": True,
        "connections": 0,
        "bytes": {"upstream": 0, "downstream": 0},
        "toxics": {},
    }


def test_connections_and_bytes_each_way_are_counted(api, proxy):
    with connect(proxy.port) as one, connect(proxy.port) as two:
        round_trip(one, b"x" * 100)
        round_trip(two, b"y" * 23)
        round_trip(two, b"z" * 7)
        live = _stats(api)
    assert live["connections"] == 2
    assert live["bytes"] == {"upstream": 130, "downstream": 130}
    # Connections that ended keep their counts in the totals.
    wait_until(lambda: _stats(api)["bytes"] == live["bytes"])
    with connect(proxy.port) as three:
        round_trip(three, b"w" * 10)
    assert _stats(api)["connections"] == 3
    assert _stats(api)["bytes"] == {"upstream": 140, "downstream": 140}


def test_a_toxic_counts_the_chunks_it_acted_on(api, proxy):
    api.add_toxic("echo", name="slow", type="latency", attributes={"latency": 5})
    with connect(proxy.port) as sock:
        for _ in range(3):
            round_trip(sock, b"0123456789")  # one echo at a time: one chunk each
    assert _toxic(api, "slow") == {"chunks": 3, "bytes": 30, "connections": 1}


def test_a_toxic_counts_nothing_without_traffic(api, proxy):
    api.add_toxic("echo", name="slow", type="latency", attributes={"latency": 5})
    assert _toxic(api, "slow") == {"chunks": 0, "bytes": 0, "connections": 0}
    with connect(proxy.port):
        wait_until(lambda: _toxic(api, "slow")["connections"] == 1)
        assert _toxic(api, "slow") == {"chunks": 0, "bytes": 0, "connections": 1}
    assert _stats(api)["bytes"] == {"upstream": 0, "downstream": 0}


def test_a_toxic_that_lost_its_toxicity_roll_counts_nothing(api, proxy):
    api.add_toxic("echo", name="never", type="latency", toxicity=0.0, attributes={"latency": 5})
    with connect(proxy.port) as sock:
        round_trip(sock, b"data")
    assert _toxic(api, "never") == {"chunks": 0, "bytes": 0, "connections": 0}
    assert _stats(api)["bytes"] == {"upstream": 4, "downstream": 4}


def test_a_toxic_counts_on_the_live_connections_it_joins(api, proxy):
    with connect(proxy.port) as sock:
        round_trip(sock, b"before")
        api.add_toxic("echo", name="cut", type="slicer", stream="upstream",
                      attributes={"average_size": 2})  # fmt: skip
        round_trip(sock, b"after!")
    assert _toxic(api, "cut") == {"chunks": 1, "bytes": 6, "connections": 1}
    assert _stats(api)["bytes"]["upstream"] == 12


def test_counters_survive_an_update_and_go_with_the_toxic(api, proxy):
    api.add_toxic("echo", name="slow", type="latency", attributes={"latency": 5})
    with connect(proxy.port) as sock:
        round_trip(sock, b"abc")
        api.post("/proxies/echo/toxics/slow", json={"attributes": {"latency": 1}})
        round_trip(sock, b"def")
        assert _toxic(api, "slow") == {"chunks": 2, "bytes": 6, "connections": 1}
        assert api.delete("/proxies/echo/toxics/slow").status_code == 204
        assert _stats(api)["toxics"] == {}
        api.add_toxic("echo", name="slow", type="latency", attributes={"latency": 5})
        assert _toxic(api, "slow")["chunks"] == 0


def test_toxics_are_listed_in_the_api_order_upstream_first(api, proxy):
    for name, stream in (("d1", "downstream"), ("u1", "upstream"), ("d2", "downstream")):
        api.add_toxic("echo", name=name, type="noop", stream=stream)
    assert list(_stats(api)["toxics"]) == ["u1", "d1", "d2"]


def test_counts_outlive_disabling_the_proxy(api, proxy):
    with connect(proxy.port) as sock:
        round_trip(sock, b"12345")
    api.post("/proxies/echo", json={"enabled": False})
    stats = _stats(api)
    assert stats["enabled"] is False
    assert stats["connections"] == 1
    assert stats["bytes"] == {"upstream": 5, "downstream": 5}


def test_stats_of_a_missing_proxy_are_404(api):
    reply = api.get("/proxies/nope/stats")
    assert reply.status_code == 404
    assert reply.json() == {"error": "proxy not found", "status": 404}


def test_stats_are_read_only(api, proxy):
    reply = api.post("/proxies/echo/stats", json={})
    assert reply.status_code == 405
    assert reply.json() == {"error": "method not allowed", "status": 405}


def test_toxiproxy_objects_are_unchanged_by_the_counting(api, proxy, upstream):
    api.add_toxic("echo", name="slow", type="latency", attributes={"latency": 1, "jitter": 0})
    with connect(proxy.port) as sock:
        round_trip(sock)
    toxic = {
        "name": "slow",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 1, "jitter": 0},
    }
    shown = {
        "name": "echo",
        "listen": f"127.0.0.1:{proxy.port}",
        "upstream": upstream.address,
        "enabled": True,
        "toxics": [toxic],
    }
    assert api.get("/proxies/echo/toxics/slow").json() == toxic
    assert api.get("/proxies/echo/toxics").json() == [toxic]
    assert api.get("/proxies/echo").json() == shown
    assert api.get("/proxies").json() == {"echo": shown}
