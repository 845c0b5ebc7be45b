"""A runner killed by SIGKILL mid-fault leaves nothing behind: the TTL, or ``gameday recover``.

``kill.yaml`` holds a harmless latency toxic and a tiny drift in the batches the relay moves
from the producer to the pipeline, for 6 s. Each test kills ``gameday run`` (attached to the
session's stack) once both are in force.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures.safety_harness import Run, data_faults, env_file, recover, toxics, toxiproxy_front

from gameday.stack.launcher import Stack
from gameday.testing import wait_until
from gameday.undo import watchdog
from gameday.undo.journal import Journal

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _faults(endpoints: dict[str, Any]) -> tuple[list[str], list[str]]:
    return toxics(endpoints["toxiproxy"]), data_faults(endpoints["relay"])


def _kill_once_applied(run: Run, endpoints: dict[str, Any]) -> None:
    """SIGKILL the run as soon as both of its faults are in force."""
    try:
        wait_until(lambda: all(_faults(endpoints)), 60, f"both faults applied\n{run.output}", 0.05)
    finally:
        run.signal(signal.SIGKILL)
        run.finish()
    assert run.popen.returncode == -signal.SIGKILL
    assert all(_faults(endpoints)), "the kill itself must leave the faults in force"


def test_killed_runner_leaves_no_fault_once_the_ttl_ran_out(
    stack: Stack, endpoints_file: Path, tmp_path: Path
) -> None:
    run = Run("kill.yaml", endpoints_file, tmp_path, "--ttl-margin", "2")  # TTL 6 + 2 s
    _kill_once_applied(run, stack.endpoints)
    expires = max(e.expires_at for e in Journal(run.journal).entries())
    wait_until(lambda: not any(_faults(stack.endpoints)), 20, "faults expired by their TTL")
    assert time.time() >= expires - 1.0, "gone before the TTL: something else removed them"
    done = recover(run.journal)  # tidy the journal; the faults themselves are gone
    assert done.returncode == 0, done.stdout + done.stderr
    assert Journal(run.journal).entries() == []


def test_recover_restores_at_once_after_each_of_three_kills(
    stack: Stack, endpoints_file: Path, tmp_path: Path
) -> None:
    for attempt in range(3):
        run = Run("kill.yaml", endpoints_file, tmp_path / str(attempt))  # TTL 36 s
        _kill_once_applied(run, stack.endpoints)
        done = recover(run.journal)
        assert done.returncode == 0, done.stdout + done.stderr
        assert _faults(stack.endpoints) == ([], []), f"attempt {attempt}: not restored"
        assert done.stdout.count("reverted ") == 2
        assert "network.latency on feature-store" in done.stdout
        assert "data.drift on upstream" in done.stdout
        assert Journal(run.journal).entries() == []


def test_watchdog_reverts_faults_on_a_toxiproxy_that_ignores_ttls(
    stack: Stack, tmp_path: Path
) -> None:
    """A real toxiproxy-server drops ``gameday_ttl_s``: the runner's watchdog stands in."""
    api = stack.endpoints["toxiproxy"]
    with toxiproxy_front(api, strip_ttl=True) as front:
        env = env_file(tmp_path / "env.json", stack.endpoints, toxiproxy=front.url)
        run = Run("kill.yaml", env, tmp_path, "--ttl-margin", "2")
        _kill_once_applied(run, stack.endpoints)
        journal = Journal(run.journal)
        enforced = {e.injector: e.ttl_enforced for e in journal.entries()}
        assert enforced == {"network.latency": False, "data.drift": True}
        assert watchdog.running(journal.directory), "the watchdog must outlive the runner"
        wait_until(lambda: not any(_faults(stack.endpoints)), 20, "faults reverted by watchdog")
        wait_until(lambda: not watchdog.running(journal.directory), 10, "watchdog exited")
    log = (journal.directory / watchdog.LOG_NAME).read_text()
    assert "reverted network.latency on feature-store" in log
    assert [e.injector for e in journal.entries()] == ["data.drift"]  # expired by the relay
    assert recover(run.journal).returncode == 0
    assert journal.entries() == []
