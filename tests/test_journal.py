"""The undo journal: the intent on disk before apply, apply's answer after, nothing after revert."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fixtures.envs import stack_environment

from gameday.errors import InjectionError
from gameday.injectors.base import Applied, FaultContext, Injector, Target
from gameday.undo.journal import Entry, Journal, Owner
from gameday.undo.log import UndoLog

TARGET = Target("feature-store", "proxy", {"toxiproxy": ["http://127.0.0.1:1"], "proxy": "fs"})
ENV = stack_environment({"toxiproxy": "http://127.0.0.1:1"}, source="env.yaml")


class Probe(Injector):
    """Records what the journal held when apply ran; optionally fails to apply or to undo."""

    name = "test.probe"
    seen_at_apply: list[Entry] | None = None

    def __init__(self, journal: Journal, *, fail: bool = False, undo_fails: bool = False):
        self.journal, self.fail, self.undo_fails = journal, fail, undo_fails
        self.reverted: list[Applied] = []

    def apply(self, ctx: FaultContext) -> Applied:
        self.seen_at_apply = self.journal.entries()
        if self.fail:
            raise InjectionError("server said no")
        return Applied(self.name, ctx.fault_id, ctx.target.name, {"id": ctx.fault_id})

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        if self.undo_fails:
            raise InjectionError("server gone")
        self.reverted.append(applied)
        return {}

    def undo_for(self, ctx: FaultContext) -> Applied:
        return Applied(self.name, ctx.fault_id, ctx.target.name, {"id": ctx.fault_id})

    def enforces_ttl(self, target: Target) -> bool:
        return True


def _ctx(fault_id: str = "demo-0-abc123") -> FaultContext:
    return FaultContext(fault_id, TARGET, {"latency_ms": 800}, ttl_s=90.0, seed=7)


def _undo(journal: Journal) -> UndoLog:
    return UndoLog(journal, ENV, event=lambda _: None)


def _apply(undo: UndoLog, injector: Injector, ctx: FaultContext) -> Applied:
    undo.prepare(ctx.fault_id, injector, ctx.target)
    undo.intend(injector, ctx)
    applied = injector.apply(ctx)
    undo.applied(applied)
    return applied


def test_intent_is_on_disk_before_apply_and_gains_applied_after(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    probe = Probe(journal)
    applied = _apply(_undo(journal), probe, _ctx())
    assert probe.seen_at_apply is not None
    [intent] = probe.seen_at_apply
    assert intent.applied is None
    assert (intent.injector, intent.target) == ("test.probe", TARGET)
    assert intent.params == {"latency_ms": 800} and intent.ttl_s == 90.0
    assert intent.expires_at == pytest.approx(intent.created_at + 90, abs=1)
    assert intent.ttl_enforced and intent.owner.pid == os.getpid()
    assert intent.environment["source"] == "env.yaml"
    [entry] = journal.entries()
    assert entry.applied == applied


def test_a_reverted_fault_leaves_nothing_in_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    undo = _undo(journal)
    _apply(undo, Probe(journal), _ctx())
    undo.reverted("demo-0-abc123")
    assert journal.entries() == []
    assert list(journal.directory.iterdir()) == []


def test_an_entry_round_trips_through_json_with_everything_a_revert_needs(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    _apply(_undo(journal), Probe(journal), _ctx())
    [entry] = journal.entries()
    again = Entry.from_json(json.loads(json.dumps(entry.to_json())))
    assert again == entry
    assert again.context() == _ctx()


def test_journal_folder_and_files_are_private(tmp_path: Path) -> None:
    """Entries hold real URLs (maybe with passwords): only the owner may read them."""
    journal = Journal(tmp_path / "j")
    _apply(_undo(journal), Probe(journal), _ctx())
    assert stat.S_IMODE(journal.directory.stat().st_mode) == 0o700
    [path] = journal.directory.glob("*.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_write_that_fails_midway_keeps_the_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "j")
    undo = _undo(journal)
    _apply(undo, Probe(journal), _ctx())
    before = journal.entries()

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        journal.write(replace(before[0], params={"x": 1}))
    monkeypatch.undo()
    assert journal.entries() == before
    only = journal.path_for(before[0].fault_id)
    assert list(journal.directory.iterdir()) == [only]  # no temporary file left either


def test_leftover_temporary_files_are_not_entries(tmp_path: Path) -> None:
    """A crash mid-write leaves a temporary file: its intent was never committed, so its
    fault was never applied."""
    journal = Journal(tmp_path / "j")
    journal.directory.mkdir()
    (journal.directory / ".demo.json.123.tmp").write_text('{"half": ')
    assert journal.scan() == ([], [])


def test_an_unreadable_entry_is_reported_and_does_not_hide_the_others(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    _apply(_undo(journal), Probe(journal), _ctx())
    (journal.directory / "zz-broken.json").write_text("{not json")
    entries, unreadable = journal.scan()
    assert [e.fault_id for e in entries] == ["demo-0-abc123"]
    assert [u.path.name for u in unreadable] == ["zz-broken.json"]


def test_a_journal_that_cannot_be_written_refuses_the_fault_before_apply(tmp_path: Path) -> None:
    (tmp_path / "j").write_text("a file where the folder should be")
    journal = Journal(tmp_path / "j")
    probe = Probe(journal)
    with pytest.raises(InjectionError, match=r"cannot write the undo journal.*was not applied"):
        _apply(_undo(journal), probe, _ctx())
    assert probe.seen_at_apply is None


def test_a_failed_apply_is_undone_through_undo_for_and_forgotten(tmp_path: Path) -> None:
    """apply may have got half-way (or its answer was lost): undo what it may have done."""
    journal = Journal(tmp_path / "j")
    undo, probe = _undo(journal), Probe(journal, fail=True)
    with pytest.raises(InjectionError):
        _apply(undo, probe, _ctx())
    undo.failed(probe, _ctx())
    assert [a.fault_id for a in probe.reverted] == ["demo-0-abc123"]
    assert journal.entries() == []


def test_a_failed_apply_that_cannot_be_undone_stays_for_recover(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    said: list[str] = []
    undo, probe = UndoLog(journal, ENV, said.append), Probe(journal, fail=True, undo_fails=True)
    with pytest.raises(InjectionError):
        _apply(undo, probe, _ctx())
    undo.failed(probe, _ctx())
    assert [e.fault_id for e in journal.entries()] == ["demo-0-abc123"]
    assert "gameday recover" in said[-1]


def test_a_target_that_cannot_say_whether_it_expires_faults_gets_the_watchdog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Path] = []

    def ensure_running(directory: Path) -> bool:
        started.append(directory)
        return True

    monkeypatch.setattr("gameday.undo.watchdog.ensure_running", ensure_running)

    class Unsure(Probe):
        def enforces_ttl(self, target: Target) -> bool:
            raise RuntimeError("cannot tell")

    journal = Journal(tmp_path / "j")
    _apply(_undo(journal), Unsure(journal), _ctx())
    [entry] = journal.entries()
    assert not entry.ttl_enforced
    assert started == [journal.directory]


def test_leftovers_of_dead_runs_are_announced(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    _apply(_undo(journal), Probe(journal), _ctx())
    [entry] = journal.entries()
    journal.write(replace(entry, owner=_dead_owner()))
    said: list[str] = []
    UndoLog(journal, ENV, said.append).warn_leftovers()
    assert "1 fault(s) of runs that did not end cleanly" in said[0]
    assert "gameday recover" in said[0]


def _dead_owner() -> Owner:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return Owner(int(done.stdout), Owner.me().host, "1")


def test_owner_is_alive_only_while_that_very_process_runs() -> None:
    me = Owner.me()
    assert me.alive()
    assert not _dead_owner().alive()
    assert not Owner(me.pid, me.host, "not-my-start-time").alive()  # a reused pid
    assert not Owner(1, "some-other-host").alive()  # unknowable: reverting is the safe side
