"""Replaying the undo journal: revert what a crashed or killed run left behind.

``gameday recover`` reverts every entry of the journal whose run is gone; the watchdog
reverts the expired entries of targets that do not expire faults themselves. Both go
through :func:`revert_entry`: ``apply``'s recorded answer when there is one, else the
injector's :meth:`~gameday.injectors.base.Injector.undo_for` (a run killed between intent
and apply). Reverts only ever go to hosts in the allowlist the run had (or ``--env``'s).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gameday import registry
from gameday.errors import GameDayError, InjectionError
from gameday.injectors.base import Injector
from gameday.redaction import redact, redact_text
from gameday.registry import Registry
from gameday.scenario.environment import DEFAULT_ALLOW_HOSTS, Environment, host_of
from gameday.undo.journal import Entry, Journal, Unreadable

REVERTED, EXPIRED, GONE, RUNNING, FAILED = "reverted", "expired", "gone", "running", "failed"
OK = frozenset({REVERTED, EXPIRED, GONE, RUNNING})


class CannotUndo(InjectionError):
    """The run died between intent and apply, and the injector cannot tell what to undo."""


@dataclass(frozen=True)
class Outcome:
    """What recovering one journal entry did. ``status`` is one of the constants above."""

    status: str
    what: str
    detail: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in OK

    def line(self) -> str:
        """One line for people, secrets masked."""
        return redact_text(f"{self.status:<9} {self.what}: {self.detail}")

    def to_json(self) -> dict[str, Any]:
        out = {"status": self.status, "fault": self.what, "detail": self.detail}
        return redact({**out, "evidence": dict(self.evidence)})


Injectors = Callable[[], Registry[Injector]]
"""Where recovery finds injectors: the installed registry, or a test's own."""


def revert_entry(
    entry: Entry,
    allow_hosts: Iterable[str] | None = None,
    injectors: Injectors = registry.injectors,
) -> Mapping[str, Any]:
    """Revert ``entry``'s fault; its evidence, or ``InjectionError`` saying why not.

    ``allow_hosts`` defaults to the allowlist the run recorded with the entry.
    """
    _check_hosts(entry, allow_hosts)
    injector = _injector(entry.injector, injectors)
    applied = entry.applied or injector.undo_for(entry.context())
    if applied is None:
        raise CannotUndo(
            f"{entry.injector} cannot tell what to undo without apply's answer, which the "
            "run never recorded"
        )
    return injector.revert(applied)


def _injector(name: str, injectors: Injectors) -> Injector:
    try:
        return injectors().get(name)()
    except GameDayError as exc:
        # A broken plug-in (or module) must not stop the recovery of every other fault.
        found = _builtin(name)
        if found is None:
            raise InjectionError(f"cannot load injector {name!r}: {exc}") from exc
        return found()


def _builtin(name: str) -> type[Injector] | None:
    """The built-in injector class called ``name``, importing its modules one by one."""
    for module in registry.INJECTOR_MODULES:
        try:
            classes = getattr(importlib.import_module(module), "INJECTORS", ())
        except Exception:  # noqa: BLE001, S112 - skip the broken module, try the next
            continue
        for cls in classes:
            if getattr(cls, "name", None) == name:
                return cls
    return None


def _check_hosts(entry: Entry, allow_hosts: Iterable[str] | None) -> None:
    allowed = tuple(allow_hosts or entry.environment.get("allow_hosts") or DEFAULT_ALLOW_HOSTS)
    for value in Environment(allow_hosts=allowed).refused_addresses(entry.target.settings):
        raise InjectionError(f"refused: {host_of(value)} is not in allow_hosts {list(allowed)}")


def recover(
    journal: Journal,
    allow_hosts: Iterable[str] | None = None,
    injectors: Injectors = registry.injectors,
) -> list[Outcome]:
    """Revert every entry whose run is gone; remove each one that is done with.

    Entries of a run still in progress are left alone (``running``); an entry that cannot
    be reverted stays in the journal (``failed``) for another attempt. A registry that fails
    to load (a broken plug-in) still lets the built-in injectors revert their faults.
    """
    if not journal.directory.exists():
        return []
    entries, unreadable = journal.scan()
    outcomes = [_unreadable(u) for u in unreadable]
    hosts = tuple(allow_hosts) if allow_hosts else None
    outcomes += [recover_entry(journal, entry, hosts, injectors) for entry in entries]
    return outcomes


def recover_entry(
    journal: Journal,
    entry: Entry,
    allow_hosts: Iterable[str] | None = None,
    injectors: Injectors = registry.injectors,
) -> Outcome:
    """Recover one entry (see :func:`recover`)."""
    what = entry.title()
    if entry.owner.alive():
        return Outcome(RUNNING, what, f"its run is still in progress (pid {entry.owner.pid})")
    if entry.stack_owned:
        journal.remove(entry.fault_id)
        return Outcome(GONE, what, "the embedded stack the run started stopped with it")
    try:
        evidence = revert_entry(entry, allow_hosts, injectors)
    except Exception as exc:  # noqa: BLE001 - one entry's failure must not stop the others
        return _not_reverted(journal, entry, exc)
    journal.remove(entry.fault_id)
    shown = json.dumps(dict(evidence), default=str)
    return Outcome(REVERTED, what, shown if len(shown) <= 160 else shown[:157] + "...", evidence)


def _not_reverted(journal: Journal, entry: Entry, exc: Exception) -> Outcome:
    left = entry.expires_at - time.time()
    if isinstance(exc, CannotUndo) and entry.ttl_enforced:
        journal.remove(entry.fault_id)
        when = "expired" if left <= 0 else f"expires by itself in {left:.0f} s"
        return Outcome(EXPIRED, entry.title(), f"left to the target's TTL ({when})")
    return Outcome(FAILED, entry.title(), f"REVERT FAILED: {exc}")


def _unreadable(item: Unreadable) -> Outcome:
    return Outcome(FAILED, str(item.path), f"unreadable journal entry: {item.problem}")


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """The ``--json`` summary: counts by status, and one object per fault."""
    counts = {s: sum(o.status == s for o in outcomes) for s in (*sorted(OK), FAILED)}
    return {**counts, "ok": all(o.ok for o in outcomes), "faults": [o.to_json() for o in outcomes]}


def report(outcomes: list[Outcome], *, as_json: bool = False) -> None:
    """Print one line per fault (or the JSON summary) and a closing line on stderr."""
    if as_json:
        print(json.dumps(summary(outcomes), indent=2))
    else:
        for outcome in outcomes:
            print(outcome.line())
    if not outcomes:
        print("recover: the undo journal is empty: nothing to revert", file=sys.stderr)
        return
    counts = summary(outcomes)
    shown = [f"{counts[s]} {s}" for s in (REVERTED, EXPIRED, GONE, RUNNING) if counts[s]]
    done = ", ".join(shown) or "nothing done"
    print(f"recover: {done}; {counts[FAILED]} failed", file=sys.stderr)
