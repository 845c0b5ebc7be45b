"""The runner's side of the undo journal for one run: intent, applied, reverted.

Kept apart from :mod:`gameday.undo.journal` (pure storage) because it starts the watchdog,
which itself reads the journal: journal <- recover <- watchdog <- log, no cycle.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gameday.errors import InjectionError
from gameday.injectors.base import Applied, FaultContext, Injector, Target
from gameday.redaction import redact
from gameday.scenario.environment import Environment
from gameday.undo import watchdog
from gameday.undo.journal import OWN_STACK_SOURCE, Entry, Journal, Owner


class UndoLog:
    """The runner's side of the journal for one run.

    ``prepare`` asks each fault's target whether it enforces TTLs; ``intend`` writes the
    intent (and starts the watchdog first when the target does not) before ``apply``;
    ``applied`` adds apply's answer; ``reverted`` removes the entry. A journal that cannot
    be written is an :class:`InjectionError` *before* anything is applied.
    """

    def __init__(
        self, journal: Journal, environment: Environment, event: Callable[[str], None] = print
    ):
        self.journal = journal
        self.event = event
        self._summary = _environment_summary(environment)
        self._stack_owned = environment.location is not None and (
            environment.location.path == OWN_STACK_SOURCE
        )
        self._enforced: dict[str, bool] = {}
        self._entries: dict[str, Entry] = {}

    def warn_leftovers(self) -> None:
        """Say so when the journal holds faults of runs that are gone (``gameday recover``)."""
        with contextlib.suppress(OSError):
            stale = [e for e in self.journal.entries() if not e.owner.alive()]
            if stale:
                self.event(
                    f"!! the undo journal {self.journal.directory} holds {len(stale)} fault(s) "
                    "of runs that did not end cleanly; run `gameday recover` to revert them"
                )

    def prepare(self, fault_id: str, injector: Injector, target: Target) -> None:
        """Learn (once, before the run) whether ``target`` expires ``injector``'s faults."""
        try:
            self._enforced[fault_id] = bool(injector.enforces_ttl(target))
        except Exception:  # noqa: BLE001 - a target that cannot tell gets the watchdog
            self._enforced[fault_id] = False

    def intend(self, injector: Injector, ctx: FaultContext) -> None:
        """Write the intent durably; start the watchdog if the target will not expire it."""
        enforced = self._enforced.get(ctx.fault_id, False)
        entry = Entry(
            ctx.fault_id, injector.name, ctx.target, dict(ctx.params), ctx.ttl_s,
            time.time() + ctx.ttl_s, enforced, Owner.me(), ctx.seed, self._stack_owned,
            self._summary,
        )  # fmt: skip
        self._write(entry)
        if not enforced and not self._stack_owned:  # a stack started here dies with the run
            try:
                self._watch()
            except InjectionError:
                self.reverted(ctx.fault_id)  # never applied: nothing to undo
                raise

    def applied(self, applied: Applied) -> None:
        """Add ``apply``'s answer to the fault's entry."""
        entry = self._entries.get(applied.fault_id)
        if entry is None:
            return
        try:
            self._write(replace(entry, applied=applied))
        except InjectionError as exc:  # the intent is on disk: undo_for can still revert it
            self.event(f"!! undo journal: cannot record apply's answer: {exc.__cause__}")

    def failed(self, injector: Injector, ctx: FaultContext) -> None:
        """``apply`` raised: undo what it may have done (half-way, or its answer lost) and
        forget the fault; if that undo fails too, the entry stays for ``gameday recover``."""
        try:
            applied = injector.undo_for(ctx)
            if applied is not None:
                injector.revert(applied)
        except Exception as exc:  # noqa: BLE001 - apply's own failure is what gets raised
            self.event(
                f"!! undoing the failed apply of fault {ctx.fault_id} failed too: {exc}; "
                "it stays in the undo journal: run `gameday recover`"
            )
            return
        self.reverted(ctx.fault_id)

    def reverted(self, fault_id: str) -> None:
        """The fault is undone: forget it (a journal that cannot be cleaned only warns)."""
        self._entries.pop(fault_id, None)
        try:
            self.journal.remove(fault_id)
        except OSError as exc:
            self.event(f"!! undo journal: cannot remove {fault_id}: {exc} (harmless)")

    def _write(self, entry: Entry) -> None:
        try:
            self.journal.write(entry)
        except OSError as exc:
            raise InjectionError(
                f"cannot write the undo journal in {self.journal.directory}: {exc}; "
                f"{entry.title()} was not applied"
            ) from exc
        self._entries[entry.fault_id] = entry

    def _watch(self) -> None:
        try:
            if watchdog.ensure_running(self.journal.directory):
                self.event(
                    f"watchdog started for {self.journal.directory}: a target does not confirm "
                    "that it expires faults by itself"
                )
        except OSError as exc:
            raise InjectionError(f"cannot start the watchdog: {exc}; nothing applied") from exc


def _environment_summary(environment: Environment) -> dict[str, Any]:
    """Where the run happened, for people reading the journal (secrets masked)."""
    data = environment.redacted()
    keep = ("toxiproxy", "relay", "control", "producer", "model_server", "allow_hosts")
    summary = {k: data[k] for k in keep if k in data}
    location = environment.location
    summary["source"] = location.path if location else None
    return redact(summary)
