"""The watchdog: for a toxiproxy that ignores TTLs, expired faults are reverted from the journal.

The "real" toxiproxy here is gameday's embedded server behind a front that strips the TTL
extension (requests and ``GET /version``), which is how a real toxiproxy-server behaves.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fixtures.envs import stack_environment
from fixtures.safety_harness import Front, dead_owner, toxics, toxiproxy_front

from gameday.injectors.base import FaultContext, Target
from gameday.injectors.network import LatencyInjector
from gameday.scenario.environment import Environment
from gameday.testing import wait_until
from gameday.undo import watchdog
from gameday.undo.journal import Journal
from gameday.undo.log import UndoLog


@pytest.fixture
def real_toxiproxy(toxiproxy: str) -> Iterator[Front]:
    """A toxiproxy API that, like toxiproxy-server, neither honours nor confirms TTLs."""
    with toxiproxy_front(toxiproxy, strip_ttl=True) as front:
        yield front


def _apply(journal: Journal, api: str, fault_id: str, ttl_s: float) -> UndoLog:
    """Apply a latency fault through ``api`` exactly as the runner does (journal first)."""
    target = Target("feature-store", "proxy", {"toxiproxy": [api], "proxy": "feature_store"})
    ctx = FaultContext(fault_id, target, {"latency_ms": 10, "jitter_ms": 0}, ttl_s)
    injector = LatencyInjector()
    undo = UndoLog(journal, stack_environment({"toxiproxy": api}), lambda _: None)
    undo.prepare(fault_id, injector, target)
    undo.intend(injector, ctx)
    undo.applied(injector.apply(ctx))
    return undo


def test_watchdog_reverts_an_expired_fault_on_a_toxiproxy_that_ignores_ttls_then_exits(
    toxiproxy: str, real_toxiproxy: Front, journal: Journal
) -> None:
    _apply(journal, real_toxiproxy.url, "wd-0-aaaaaa", ttl_s=1.5)
    [entry] = journal.entries()
    assert not entry.ttl_enforced, "the front must not confirm the TTL extension"
    assert watchdog.running(journal.directory)
    assert toxics(toxiproxy) == ["gameday-wd-0-aaaaaa-latency"]
    wait_until(lambda: not toxics(toxiproxy), 10, "toxic removed by the watchdog", 0.05)
    gone_at = time.time()
    assert gone_at >= entry.expires_at - 0.05, "removed before its TTL ran out"
    assert gone_at <= entry.expires_at + 2.0
    wait_until(lambda: not watchdog.running(journal.directory), 10, "watchdog exited")
    assert journal.entries() == []
    log = (journal.directory / watchdog.LOG_NAME).read_text()
    assert "reverted network.latency on feature-store (fault wd-0-aaaaaa)" in log


def test_the_watchdog_outlives_the_process_that_started_it(
    toxiproxy: str, real_toxiproxy: Front, journal: Journal
) -> None:
    """Started by a runner that is then SIGKILLed, it still reverts at the TTL."""
    code = (
        "import sys; sys.path[:0] = sys.argv[1:3]\n"
        "from test_watchdog import _apply; from gameday.undo.journal import Journal\n"
        "_apply(Journal(sys.argv[3]), sys.argv[4], 'wd-0-bbbbbb', 2.0)\n"
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    here, tests = str(Path(__file__).parent), str(Path(__file__).parents[1])
    args = [sys.executable, "-c", code, here, tests, str(journal.directory), real_toxiproxy.url]
    assert subprocess.run(args, timeout=60).returncode == -9
    assert toxics(toxiproxy) == ["gameday-wd-0-bbbbbb-latency"]
    wait_until(lambda: not toxics(toxiproxy), 10, "toxic removed by the watchdog", 0.05)
    wait_until(lambda: not watchdog.running(journal.directory), 10, "watchdog exited")


def test_one_watchdog_per_journal(real_toxiproxy: Front, journal: Journal) -> None:
    undo = _apply(journal, real_toxiproxy.url, "wd-0-cccccc", ttl_s=600)
    assert watchdog.running(journal.directory)
    assert watchdog.ensure_running(journal.directory) is False
    undo.reverted("wd-0-cccccc")  # as the runner does after its own revert
    wait_until(lambda: not watchdog.running(journal.directory), 10, "watchdog exited")


def test_faults_whose_target_expires_them_are_not_the_watchdogs_business(
    toxiproxy: str, journal: Journal
) -> None:
    _apply(journal, toxiproxy, "wd-0-dddddd", ttl_s=0.5)  # the embedded server enforces it
    [entry] = journal.entries()
    assert entry.ttl_enforced
    assert not watchdog.running(journal.directory)
    assert watchdog.watch(journal, poll_s=0.05, log=lambda _: None) == 0
    assert journal.entries() == [entry]  # left for the server's TTL, and for recover


def test_a_failed_revert_is_retried_later_and_the_entry_kept(journal: Journal) -> None:
    target = Target("fs", "proxy", {"toxiproxy": ["http://127.0.0.1:9"], "proxy": "x"})
    said: list[str] = []
    undo = UndoLog(journal, Environment(), said.append)
    undo._enforced["wd-0-eeeeee"] = True  # no watchdog process for this unit test
    undo.intend(LatencyInjector(), FaultContext("wd-0-eeeeee", target, {"latency_ms": 1}, 0.01))
    [entry] = journal.entries()
    entry = replace(entry, ttl_enforced=False, owner=dead_owner())
    retry_at: dict[str, tuple[float, int]] = {}
    watchdog._revert_expired(journal, [entry], retry_at, said.append)
    assert "REVERT FAILED" in said[-1] and "retrying in 1 s" in said[-1]
    assert retry_at["wd-0-eeeeee"][1] == 1
    assert len(journal.entries()) == 1


def test_a_watchdog_about_to_exit_stays_for_an_entry_written_meanwhile(
    real_toxiproxy: Front, journal: Journal
) -> None:
    """A runner that saw the lock held just before writing must not be left unwatched."""
    journal.directory.mkdir(parents=True)
    lock = watchdog._try_lock(journal.directory)
    assert lock is not None
    undo = UndoLog(journal, Environment(), lambda _: None)
    undo._enforced["wd-0-ffffff"] = False
    target = Target("fs", "proxy", {"toxiproxy": [real_toxiproxy.url], "proxy": "feature_store"})
    ctx = FaultContext("wd-0-ffffff", target, {"latency_ms": 1, "jitter_ms": 0}, 600)
    undo.intend(LatencyInjector(), ctx)  # sees the lock held: starts no watchdog
    again = watchdog._release_unless_new(journal, lock)
    assert again is not None, "the watchdog must take its lock back and carry on"
    again.close()
    undo.reverted("wd-0-ffffff")
