"""``gameday recover`` after a run killed while a relay held batches back (``data.stale``):
the held batches reach the pipeline, in the order the producer wrote them, and none is lost.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fixtures.safety_harness import leave_as_killed, recover

from gameday.injectors.base import FaultContext, Target
from gameday.injectors.data import StaleInjector
from gameday.scenario.environment import Environment
from gameday.servers.relay.server import running_server
from gameday.servers.relay.testing import ArrivalLog, landed, wait_until, write_rows
from gameday.undo.journal import Journal

ROWS = {"entity_id": ["e1", "e2"], "merchant_risk": [0.1, 0.2]}
NAMES = [f"b-000{i}.parquet" for i in (3, 1, 4, 2)]  # the order written, not by name


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[Environment, Path, Path]]:
    """A relay server with relay ``batches``; the environment naming it, upstream, landing."""
    up, land = tmp_path / "upstream", tmp_path / "landing"
    with running_server() as server:
        relays = {"batches": {"upstream": str(up), "landing": str(land)}}
        body = {"name": "batches", **relays["batches"]}
        assert requests.post(f"{server.url}/relays", json=body, timeout=5).status_code == 201
        endpoints = {"relay": server.url, "relays": relays,
                     "targets": {"upstream": {"relay": "batches"}}}  # fmt: skip
        yield Environment.from_endpoints(endpoints, source="env.yaml"), up, land


@pytest.mark.parametrize("recorded", [True, False], ids=["applied", "killed-before-answer"])
def test_recover_delivers_held_batches_in_their_order(
    relay: tuple[Environment, Path, Path], journal: Journal, recorded: bool
) -> None:
    env, up, land = relay
    injector = StaleInjector()
    target: Target = env.resolve("upstream", injector)
    fault_id = f"crashed-0-stale-{recorded}"
    ctx = FaultContext(fault_id, target, injector.validated({}), ttl_s=300.0)
    leave_as_killed(journal, env, injector, ctx, recorded=recorded)
    arrivals = ArrivalLog(land)
    try:
        for name in NAMES:
            write_rows(up, name, ROWS)
            wait_until(lambda: not os.listdir(up))  # taken by the relay and held
        assert landed(land) == []

        done = recover(journal.directory)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(f"reverted  data.stale on upstream (fault {fault_id})")
        assert arrivals.arrived() == NAMES
    finally:
        arrivals.close()
    assert journal.entries() == []
