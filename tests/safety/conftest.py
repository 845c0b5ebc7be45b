"""Fixtures of the safety tests: an embedded toxiproxy in this process, a journal folder, and
a shared stack left healthy after every test that used it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fixtures.safety_harness import data_faults, toxics

from gameday.servers.toxiproxy import running_server
from gameday.telemetry.prometheus import PrometheusClient
from gameday.testing import active_alerts, wait_until
from gameday.undo.journal import Journal


@pytest.fixture
def toxiproxy() -> Iterator[str]:
    """An embedded toxiproxy API URL with one proxy, ``feature_store`` (upstream unused)."""
    with running_server() as server:
        body = {"name": "feature_store", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}
        requests.post(f"{server.url}/proxies", json=body, timeout=5).raise_for_status()
        yield server.url


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal")


@pytest.fixture(autouse=True)
def _leave_the_stack_healthy(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the shared stack: no fault of ours left, every alert resolved.

    Faults a failed test left behind are removed first (so later tests are not disturbed),
    then reported as a failure of this test.
    """
    yield
    if "stack" not in request.fixturenames:
        return
    endpoints = request.getfixturevalue("stack").endpoints
    left = _remove_leftovers(endpoints["toxiproxy"], endpoints["relay"])
    prometheus = PrometheusClient(endpoints["prometheus"])
    wait_until(lambda: not active_alerts(prometheus), 90, "every alert resolved after the test")
    assert left == [], f"the test left faults behind: {left}"


def _remove_leftovers(api: str, relay: str) -> list[str]:
    left = [f"toxic {name}" for name in toxics(api)]
    for name in toxics(api):
        requests.delete(f"{api}/proxies/feature_store/toxics/{name}", timeout=5)
    for name in data_faults(relay):
        left.append(f"data fault {name}")
        requests.delete(f"{relay}/relays/batches/faults/{name}", timeout=5)
    return left
