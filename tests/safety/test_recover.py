"""``gameday recover``: replays the undo journal that killed runs left behind.

Each test leaves a journal as a killed run would (a toxic on an embedded toxiproxy in this
process, and its entry owned by a process that has exited), then runs the real command.
"""

from __future__ import annotations

import json
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from fixtures.envs import stack_environment
from fixtures.safety_harness import dead_owner, latency_fault, leave_as_killed, recover, toxics
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameday.injectors.base import Applied, FaultContext, Injector, Target
from gameday.injectors.data import LabelFlipInjector
from gameday.registry import PluginError, Registry, load_injectors
from gameday.stack.launcher import Stack
from gameday.undo import recover as recovering
from gameday.undo.journal import Entry, Journal


def test_recover_reverts_what_a_killed_run_applied_and_empties_the_journal(
    toxiproxy: str, journal: Journal
) -> None:
    latency_fault(journal, toxiproxy, "crashed-0-aaaaaa")
    assert toxics(toxiproxy) == ["gameday-crashed-0-aaaaaa-latency"]
    done = recover(journal.directory)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("reverted  network.latency on feature-store (fault crashed-0-")
    assert "recover: 1 reverted; 0 failed" in done.stderr
    assert toxics(toxiproxy) == []
    assert journal.entries() == []


def test_a_run_killed_between_intent_and_apply_is_reverted_from_the_intent_alone(
    toxiproxy: str, journal: Journal
) -> None:
    """The toxic is named after the fault id, so the intent is enough to remove it."""
    entry = latency_fault(journal, toxiproxy, "crashed-0-bbbbbb", apply=False)
    assert entry.applied is None and toxics(toxiproxy)
    done = recover(journal.directory)
    assert done.returncode == 0, done.stderr
    assert toxics(toxiproxy) == []


def test_json_summary_counts_each_outcome_and_lists_each_fault(
    toxiproxy: str, journal: Journal
) -> None:
    latency_fault(journal, toxiproxy, "crashed-0-cccccc")
    latency_fault(journal, toxiproxy, "crashed-1-cccccc")
    done = recover(journal.directory, "--json")
    summary = json.loads(done.stdout)
    assert done.returncode == 0 and summary["ok"] is True
    assert summary["reverted"] == 2 and summary["failed"] == 0
    assert [f["status"] for f in summary["faults"]] == ["reverted", "reverted"]
    assert "gameday-crashed-1-cccccc-latency" in json.dumps(summary["faults"][1]["evidence"])


def test_an_empty_or_missing_journal_means_nothing_to_do(tmp_path: Path) -> None:
    done = recover(tmp_path / "never-written")
    assert done.returncode == 0
    assert "nothing to revert" in done.stderr


def test_faults_of_a_run_still_in_progress_are_left_alone(toxiproxy: str, journal: Journal) -> None:
    entry = latency_fault(journal, toxiproxy, "live-0-dddddd")
    journal.write(replace(entry, owner=entry.owner.me()))  # this test process: alive
    done = recover(journal.directory)
    assert done.returncode == 0
    assert done.stdout.startswith("running ") and "still in progress" in done.stdout
    assert toxics(toxiproxy) == ["gameday-live-0-dddddd-latency"]


def test_a_revert_that_fails_exits_3_and_keeps_the_entry(journal: Journal, free_port: int) -> None:
    _unreachable_entry(journal, f"http://127.0.0.1:{free_port}")
    done = recover(journal.directory)
    assert done.returncode == 3
    assert done.stdout.startswith("failed ") and "REVERT FAILED" in done.stdout
    assert len(journal.entries()) == 1  # left for another attempt


def test_reverts_never_go_outside_the_allowlist(journal: Journal, listener: socket.socket) -> None:
    host, port = listener.getsockname()
    _unreachable_entry(journal, f"http://{host}:{port}")  # recorded allow_hosts: 127.0.0.1 only
    done = recover(journal.directory)
    assert done.returncode == 3
    assert f"refused: {host} is not in allow_hosts" in done.stdout
    assert _connections(listener) == 0


def test_env_allowlist_bounds_where_reverts_go(
    toxiproxy: str, journal: Journal, tmp_path: Path
) -> None:
    latency_fault(journal, toxiproxy, "crashed-0-eeeeee")
    env = tmp_path / "env.yaml"
    env.write_text("allow_hosts: [localhost]\n")
    done = recover(journal.directory, "--env", str(env))
    assert done.returncode == 3 and "refused: 127.0.0.1 is not in allow_hosts" in done.stdout
    assert toxics(toxiproxy) == ["gameday-crashed-0-eeeeee-latency"]


def test_faults_on_a_stack_the_run_started_itself_went_with_it(
    journal: Journal, free_port: int
) -> None:
    """`gameday run` without --env starts the embedded stack; it stops when the run dies."""
    entry = _unreachable_entry(journal, f"http://127.0.0.1:{free_port}")
    journal.write(replace(entry, stack_owned=True))
    done = recover(journal.directory)
    assert done.returncode == 0
    assert done.stdout.startswith("gone ")
    assert "recover: 1 gone; 0 failed" in done.stderr
    assert journal.entries() == []


@pytest.mark.parametrize("recorded", [True, False], ids=["applied", "intent-only"])
def test_recover_removes_a_learning_loop_fault_through_the_control_api(
    stack: Stack, journal: Journal, recorded: bool
) -> None:
    """A label feed fault lives behind the stack's control API (no producer): recover removes
    it whether the run recorded apply's answer or was killed before it could."""
    fault_id = f"crashed-0-feed-{recorded}"
    control = stack.endpoints["control"]
    try:
        entry = _feed_fault(journal, stack.endpoints, fault_id, recorded=recorded)
        assert entry.ttl_enforced  # the label feed expires it by itself: no watchdog needed
        assert _feed_faults(control) == [fault_id]
        done = recover(journal.directory)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(f"reverted  data.label_flip on labels (fault {fault_id})")
        assert _feed_faults(control) == []
        assert journal.entries() == []
    finally:  # leave the shared stack healthy even if recover failed
        requests.delete(f"{control}/services/label-feed/faults/{fault_id}", timeout=5)


def _feed_fault(
    journal: Journal, endpoints: Mapping[str, Any], fault_id: str, *, recorded: bool
) -> Entry:
    """A label flip applied on the stack's label feed with its journal entry, as a run that was
    then killed leaves them (``recorded=False``: killed before apply's answer was written)."""
    env = stack_environment(endpoints, source="env.yaml")
    injector = LabelFlipInjector()
    target = env.resolve("labels", injector)
    ctx = FaultContext(fault_id, target, {"fraction": 0.01}, ttl_s=300.0)
    return leave_as_killed(journal, env, injector, ctx, recorded=recorded)


def _feed_faults(control: str) -> list[str]:
    """Ids of the faults the label feed applies now (asked through the control API)."""
    reply = requests.get(f"{control}/services/label-feed/faults", timeout=5)
    return [f["id"] for f in reply.json()["faults"]]


class _Opaque(Injector):
    """An injector that cannot tell what to undo without apply's answer (the default)."""

    name = "test.opaque"

    def apply(self, ctx: FaultContext) -> Applied:
        raise AssertionError("never applied here")

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        raise AssertionError("nothing to revert")


@pytest.mark.parametrize(("enforced", "status"), [(True, "expired"), (False, "failed")])
def test_an_intent_that_cannot_be_undone_is_left_to_a_target_that_expires_it(
    toxiproxy: str,
    journal: Journal,
    enforced: bool,
    status: str,
) -> None:
    known = load_injectors(modules=(), entry_points=[])
    known.register(_Opaque, origin="tests", builtin=False)
    entry = latency_fault(journal, toxiproxy, "opaque-0-ffffff", apply=False)
    journal.write(replace(entry, injector="test.opaque", ttl_enforced=enforced))
    [outcome] = recovering.recover(journal, injectors=lambda: known)
    assert outcome.status == status
    assert (journal.entries() == []) is enforced


def test_a_broken_plugin_does_not_stop_the_recovery_of_built_in_faults(
    toxiproxy: str, journal: Journal
) -> None:
    def broken() -> Registry[Injector]:
        raise PluginError("acme.injectors failed to import")

    latency_fault(journal, toxiproxy, "crashed-0-abcdef")
    [outcome] = recovering.recover(journal, injectors=broken)
    assert outcome.status == "reverted"
    assert toxics(toxiproxy) == []


def test_an_unreadable_entry_is_a_failure_not_a_crash(journal: Journal) -> None:
    journal.directory.mkdir(parents=True)
    (journal.directory / "x.json").write_text('{"fault_id": 1')
    done = recover(journal.directory)
    assert done.returncode == 3
    assert "unreadable journal entry" in done.stdout


# --- hostile journals ----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(index=st.integers(0, 100), value=json_values, drop=st.booleans())
def test_a_tampered_journal_never_crashes_recover(
    sample_entry: dict[str, Any], index: int, value: Any, drop: bool
) -> None:
    """Whatever an entry holds, recover reports outcomes; it never raises."""
    data = dict(sample_entry)
    field = list(data)[index % len(data)]
    if drop:
        data.pop(field)
    else:
        data[field] = value
    with tempfile.TemporaryDirectory() as folder:
        journal = Journal(folder)
        (journal.directory / "e.json").write_text(json.dumps(data, allow_nan=True))
        outcomes = recovering.recover(journal)
    assert len(outcomes) == 1
    assert outcomes[0].status in {"reverted", "failed", "running", "gone", "expired"}


@pytest.fixture(scope="module")
def sample_entry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A valid entry (its toxiproxy long gone), as JSON data to tamper with."""
    journal = Journal(tmp_path_factory.mktemp("sample"))
    return _unreachable_entry(journal, "http://127.0.0.1:9").to_json()


# --- helpers ---------------------------------------------------------------------------------


def _unreachable_entry(journal: Journal, api: str) -> Entry:
    """A journal entry (dead owner) for a toxic on ``api``, written without touching ``api``."""
    target = Target("feature-store", "proxy", {"toxiproxy": [api], "proxy": "feature_store"})
    entry = Entry(
        "lost-0-000000", "network.latency", target, {"latency_ms": 10, "jitter_ms": 0},
        ttl_s=300.0, expires_at=time.time() + 300, ttl_enforced=True, owner=dead_owner(),
        environment={"allow_hosts": ["127.0.0.1", "localhost"]},
    )  # fmt: skip
    journal.write(entry)
    return entry


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening socket on 127.0.0.2, a loopback address outside the default allowlist."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def _connections(listener: socket.socket) -> int:
    """Connections that reached ``listener`` (a finished client still waits in its backlog)."""
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1
