"""Locust distributed: every worker's requests reach the runner, and every wait is bounded."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from gameday import _procs
from gameday.errors import ScenarioError, StackUnavailable
from gameday.run.load import Load, bind_address
from gameday.telemetry.backends import free_port
from gameday.testing import wait_until


def _records_by_worker(workdir: Path) -> Counter[str]:
    """How many records each worker sent (by Locust client id), from the raw records files."""
    lines = (line for f in workdir.glob("records-*.jsonl") for line in f.read_text().splitlines())
    return Counter(json.loads(line).get("worker", "") for line in lines)


@pytest.mark.parametrize(
    ("address", "expected"),
    [("0.0.0.0:6000", ("0.0.0.0", 6000)), ("10.20.0.9", ("10.20.0.9", 5557))],
)
def test_master_address_defaults_to_locusts_port(address, expected):
    assert bind_address(address) == expected


def test_master_address_without_a_host_is_bad_input():
    with pytest.raises(ScenarioError, match=r"load\.master"):
        bind_address(":5557")


@pytest.mark.integration
@pytest.mark.slow
def test_two_local_workers_reach_the_users_and_every_request_is_recorded(
    predict_endpoint, tmp_path
):
    """Records from both workers reach the master; their count is Locust's own final count."""
    load = Load(predict_endpoint, users=4, spawn_rate=4, run_time_s=4, workdir=tmp_path, workers=2)
    load.start()
    try:
        status = wait_until(
            lambda: (s := load.status()).get("users") == 4 and s, 15, "4 users on the workers"
        )
        assert isinstance(status, dict)  # wait_until returned the truthy answer: the status
        assert status["workers"] == 2
        assert load.wait(timeout=30), "locust did not end after its run time"
    finally:
        load.stop()

    by_worker = _records_by_worker(tmp_path)
    assert len(by_worker) == 2, by_worker
    assert "" not in by_worker  # every record came through a worker, none written directly
    assert load.locust_stats() == {"requests": len(load.records), "failures": 0}
    assert len(load.records) > 20


@pytest.mark.integration
@pytest.mark.slow
def test_a_remote_worker_joins_the_bound_master_and_its_records_reach_the_runner(
    predict_endpoint, tmp_path
):
    """A worker given only the master's address (``-f -``: locustfiles come from the master)."""
    port = free_port()
    argv = _procs.python_module(
        "locust", "--worker", "-f", "-", "--master-host", "127.0.0.1", "--master-port", str(port)
    )
    remote = tmp_path / "remote"  # its own temp folder: where Locust writes the fetched files
    remote.mkdir()
    env = {"TMPDIR": str(remote), "GAMEDAY_LOAD_DIR": ""}
    worker = _procs.start("worker", argv, log_path=remote / "worker.log", env=env, handshake=False)
    load = Load(predict_endpoint, 2, 2, 3, tmp_path / "load", master=f"127.0.0.1:{port}")
    try:
        load.start()
        assert load.wait(timeout=30), "locust did not end after its run time"
        load.stop()
        wait_until(lambda: not worker.alive(), 15, "the worker quits with its master")
    finally:
        load.stop()
        worker.stop()

    assert len(_records_by_worker(tmp_path / "load")) == 1
    assert {p.name for p in remote.glob("*.py")} == {"recorder.py", "predict.py"}
    assert load.locust_stats() == {"requests": len(load.records), "failures": 0}
    assert load.records


@pytest.mark.integration
@pytest.mark.slow
def test_waiting_for_workers_that_never_join_is_bounded(tmp_path):
    master = f"127.0.0.1:{free_port()}"  # workers on other hosts would join here; none will
    load = Load("http://127.0.0.1:9", 1, 1, 10, tmp_path, workers=2, master=master)

    with pytest.raises(StackUnavailable, match=r"0 of 2 workers joined the master at 127\.0\.0\.1"):
        load.start(timeout=3)

    assert not load.running()
    assert not any(p.name.startswith("worker") for p in tmp_path.iterdir())  # none started
