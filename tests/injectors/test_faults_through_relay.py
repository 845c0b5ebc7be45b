"""Data faults on a batch relay, applied and reverted by the injectors as a run does: through
a real relay server, with batches written the way a producer writes them."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gameday import _procs
from gameday.errors import ScenarioError
from gameday.injectors.base import FaultContext, Injector, Target
from gameday.injectors.data import LabelFlipInjector, NullColumnInjector, StaleInjector
from gameday.scenario.environment import Environment
from gameday.scenario.model import parse_scenario
from gameday.servers.relay.server import running_server
from gameday.servers.relay.testing import landed, read_rows, wait_until, write_rows

ROWS = {"entity_id": ["e1", "e2", "e3", "e4"], "merchant_risk": [0.1, 0.2, 0.3, 0.4]}


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    up, land = tmp_path / "upstream", tmp_path / "landing"
    up.mkdir()
    land.mkdir()
    return up, land


@pytest.fixture
def relay(folders: tuple[Path, Path]) -> Iterator[Target]:
    """A relay ``batches`` on a relay server in this process; the target that names it."""
    up, land = folders
    with running_server() as server:
        body = {"name": "batches", "upstream": str(up), "landing": str(land), "format": "parquet"}
        assert requests.post(f"{server.url}/relays", json=body, timeout=5).status_code == 201
        yield Target("upstream", "relay", {"relay": server.url, "name": "batches"})


def ctx(injector: Injector, target: Target, **params: Any) -> FaultContext:
    return FaultContext("relay-0-abcdef", target, injector.validated(params), 60.0, seed=7)


def test_a_nulled_column_lands_changed_and_the_revert_says_which_batches(
    relay: Target, folders: tuple[Path, Path]
) -> None:
    up, land = folders
    injector = NullColumnInjector()
    applied = injector.apply(ctx(injector, relay, column="merchant_risk", fraction=1.0))
    write_rows(up, "b-0001.parquet", ROWS)
    wait_until(lambda: landed(land) == ["b-0001.parquet"])
    assert read_rows(land / "b-0001.parquet")["merchant_risk"] == [None] * 4
    reverted = injector.revert(applied)
    assert reverted["batches"] == ["b-0001"] and reverted["rows"] == 4
    effect = injector.effect(applied, reverted)
    assert effect is not None and effect.took_effect is True
    write_rows(up, "b-0002.parquet", ROWS)  # reverted: batches pass unchanged again
    wait_until(lambda: "b-0002.parquet" in landed(land))
    assert read_rows(land / "b-0002.parquet")["merchant_risk"] == ROWS["merchant_risk"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_label_flip_on_a_relay_of_label_batches_flips_every_label_once(
    relay: Target, folders: tuple[Path, Path], suffix: str
) -> None:
    """The learning loop's label fault on a user's label feed routed through a relay: the
    format comes from the batch's name, the label column from the parameters."""
    up, land = folders[0] / "labels", folders[1] / "labels"
    url = relay.settings["relay"]
    body = {"name": "labels", "upstream": str(up), "landing": str(land)}  # format: by name
    assert requests.post(f"{url}/relays", json=body, timeout=5).status_code == 201
    target = Target("labels", "relay", {"relay": url, "name": "labels"})
    labels = {"entity_id": ["e1", "e2", "e3", "e4"], "is_fraud": [0, 1, 0, 1]}
    injector = LabelFlipInjector()
    applied = injector.apply(ctx(injector, target, column="is_fraud", fraction=1.0))
    write_rows(up, f"labels-1{suffix}", labels)
    wait_until(lambda: landed(land) == [f"labels-1{suffix}"])
    assert read_rows(land / f"labels-1{suffix}")["is_fraud"] == [1, 0, 1, 0]
    reverted = injector.revert(applied)
    effect = injector.effect(applied, reverted)
    assert effect is not None and effect.took_effect is True
    assert reverted["batches"] == ["labels-1"]


def test_a_fault_with_no_batch_through_it_took_no_effect(relay: Target) -> None:
    injector = NullColumnInjector()
    applied = injector.apply(ctx(injector, relay, column="merchant_risk"))
    effect = injector.effect(applied, injector.revert(applied))
    assert effect is not None and effect.took_effect is False


def test_stale_holds_batches_back_and_the_revert_delivers_them_in_order(
    relay: Target, folders: tuple[Path, Path]
) -> None:
    up, land = folders
    injector = StaleInjector()
    applied = injector.apply(ctx(injector, relay))
    names = [f"b-000{i}.parquet" for i in range(1, 4)]
    for name in names:
        write_rows(up, name, ROWS)
    wait_until(lambda: not os.listdir(up))  # taken from upstream, held, not delivered
    assert landed(land) == []
    reverted = injector.revert(applied)
    assert landed(land) == names and reverted["released"] == 3
    effect = injector.effect(applied, reverted)
    assert effect is not None and effect.took_effect is True


def test_a_relay_server_killed_mid_fault_loses_no_batch(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    """The run's revert (or ``gameday recover``'s) finds the server dead: a new one on its
    state folder delivers what it held, in order."""
    up, land = folders
    state = tmp_path / "state"
    argv = _procs.python_module("gameday.servers.relay", "--host", "127.0.0.1", "--port", "0",
                                "--announce", "--state", str(state))  # fmt: skip
    child = _procs.start("relay-server", argv, log_path=tmp_path / "relay.log")
    url = f"http://127.0.0.1:{child.port}"
    body = {"name": "batches", "upstream": str(up), "landing": str(land)}
    assert requests.post(f"{url}/relays", json=body, timeout=5).status_code == 201
    target = Target("upstream", "relay", {"relay": url, "name": "batches"})
    injector = StaleInjector()
    applied = injector.apply(ctx(injector, target))
    names = [f"b-000{i}.parquet" for i in range(1, 4)]
    for name in names:
        write_rows(up, name, ROWS)
    wait_until(lambda: not os.listdir(up))
    os.kill(child.pid, signal.SIGKILL)
    child.popen.wait(10)
    assert landed(land) == []
    reverted = injector.revert(applied)
    assert landed(land) == names
    assert "delivered what it held" in reverted["unknown"]


def test_validation_refuses_a_column_the_relays_batches_lack(
    relay: Target, folders: tuple[Path, Path]
) -> None:
    up, land = folders
    write_rows(up, "b-0001.parquet", ROWS)
    wait_until(lambda: landed(land) == ["b-0001.parquet"])
    env = Environment.from_endpoints(
        {"relay": relay.settings["relay"],
         "relays": {"batches": {"upstream": str(up), "landing": str(land)}},
         "targets": {"upstream": {"relay": "batches"}}}
    )  # fmt: skip
    text = """name: s
timeline: {baseline: 1s, fault: 5s, recovery: 1s}
faults:
  - {injector: data.null_column, target: upstream, params: {column: merchant_rsk}}
expect:
  - {alert: X, silent: true}
"""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.yaml", environment=env)
    assert caught.value.line == 4
    assert "column 'merchant_rsk' is not in the batches relay 'batches' sees" in str(caught.value)
    assert "merchant_risk" in str(caught.value)
    parse_scenario(text.replace("merchant_rsk", "merchant_risk"), "s.yaml", environment=env)
