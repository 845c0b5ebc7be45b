"""The server as a process (``python -m gameday.servers.toxiproxy``): readiness, signals, exits."""

from __future__ import annotations

import signal
import socket

import pytest
import requests

from gameday import _procs
from gameday.servers.toxiproxy import main, running_server
from gameday.servers.toxiproxy.testing import connect, round_trip, tcp_server


@pytest.fixture
def server_process():
    child = _procs.start(
        "toxiproxy", _procs.python_module("gameday.servers.toxiproxy", "--port", "0", "--announce")
    )
    yield child
    child.stop()


def test_module_announces_its_port_and_serves_the_api(server_process):
    assert server_process.info["ready"] is True
    url = f"http://127.0.0.1:{server_process.port}"
    assert server_process.info["url"] == url
    assert requests.get(url + "/version", timeout=5).status_code == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_server_cleanly_closing_proxies(server_process, sig):
    url = f"http://127.0.0.1:{server_process.port}"
    with tcp_server() as upstream:
        body = {"name": "echo", "upstream": upstream.address}
        listen = requests.post(url + "/proxies", json=body, timeout=5).json()["listen"]
        port = int(listen.rsplit(":", 1)[1])
        with connect(port) as sock:
            round_trip(sock)
            server_process.popen.send_signal(sig)
            assert server_process.popen.wait(10) == 0
            assert sock.recv(10) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(port)


def test_main_returns_1_when_the_api_port_is_taken(capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        assert main(["--port", str(taken.getsockname()[1])]) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_running_server_raises_when_the_port_is_taken():
    with (
        socket.create_server(("127.0.0.1", 0)) as taken,
        pytest.raises(OSError),
        running_server(port=taken.getsockname()[1]),
    ):
        pass


def test_running_server_yields_a_working_url():
    with running_server() as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert requests.get(server.url + "/proxies", timeout=5).json() == {}
