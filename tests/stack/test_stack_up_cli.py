"""``gameday stack up`` as a user runs it: endpoints file, then a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gameday.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _port_open(url: str) -> bool:
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_stack_up_serves_then_stops_every_process_on_sigterm(tmp_path: Path) -> None:
    endpoints_file = tmp_path / "endpoints.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gameday", "stack", "up", "--endpoints", str(endpoints_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(endpoints_file.exists, 90, "endpoints file written")
        endpoints = json.loads(endpoints_file.read_text())
        response = requests.post(
            f"{endpoints['model_server']}/predict", json={"entity_id": "e00010"}, timeout=5
        )
        assert response.status_code == 200
        started = _descendants(proc.pid)
        assert len(started) >= 9  # 5 services, toxiproxy, sink, Prometheus, Alertmanager
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read() if proc.stdout else ""
    assert "stack stopped" in output
    alive = [pid for pid in started if _alive(pid)]
    assert alive == [], f"orphans left: {alive}"
    urls = [v for k, v in endpoints.items() if isinstance(v, str) and v.startswith("http")]
    assert [u for u in urls if _port_open(u)] == []
    assert not endpoints_file.exists()
    workdir = Path(endpoints["landing"]).parents[1]
    assert not workdir.exists(), "the stack's temporary folder was left behind"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"
