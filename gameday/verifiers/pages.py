"""The ``pages``, ``inhibited`` and ``grouped`` expectations: who was paged, and by what.

All three read Alertmanager's own output as the run captured it
(:class:`~gameday.evidence.model.NotificationsEvidence`). A *page* is a notification group:
the deliveries to one receiver that share a ``group_key``, counted once whatever its repeat
and resolved notifications. Pages are counted over the fault and recovery phases. Grouping is
only visible in webhook deliveries; where none could reach gameday, ``pages`` falls back to
Alertmanager's API (bounds, not a count) and ``grouped`` cannot tell. ``inhibited`` reads
``status.inhibitedBy`` as polled from ``/api/v2/alerts``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from gameday.evidence.model import RunEvidence, WebhookEvidence, labels_match
from gameday.scenario.expectations import (
    Expectation,
    GroupedExpectation,
    InhibitedExpectation,
    PagesExpectation,
)
from gameday.verifiers.base import Check, Verifier


@dataclass(frozen=True)
class Page:
    """One notification group a receiver got: its firing and resolved deliveries."""

    group_key: str
    receiver: str
    firing: tuple[WebhookEvidence, ...]
    resolved: tuple[WebhookEvidence, ...]

    @property
    def first_at(self) -> float:
        return self.firing[0].received_at

    @property
    def alerts(self) -> list[str]:
        """The alert names its firing deliveries carried, sorted."""
        return sorted({a.alertname for w in self.firing for a in w.alerts if a.status == "firing"})

    def to_json(self, fault_start: float) -> dict[str, object]:
        return {
            "group_key": self.group_key,
            "first_after_fault_s": round(self.first_at - fault_start, 3),
            "alerts": self.alerts,
            "repeats": len(self.firing) - 1,
            "resolved": len(self.resolved),
        }


def paging_window(evidence: RunEvidence) -> tuple[float, float]:
    """The fault and recovery phases (the whole run where they are missing)."""
    timeline = evidence.timeline
    run = timeline.window("run", evidence.captured_at)
    assert run is not None  # "run" always has a window
    fault = timeline.window("fault", evidence.captured_at)
    recovery = timeline.window("recovery", evidence.captured_at)
    start = fault[0] if fault else run[0]
    end = recovery[1] if recovery else fault[1] if fault else run[1]
    return start, end


def pages(evidence: RunEvidence, receiver: str) -> list[Page]:
    """The notification groups ``receiver`` got a firing notification for in the paging
    window, first paged first (from webhook deliveries)."""
    start, end = paging_window(evidence)
    by_key: dict[str, list[WebhookEvidence]] = {}
    for hook in evidence.notifications.webhooks:
        if hook.receiver == receiver and start <= hook.received_at <= end:
            by_key.setdefault(hook.group_key, []).append(hook)
    found = []
    for key, hooks in by_key.items():
        hooks.sort(key=lambda w: w.received_at)
        firing = tuple(w for w in hooks if w.status == "firing")
        if firing:
            resolved = tuple(w for w in hooks if w.status == "resolved")
            found.append(Page(key, receiver, firing, resolved))
    return sorted(found, key=lambda p: p.first_at)


def _fault_start(evidence: RunEvidence) -> float:
    return evidence.timeline.fault_start or paging_window(evidence)[0]


def _described(found: Sequence[Page], fault_start: float) -> str:
    parts = [
        f"{p.group_key} at +{p.first_at - fault_start:.0f}s ({', '.join(p.alerts) or 'no alert'};"
        f" {len(p.firing) - 1} repeats, {len(p.resolved)} resolved)"
        for p in found
    ]
    return "; ".join(parts)


class PagesVerifier(Verifier[PagesExpectation]):
    """Decides ``pages``: the number of notification groups a receiver got."""

    kind: ClassVar[str] = "pages"
    spec: ClassVar[type[Expectation]] = PagesExpectation
    summary: ClassVar[str] = "a receiver gets at most / at least / exactly N notification groups"

    def check(self, expectation: PagesExpectation, evidence: RunEvidence) -> Check:
        notes = evidence.notifications
        if notes.has_webhooks:
            return self._from_webhooks(expectation, evidence)
        if notes.has_api:
            return self._from_api(expectation, evidence)
        detail = (
            "no notification evidence: neither gameday's webhook sink nor Alertmanager's API"
            " was read during this run"
        )
        return Check.undecided(self.kind, expectation.title, detail)

    def _from_webhooks(self, expectation: PagesExpectation, evidence: RunEvidence) -> Check:
        found = pages(evidence, expectation.receiver)
        start = _fault_start(evidence)
        passed = expectation.allows(len(found))
        listed = f": {_described(found, start)}" if found else ""
        detail = (
            f"{expectation.receiver} got {len(found)} page{'s' if len(found) != 1 else ''}"
            f" during fault and recovery{listed}"
        )
        body = {
            "source": "webhooks",
            "pages": len(found),
            "groups": [p.to_json(start) for p in found],
        }
        return Check(
            self.kind, expectation.title, passed, detail, body, extra={"pages": len(found)}
        )

    def _from_api(self, expectation: PagesExpectation, evidence: RunEvidence) -> Check:
        # The alerts API shows which instances route to a receiver, not how Alertmanager groups
        # them: one or more active instances make between 1 and that many pages.
        start, end = paging_window(evidence)
        instances = {
            (s.fingerprint, s.starts_at)
            for s in evidence.notifications.sightings
            if expectation.receiver in s.receivers and start <= s.first_seen <= end
        }
        low, high = (1 if instances else 0), len(instances)
        body = {"source": "alertmanager_api", "at_least": low, "at_most": high}
        span = f"{low}" if low == high else f"between {low} and {high}"
        detail = (
            f"from Alertmanager's API (no webhook reached gameday): {expectation.receiver} got"
            f" {span} pages ({high} alert instances routed to it)"
        )
        verdicts = {expectation.allows(n) for n in range(low, high + 1)}
        if len(verdicts) > 1:
            detail += "; the API does not show grouping, so the bound cannot be decided"
            return Check.undecided(self.kind, expectation.title, detail, body)
        return Check(self.kind, expectation.title, verdicts.pop(), detail, body)


def notified_of(
    evidence: RunEvidence, alert: str, labels: Mapping[str, str], receiver: str | None = None
) -> list[WebhookEvidence]:
    """Firing deliveries in the paging window that carried ``alert`` firing (to ``receiver``)."""
    start, end = paging_window(evidence)
    return [
        hook
        for hook in evidence.notifications.webhooks
        if hook.status == "firing"
        and start <= hook.received_at <= end
        and (receiver is None or hook.receiver == receiver)
        and any(
            a.alertname == alert and a.status == "firing" and labels_match(a.labels, labels)
            for a in hook.alerts
        )
    ]


class InhibitedVerifier(Verifier[InhibitedExpectation]):
    """Decides ``inhibited``: active in Prometheus, inhibited by ``by``, notified to nobody."""

    kind: ClassVar[str] = "inhibited"
    spec: ClassVar[type[Expectation]] = InhibitedExpectation
    summary: ClassVar[str] = "an alert fires but Alertmanager inhibits it because of another"

    def check(self, expectation: InhibitedExpectation, evidence: RunEvidence) -> Check:
        title, notes = expectation.title, evidence.notifications
        if not notes.statuses_polled:
            detail = "no Alertmanager API evidence: its alerts' status was not polled in this run"
            return Check.undecided(self.kind, title, detail)
        if evidence.alerts is None:
            return Check.undecided(self.kind, title, "no Prometheus evidence (ALERTS)")
        fault = evidence.timeline.window("fault", evidence.captured_at)
        if fault is None:
            return Check.undecided(self.kind, title, "the run has no fault phase")
        labels = dict(expectation.labels)
        firing = [
            t
            for s in evidence.alerts.of(expectation.alert)
            if labels_match(s.labels, labels)
            for t, state in s.points
            if state == "firing" and fault[0] <= t <= fault[1]
        ]
        if not firing:
            detail = f"{expectation.alert} was never firing in Prometheus during the fault"
            return Check(self.kind, title, False, detail, {"reason": "never_active"})
        return self._suppression(expectation, evidence, labels, min(firing))

    def _suppression(
        self,
        expectation: InhibitedExpectation,
        evidence: RunEvidence,
        labels: Mapping[str, str],
        fired_at: float,
    ) -> Check:
        title, alert, by = expectation.title, expectation.alert, expectation.by
        start = _fault_start(evidence)
        body: dict[str, object] = {"firing_after_fault_s": round(fired_at - start, 3)}
        notified = notified_of(evidence, alert, labels)
        if notified:
            who = ", ".join(sorted({h.receiver for h in notified}))
            first = notified[0].received_at - start
            detail = f"{alert} was notified anyway: {who} got it firing (first at +{first:.0f}s)"
            return Check(
                self.kind, title, False, detail, {**body, "reason": "notified", "receivers": who}
            )
        statuses = [
            s
            for s in evidence.notifications.statuses
            if s.alertname == alert and labels_match(s.labels, labels)
        ]
        inhibitors = sorted({n or "(unnamed)" for s in statuses for n in s.inhibited_by_names})
        body["inhibited_by"] = inhibitors
        mine = [s for s in statuses if by in s.inhibited_by_names]
        if mine:
            first = min(s.first_seen for s in mine) - start
            last = max(s.last_seen for s in mine) - start
            detail = (
                f"{alert} fired (+{fired_at - start:.0f}s) and Alertmanager showed it inhibited"
                f" by {by} from +{first:.0f}s to +{last:.0f}s; no receiver was notified of it"
            )
            return Check(self.kind, title, True, detail, body)
        if inhibitors:
            detail = f"{alert} was inhibited by {', '.join(inhibitors)}, never by {by}"
            return Check(self.kind, title, False, detail, {**body, "reason": "other_inhibitor"})
        states = sorted({s.state for s in statuses})
        seen = f" (Alertmanager showed it {', '.join(states)})" if states else ""
        detail = f"{alert} fired in Prometheus but Alertmanager never showed it inhibited{seen}"
        return Check(self.kind, title, False, detail, {**body, "reason": "not_inhibited"})


class GroupedVerifier(Verifier[GroupedExpectation]):
    """Decides ``grouped``: the alerts reached the receiver in at most ``max_groups`` groups."""

    kind: ClassVar[str] = "grouped"
    spec: ClassVar[type[Expectation]] = GroupedExpectation
    summary: ClassVar[str] = "several alerts reach a receiver in at most N notification groups"

    def check(self, expectation: GroupedExpectation, evidence: RunEvidence) -> Check:
        title = expectation.title
        if not evidence.notifications.has_webhooks:
            detail = (
                "no webhook evidence: notification groups show only in deliveries to"
                " gameday's sink (Alertmanager's API does not show them)"
            )
            return Check.undecided(self.kind, title, detail)
        wanted = set(expectation.alerts)
        groups = {
            p.group_key: sorted(wanted & set(p.alerts))
            for p in pages(evidence, expectation.receiver)
            if wanted & set(p.alerts)
        }
        reached = {a for names in groups.values() for a in names}
        missing = [a for a in expectation.alerts if a not in reached]
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in groups.items()) or "none"
        body = {"groups": groups, "missing": missing}
        if missing:
            detail = (
                f"never reached {expectation.receiver}: {', '.join(missing)} (groups: {listed})"
            )
            return Check(self.kind, title, False, detail, body)
        count = len(groups)
        passed = count <= expectation.max_groups
        detail = (
            f"{count} group{'s' if count != 1 else ''} (at most {expectation.max_groups}): {listed}"
        )
        return Check(self.kind, title, passed, detail, body)


VERIFIERS = (PagesVerifier, InhibitedVerifier, GroupedVerifier)
