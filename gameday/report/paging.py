"""Who was paged, as the report shows it: each receiver's notification groups, and the alerts
Alertmanager held back (inhibited or silenced), from the run's notification evidence.

A page is what the ``pages`` expectation counts (:func:`gameday.verifiers.pages.pages`): a
notification group one receiver got a firing delivery for during fault and recovery
(:func:`~gameday.verifiers.pages.paging_window`). Times are seconds since the run started,
as everywhere in :class:`~gameday.report.data.ReportData`. What the run could not read is
kept apart from what it read: without the webhook sink's deliveries nobody can tell who was
paged, and :class:`Paging` says so rather than showing nobody paged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from gameday.evidence.model import AlertStatusEvidence, RunEvidence
from gameday.redaction import redact_text
from gameday.run.results import ScenarioResult
from gameday.scenario.expectations import (
    GroupedExpectation,
    InhibitedExpectation,
    PagesExpectation,
)
from gameday.verifiers.pages import Page, pages, paging_window

BOUND_WORDS = {"at_most": "at most", "at_least": "at least", "exactly": "exactly"}


@dataclass(frozen=True)
class PageMark:
    """One notification group a receiver got: its first firing notification at ``first``,
    repeats at ``repeats``, resolved at ``resolved`` (``None``: still firing, or resolved only
    after the paging window)."""

    group_key: str
    alerts: tuple[str, ...]
    first: float
    repeats: tuple[float, ...]
    resolved: float | None

    @property
    def summary(self) -> str:
        """``A, B: first +25.0 s, 1 repeat, resolved +50.0 s`` (times since the run started)."""
        n = len(self.repeats)
        resolved = "not resolved" if self.resolved is None else f"resolved +{self.resolved:.1f} s"
        alerts = ", ".join(self.alerts) or "no alert"
        return f"{alerts}: first +{self.first:.1f} s, {n} repeat{'s' if n != 1 else ''}, {resolved}"


@dataclass(frozen=True)
class ReceiverRow:
    """One receiver and the pages it got; ``expected`` is the scenario's bound on its pages
    (``at most 1``), ``""`` when no ``pages`` item names it."""

    receiver: str
    pages: tuple[PageMark, ...]
    expected: str = ""


@dataclass(frozen=True)
class HeldAlert:
    """An alert instance Alertmanager held back from ``start`` to ``end`` (the first and last
    poll that showed it so): ``inhibited`` by the alerts named in ``by``, or ``silenced`` by
    the silences whose ids are in ``by``."""

    alert: str
    labels: str
    how: Literal["inhibited", "silenced"]
    by: tuple[str, ...]
    start: float
    end: float

    @property
    def reason(self) -> str:
        """``inhibited by FeatureStoreDown`` or ``silenced (silence 5f2c...)``."""
        if self.how == "inhibited":
            return f"inhibited by {', '.join(self.by)}"
        return f"silenced ({'silences' if len(self.by) > 1 else 'silence'} {', '.join(self.by)})"


@dataclass(frozen=True)
class Paging:
    """The report's "who was paged": receivers (only meaningful when ``webhooks_read``) and
    held-back alerts (only meaningful when ``statuses_polled``); ``window`` is where pages
    are counted (fault and recovery)."""

    webhooks_read: bool
    statuses_polled: bool
    window: tuple[float, float]
    receivers: tuple[ReceiverRow, ...] = ()
    held: tuple[HeldAlert, ...] = ()

    def counts(self) -> dict[str, int] | None:
        """Pages per receiver; ``None`` when the webhook sink was not read (unknown, not 0)."""
        if not self.webhooks_read:
            return None
        return {r.receiver: len(r.pages) for r in self.receivers}

    @property
    def inhibited(self) -> int | None:
        """How many alert instances Alertmanager showed inhibited; ``None`` when its API was
        not polled."""
        return self._held("inhibited")

    @property
    def silenced(self) -> int | None:
        """How many alert instances Alertmanager showed silenced; ``None`` when not polled."""
        return self._held("silenced")

    def _held(self, how: str) -> int | None:
        if not self.statuses_polled:
            return None
        return len({(h.alert, h.labels) for h in self.held if h.how == how})


def who_was_paged(result: ScenarioResult) -> Paging | None:
    """Who ``result``'s run paged; ``None`` when the run has nothing to say about it (no
    notification evidence and no ``pages``, ``grouped`` or ``inhibited`` expectation)."""
    evidence = result.evidence
    notes = evidence.notifications
    named = named_receivers(result)
    asks = any(isinstance(e, InhibitedExpectation) for e in result.scenario.expect)
    if not (notes.has_webhooks or notes.statuses_polled or named or asks):
        return None
    origin = evidence.timeline.started_at
    start, end = paging_window(evidence)
    return Paging(
        webhooks_read=notes.has_webhooks,
        statuses_polled=notes.statuses_polled,
        window=(start - origin, end - origin),
        receivers=receiver_rows(evidence, named) if notes.has_webhooks else (),
        held=held_alerts(notes.statuses, origin),
    )


def named_receivers(result: ScenarioResult) -> dict[str, str]:
    """The receivers the scenario's ``pages`` and ``grouped`` items name, in their order,
    each with its ``pages`` bound (``at most 1``) or ``""``."""
    named: dict[str, str] = {}
    for e in result.scenario.expect:
        if isinstance(e, PagesExpectation):
            word, value = e.bound
            bound = f"{BOUND_WORDS[word]} {value}"
            named[e.receiver] = f"{named[e.receiver]}, {bound}" if named.get(e.receiver) else bound
        elif isinstance(e, GroupedExpectation):
            named.setdefault(e.receiver, "")
    return named


def receiver_rows(evidence: RunEvidence, named: Mapping[str, str]) -> tuple[ReceiverRow, ...]:
    """A row per receiver the scenario names (in its order), then per other receiver that got
    any delivery during the run (first paged first; not paged in the window last)."""
    origin = evidence.timeline.started_at
    others = {w.receiver for w in evidence.notifications.webhooks} - set(named)
    found = {r: pages(evidence, r) for r in [*named, *others]}

    def first_paged(r: str) -> tuple[float, str]:
        return (found[r][0].first_at if found[r] else float("inf"), r)

    later = sorted(others, key=first_paged)
    return tuple(
        ReceiverRow(redact_text(r), tuple(_mark(p, origin) for p in found[r]), named.get(r, ""))
        for r in [*named, *later]
    )


def _mark(page: Page, origin: float) -> PageMark:
    last_firing = page.firing[-1].received_at
    after = [w.received_at for w in page.resolved if w.received_at >= last_firing]
    return PageMark(
        redact_text(page.group_key),
        tuple(redact_text(a) for a in page.alerts),
        page.first_at - origin,
        tuple(w.received_at - origin for w in page.firing[1:]),
        after[0] - origin if after else None,
    )


def held_alerts(statuses: Iterable[AlertStatusEvidence], origin: float) -> tuple[HeldAlert, ...]:
    """Each inhibited or silenced alert instance Alertmanager's API showed, by first sight."""
    held = []
    for s in statuses:
        labels = redact_text(
            ", ".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "alertname")
        )
        at = (s.first_seen - origin, s.last_seen - origin)
        name = redact_text(s.alertname)
        # an inhibitor gone from Alertmanager's list by the poll has no name ("")
        names = s.inhibited_by_names or ("",) * len(s.inhibited_by)
        if names:
            by = tuple(dict.fromkeys(redact_text(n) or "(unnamed)" for n in names))
            held.append(HeldAlert(name, labels, "inhibited", by, *at))
        if s.silenced_by:
            by = tuple(redact_text(i) for i in s.silenced_by)
            held.append(HeldAlert(name, labels, "silenced", by, *at))
    return tuple(sorted(held, key=lambda h: (h.start, h.alert, h.how)))
