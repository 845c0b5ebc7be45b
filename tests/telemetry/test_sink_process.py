"""``python -m gameday.servers.sink`` announces readiness, serves, and exits cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import requests

from gameday.telemetry import SinkClient
from gameday.telemetry.backends import start_sink


def test_module_announces_port_serves_and_exits_zero_on_sigterm(tmp_path):
    child = start_sink(max_spans=10, log_path=tmp_path / "sink.log")
    try:
        assert child.info["ready"] is True
        assert child.info["service"] == "telemetry"
        url = str(child.info["url"])
        assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
        assert SinkClient(url).stats()["traces"]["max_spans"] == 10
    finally:
        os.kill(child.pid, signal.SIGTERM)
        code = child.popen.wait(10)
    assert code == 0


def test_token_from_environment_is_enforced(tmp_path):
    child = start_sink(token="from-env", log_path=tmp_path / "sink.log")
    try:
        url = str(child.info["url"])
        assert requests.get(f"{url}/api/notifications", timeout=5).status_code == 401
        assert SinkClient(url, token="from-env").notifications() == []
    finally:
        child.stop()


def test_module_refuses_public_host_without_token():
    env = {k: v for k, v in os.environ.items() if k != "GAMEDAY_SINK_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "gameday.servers.sink", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )

    assert result.returncode == 2
    assert "refusing to serve the telemetry sink on non-loopback host '0.0.0.0'" in result.stderr
    assert result.stdout == ""
