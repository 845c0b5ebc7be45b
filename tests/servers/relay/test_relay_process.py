"""The relay server as a process (``gameday relay-server``): readiness, signals, exit codes, and
a SIGKILL mid-fault that loses no batch."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
import requests

from gameday import _procs
from gameday.servers.relay import main, running_server
from gameday.servers.relay.testing import ArrivalLog, landed, wait_until, write_rows

NAMES = [f"b-{i:04d}.parquet" for i in range(1, 7)]


def _gameday(*args: str) -> list[str]:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    return [found, *args] if found else [sys.executable, "-m", "gameday", *args]


def start(tmp_path: Path, *args: str) -> _procs.Child:
    argv = _gameday("relay-server", "--port", "0", "--announce", *args)
    return _procs.start("relay", argv, log_path=tmp_path / "relay.log", timeout=30)


class Client:
    def __init__(self, child: _procs.Child):
        self.url = f"http://127.0.0.1:{child.port}"

    def post(self, path: str, body: object) -> dict:
        reply = requests.post(self.url + path, json=body, timeout=10)
        assert reply.status_code in (200, 201), reply.text
        return reply.json()

    def get(self, path: str) -> dict:
        return requests.get(self.url + path, timeout=10).json()


def relay_body(folders) -> dict[str, str]:
    return {"name": "b", "upstream": str(folders.upstream), "landing": str(folders.landing)}


def produce(folders, names: list[str]) -> dict[str, bytes]:
    sent = {}
    for i, name in enumerate(names):
        sent[name] = write_rows(folders.upstream, name, {"i": [i], "x": [float(i)]})
        time.sleep(0.02)
    return sent


def test_announces_its_port_url_and_state_then_serves(tmp_path):
    child = start(tmp_path)
    try:
        assert child.info["ready"] is True
        assert child.info["url"] == f"http://127.0.0.1:{child.port}"
        assert Path(str(child.info["state"])).is_dir()
        assert requests.get(f"{child.info['url']}/version", timeout=5).status_code == 200
    finally:
        child.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_cleanly_delivering_what_it_held(tmp_path, folders, sig):
    child = start(tmp_path)
    state = Path(str(child.info["state"]))
    try:
        api = Client(child)
        api.post("/relays", relay_body(folders))
        api.post("/relays/b/faults", {"type": "stale"})
        sent = produce(folders, NAMES[:2])
        wait_until(lambda: api.get("/relays/b/stats")["held"] == 2)
        child.popen.send_signal(sig)
        assert child.popen.wait(15) == 0
    finally:
        child.stop()
    assert {n: (folders.landing / n).read_bytes() for n in landed(folders.landing)} == sent
    assert not state.exists()  # its temporary state folder, empty, is removed


def test_sigkill_mid_stale_then_a_restart_delivers_every_held_batch_in_order(tmp_path, folders):
    child = start(tmp_path, "--state", str(folders.state))
    try:
        api = Client(child)
        api.post("/relays", relay_body(folders))
        api.post(
            "/relays/b/faults", {"name": "n", "type": "null_column", "attributes": {"column": "x"}}
        )
        changed = produce(folders, NAMES[:1])
        wait_until(lambda: landed(folders.landing) == NAMES[:1])
        api.post("/relays/b/faults", {"name": "s", "type": "stale"})
        sent = produce(folders, NAMES[1:])
        wait_until(lambda: api.get("/relays/b/stats")["held"] == len(NAMES) - 1)
        os.kill(child.pid, signal.SIGKILL)
        child.popen.wait(10)
    finally:
        child.stop()
    assert landed(folders.landing) == NAMES[:1]  # the killed server delivered nothing held
    assert folders.held() != []

    log = ArrivalLog(folders.landing)
    again = start(tmp_path, "--state", str(folders.state))
    try:
        assert log.arrived() == NAMES[1:]  # delivered, in order, before it said it was ready
        assert {n: (folders.landing / n).read_bytes() for n in NAMES[1:]} == sent
        assert (folders.landing / NAMES[0]).read_bytes() != changed[NAMES[0]]  # stays changed
        assert folders.held() == []
        assert folders.kept() == []  # a restart reverts every fault
        reopened = Client(again).get("/relays")  # the same relay, without its faults
        assert list(reopened) == ["b"] and reopened["b"]["faults"] == []
    finally:
        log.close()
        again.stop()
    assert again.popen.returncode == 0
    text = (tmp_path / "relay.log").read_text()
    assert [f"delivered held batch {n}" in text for n in NAMES[1:]] == [True] * 5
    assert folders.state.is_dir()  # a state folder the user named is kept


def test_main_returns_1_when_the_port_is_taken(capsys, tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        code = main(["--port", str(taken.getsockname()[1]), "--state", str(tmp_path / "s")])
    assert code == 1
    assert "cannot listen" in capsys.readouterr().err


def test_a_second_server_on_a_state_folder_in_use_refuses_to_start(capsys, folders):
    with running_server(folders.state):
        assert main(["--port", "0", "--state", str(folders.state)]) == 1
    assert "in use by another relay server" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_server(tmp_path):
    argv = _procs.python_module("gameday.servers.relay", "--port", "0", "--announce")
    child = _procs.start("relay", argv, timeout=30)
    try:
        reply = requests.get(f"http://127.0.0.1:{child.port}/relays", timeout=5)
        assert reply.json() == {}
    finally:
        child.stop()
    assert child.popen.returncode == 0


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_a_server_started_again_on_its_state_folder_reopens_its_relays(tmp_path, folders, how):
    """A sidecar's container restarted: the pipeline's batches keep flowing, nobody populates."""
    state = tmp_path / "state"
    first = start(tmp_path, "--state", str(state))
    Client(first).post("/relays", relay_body(folders))
    os.kill(first.pid, how)
    first.popen.wait(30)
    second = start(tmp_path, "--state", str(state))
    try:
        assert set(Client(second).get("/relays")) == {"b"}
        produce(folders, NAMES[:2])
        wait_until(lambda: landed(folders.landing) == NAMES[:2], timeout=10)
    finally:
        second.stop()
