"""toxiproxy-python 0.1.1, unchanged, against the embedded server."""

from __future__ import annotations

import pytest
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from gameday.servers.toxiproxy.testing import connect, round_trip


def test_client_sees_the_server_running_and_its_version(client):
    assert client.running()
    assert b'"version"' in client.version()


def test_client_creates_lists_and_destroys_proxies(client, upstream):
    proxy = client.create(upstream=upstream.address, name="db")
    assert proxy.enabled is True
    assert proxy.listen.startswith("127.0.0.1:")
    assert set(client.proxies()) == {"db"}
    with connect(int(proxy.listen.rsplit(":", 1)[1])) as sock:
        round_trip(sock)
    assert client.destroy(proxy)
    assert client.get_proxy("db") is None


def test_client_create_of_an_existing_proxy_raises_proxy_exists(client, upstream):
    client.create(upstream=upstream.address, name="db")
    with pytest.raises(ProxyExists):
        client.create(upstream=upstream.address, name="db")


def test_client_adds_lists_and_destroys_toxics(client, upstream):
    proxy = client.create(upstream=upstream.address, name="db")
    proxy.add_toxic(type="latency", attributes={"latency": 50})
    proxy.add_toxic(type="timeout", stream="upstream", name="cut", toxicity=0.5)
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "cut"}
    assert toxics["latency_downstream"].attributes == {"latency": 50, "jitter": 0}
    assert toxics["cut"].stream == "upstream"
    assert toxics["cut"].toxicity == 0.5
    assert proxy.destroy_toxic("cut")
    assert proxy.get_toxic("cut") is None


def test_client_errors_map_to_its_exceptions(client, upstream):
    proxy = client.create(upstream=upstream.address, name="db")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="gremlins")
    proxy.add_toxic(type="latency")
    with pytest.raises(ProxyExists):
        proxy.add_toxic(type="latency")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("nope")


def test_client_down_context_refuses_then_restores_connections(client, upstream):
    proxy = client.create(upstream=upstream.address, name="db")
    port = int(proxy.listen.rsplit(":", 1)[1])
    with proxy.down():
        assert client.get_proxy("db").enabled is False
        with pytest.raises(ConnectionRefusedError):
            connect(port)
    with connect(port) as sock:
        round_trip(sock)


def test_client_reset_and_populate(client, upstream):
    proxy = client.create(upstream=upstream.address, name="db")
    proxy.add_toxic(type="latency")
    proxy.disable()
    assert client.reset()
    again = client.get_proxy("db")
    assert again.enabled is True
    assert again.toxics() == {}
    created = client.populate(
        [{"name": "cache", "upstream": upstream.address, "listen": "127.0.0.1:0"}]
    )
    assert [p.name for p in created] == ["cache"]
    assert set(client.proxies()) == {"db", "cache"}


def test_client_destroy_all(client, upstream):
    client.create(upstream=upstream.address, name="a")
    client.create(upstream=upstream.address, name="b")
    client.destroy_all()
    assert client.proxies() == {}
