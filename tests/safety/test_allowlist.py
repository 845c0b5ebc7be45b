"""Faults and load only go to hosts in ``allow_hosts``: anything else is refused with exit 2
while the files are validated, before any connection is attempted.

The witness is a listening socket on 127.0.0.2 (loopback, but not in the allowlist): a
connection attempt, even one given up at once, would wait in its backlog.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.safety_harness import SCENARIOS

ALLOW = "allow_hosts: [127.0.0.1, localhost]\n"
TP = "toxiproxy: http://127.0.0.1:9\n"


@pytest.fixture
def outside() -> Iterator[tuple[socket.socket, str]]:
    """A listener on a host outside the allowlist, and its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock, f"http://127.0.0.2:{sock.getsockname()[1]}"


def _connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def _run(tmp_path: Path, scenario: Path, env_text: str) -> subprocess.CompletedProcess[str]:
    env = tmp_path / "env.yaml"
    env.write_text(env_text)
    argv = [sys.executable, "-m", "gameday", "run", str(scenario), "--env", str(env),
            "--journal", str(tmp_path / "journal"), "--no-history"]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp_path)


@pytest.mark.parametrize(
    "env_text",
    [
        "toxiproxy: {url}\nprometheus: http://127.0.0.1:9\n",
        "toxiproxy: http://127.0.0.1:9\nprometheus: {url}\n",
        "model_server: {url}\ntoxiproxy: http://127.0.0.1:9\n",
        TP + "targets:\n  feature-store: {{proxy: p, toxiproxy: [{url}]}}\n",
        TP + "targets:\n  queue: {{kind: queue, broker: {url}}}\n",
    ],
    ids=["toxiproxy", "prometheus", "model_server", "target-toxiproxy", "plugin-target"],
)
def test_an_environment_naming_a_host_outside_the_allowlist_is_refused_unseen(
    tmp_path: Path, outside: tuple[socket.socket, str], env_text: str
) -> None:
    sock, url = outside
    done = _run(tmp_path, SCENARIOS / "interrupt.yaml", env_text.format(url=url) + ALLOW)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "host '127.0.0.2' is not in allow_hosts [127.0.0.1, localhost]" in done.stderr
    assert _connections(sock) == 0
    assert not (tmp_path / "journal").exists()  # nothing was even about to be applied


def test_a_scenario_sending_load_outside_the_allowlist_is_refused_unseen(
    tmp_path: Path, outside: tuple[socket.socket, str]
) -> None:
    sock, url = outside
    scenario = tmp_path / "load.yaml"
    scenario.write_text(
        "name: far-load\nload: {users: 1, spawn_rate: 1, host: " + url + "}\n"
        "timeline: {baseline: 1s, fault: 1s, recovery: 0s}\n"
        "expect:\n  - {alert: ModelErrorRateHigh, silent: true}\n"
    )
    env = "toxiproxy: http://127.0.0.1:9\nprometheus: http://127.0.0.1:9\n" + ALLOW
    done = _run(tmp_path, scenario, env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "load.host: host '127.0.0.2' is not in allow_hosts" in done.stderr
    assert _connections(sock) == 0
