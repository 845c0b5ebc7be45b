"""Fixtures for the embedded toxiproxy server: a server per test, an echo upstream, clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import toxiproxy
from toxiproxy.api import APIConsumer

from gameday.servers.toxiproxy import RunningServer, running_server
from gameday.servers.toxiproxy.testing import TcpServer, tcp_server


class Api:
    """Raw HTTP access to the server's API (one keep-alive session, timeouts on every call)."""

    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=5, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def add_toxic(self, proxy: str, **body: Any) -> dict[str, Any]:
        reply = self.post(f"/proxies/{proxy}/toxics", json=body)
        assert reply.status_code == 200, reply.text
        return reply.json()


@dataclass
class ProxyInfo:
    """A proxy created for a test: its name and the port it listens on."""

    name: str
    port: int


@pytest.fixture
def toxi() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


@pytest.fixture
def api(toxi: RunningServer) -> Iterator[Api]:
    api = Api(toxi.url)
    yield api
    api.session.close()


@pytest.fixture
def upstream() -> Iterator[TcpServer]:
    with tcp_server() as server:
        yield server


@pytest.fixture
def proxy(api: Api, upstream: TcpServer) -> ProxyInfo:
    """Proxy ``echo`` on an ephemeral port in front of the echo upstream."""
    reply = api.post("/proxies", json={"name": "echo", "upstream": upstream.address})
    assert reply.status_code == 201, reply.text
    return ProxyInfo("echo", int(reply.json()["listen"].rsplit(":", 1)[1]))


@pytest.fixture
def client(toxi: RunningServer) -> Iterator[toxiproxy.Toxiproxy]:
    """toxiproxy-python pointed at the test server (its host/port are class-wide)."""
    saved = (APIConsumer.host, APIConsumer.port)
    client = toxiproxy.Toxiproxy()
    client.update_api_consumer(toxi.host, toxi.port)
    yield client
    APIConsumer.host, APIConsumer.port = saved
