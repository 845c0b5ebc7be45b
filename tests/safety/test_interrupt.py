"""Ctrl-C, SIGTERM and SIGHUP mid-fault: everything reverted within 2 s, exit 3; a second
Ctrl-C during the revert never abandons it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.safety_harness import SCENARIOS, Run, data_faults, env_file, toxics, toxiproxy_front

from gameday.stack.launcher import Stack
from gameday.testing import wait_until
from gameday.undo.journal import Journal

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _toxic_in_force(run: Run, api: str) -> None:
    wait_until(lambda: toxics(api), 60, f"the fault applied\n{run.output}", 0.02)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_fault_reverts_within_two_seconds_and_exits_3(
    stack: Stack, endpoints_file: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    api = stack.endpoints["toxiproxy"]
    run = Run("interrupt.yaml", endpoints_file, tmp_path)
    try:
        _toxic_in_force(run, api)
        sent = run.signal(sig)
        wait_until(lambda: not toxics(api), 2.0, "reverted within 2 s of the signal", 0.01)
        took = time.monotonic() - sent
        assert run.finish(30) == 3, run.output
    finally:
        run.stop()
    result = run.result()
    assert result["verdict"] == "aborted" and result["reason"] == f"interrupted by {sig.name}"
    assert result["faults"][0]["reverted_at"] is not None
    assert Journal(run.journal).entries() == []
    print(f"{sig.name}: reverted {took * 1000:.0f} ms after the signal")


def test_a_run_whose_terminal_went_away_still_reverts(
    stack: Stack, endpoints_file: Path, tmp_path: Path
) -> None:
    """SIGHUP, with nobody left to read the output (a dropped SSH session)."""
    api, relay = stack.endpoints["toxiproxy"], stack.endpoints["relay"]
    scenario = str(SCENARIOS / "kill.yaml")  # two faults: the second revert follows a print
    argv = [sys.executable, "-m", "gameday", "run", scenario, "--env", str(endpoints_file),
            "--journal", str(tmp_path / "journal"), "--no-history"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        wait_until(lambda: toxics(api) and data_faults(relay), 60, "faults applied", 0.02)
        for pipe in (proc.stdout, proc.stderr):
            assert pipe is not None
            pipe.close()  # every later write of the run fails with EPIPE
        proc.send_signal(signal.SIGHUP)
        gone = lambda: not toxics(api) and not data_faults(relay)  # noqa: E731
        wait_until(gone, 2.0, "both reverted within 2 s of the hangup", 0.01)
        assert proc.wait(30) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
    assert Journal(tmp_path / "journal").entries() == []


def test_a_second_ctrl_c_during_the_revert_does_not_abandon_it(
    stack: Stack, tmp_path: Path
) -> None:
    """The revert is made slow (1.5 s per DELETE) so the second Ctrl-C lands inside it."""
    api = stack.endpoints["toxiproxy"]
    with toxiproxy_front(api, strip_ttl=False, delete_delay_s=1.5) as front:
        env = env_file(tmp_path / "env.json", stack.endpoints, toxiproxy=front.url)
        run = Run("interrupt.yaml", env, tmp_path)
        try:
            _toxic_in_force(run, api)
            run.signal(signal.SIGINT)
            assert front.deleting.wait(10), "the revert never started"
            run.signal(signal.SIGINT)  # while the DELETE is in flight
            assert run.finish(30) == 3, run.output
        finally:
            run.stop()
    assert toxics(api) == []
    assert "SIGINT: reverting faults first; they are never abandoned" in run.output
    assert "fault reverted: network.latency on feature-store" in run.output
    assert Journal(run.journal).entries() == []
