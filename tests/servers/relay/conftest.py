"""Fixtures for the relay server: a server per test on its own state folder, folders, a client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from gameday.servers.relay import RunningServer, running_server


class Api:
    """Raw HTTP access to the relay API (one keep-alive session, timeouts on every call)."""

    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def add_fault(self, relay: str, **body: Any) -> dict[str, Any]:
        reply = self.post(f"/relays/{relay}/faults", json=body)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def remove_fault(self, relay: str, name: str) -> dict[str, Any]:
        reply = self.delete(f"/relays/{relay}/faults/{name}")
        assert reply.status_code == 200, reply.text
        return reply.json()

    def fault(self, relay: str, name: str) -> dict[str, Any]:
        reply = self.get(f"/relays/{relay}/faults/{name}")
        assert reply.status_code == 200, reply.text
        return reply.json()

    def stats(self, relay: str) -> dict[str, Any]:
        return self.get(f"/relays/{relay}/stats").json()


@dataclass(frozen=True)
class Folders:
    """A relay's two ends and the server's state folder."""

    upstream: Path
    landing: Path
    state: Path

    def kept(self) -> list[Path]:
        """Originals the server keeps for faults that changed them (one per fault)."""
        return sorted(p for p in self.state.glob("relays/*/kept/*/*") if p.is_file())

    def held(self) -> list[Path]:
        """Batches the server holds back (stale, delay, or waiting behind a held one)."""
        return sorted(p for p in self.state.glob("relays/*/pending/*") if p.is_file())


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    up, land, state = tmp_path / "upstream", tmp_path / "landing", tmp_path / "state"
    for folder in (up, land):
        folder.mkdir()
    return Folders(up, land, state)


@pytest.fixture
def server(folders: Folders) -> Iterator[RunningServer]:
    with running_server(folders.state) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    client = Api(server.url)
    yield client
    client.session.close()


class MakeRelay:
    """Create a relay over the test's folders (extra body keys override)."""

    def __init__(self, api: Api, folders: Folders):
        self.api = api
        self.folders = folders

    def __call__(self, name: str = "batches", **extra: Any) -> dict[str, Any]:
        body = {
            "name": name,
            "upstream": str(self.folders.upstream),
            "landing": str(self.folders.landing),
        }
        reply = self.api.post("/relays", json={**body, **extra})
        assert reply.status_code == 201, reply.text
        return reply.json()


@pytest.fixture
def make_relay(api: Api, folders: Folders) -> MakeRelay:
    return MakeRelay(api, folders)


@pytest.fixture
def relay(make_relay: MakeRelay) -> str:
    """Relay ``batches`` from ``folders.upstream`` to ``folders.landing`` (format by name)."""
    return make_relay()["name"]
