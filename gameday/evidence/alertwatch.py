"""Alertmanager's view of a run, polled while it runs: evidence for the *notified* stage.

In the embedded stack Alertmanager posts every notification to gameday's webhook sink, which
records when it arrived and which receiver it went to. A team's own Alertmanager pages its
own receivers (PagerDuty, Slack, e-mail) and cannot reach gameday's sink, often not even
over the network. The runner then asks Alertmanager itself, once a second
(``GET /api/v2/alerts``), and keeps the first time each alert instance was seen *active*
there (received, routed, neither silenced nor inhibited) with the ``receivers`` Alertmanager
routes it to and its ``startsAt`` (Prometheus's FiredAt). That is when Alertmanager had it
and where it sends it; the page itself follows within the route's ``group_wait``. Accurate
to the poll interval.

The same poll asks for silenced and inhibited alerts too (``active``, ``silenced`` and
``inhibited`` all true) and keeps every instance's ``status``: its ``state`` and, for an
inhibited one, the fingerprints in ``inhibitedBy``, resolved to alert names from the same
answer. That is the evidence the ``inhibited`` expectation reads.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from gameday.errors import StackUnavailable
from gameday.telemetry.alertmanager import AlertmanagerAlert, AlertmanagerClient

POLL_EVERY_S = 1.0
# The poll runs inside the runner's loop, between fault applies and reverts: it must never
# hold that loop for long. A slow answer is dropped; after a failure the next try waits longer.
POLL_TIMEOUT_S = 1.0
RETRY_AFTER_S = 5.0


@dataclass(frozen=True)
class Sighting:
    """One alert instance as Alertmanager first showed it active during the run."""

    labels: Mapping[str, str]
    receivers: tuple[str, ...]
    starts_at: float | None  # Prometheus's FiredAt
    first_seen: float  # Unix seconds, when gameday's poll first saw it active
    fingerprint: str = ""

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class Status:
    """One alert instance in one status (``state``, inhibitors, silences) over the polls."""

    labels: Mapping[str, str]
    fingerprint: str
    starts_at: float | None
    state: str
    inhibited_by: tuple[str, ...]
    inhibited_by_names: tuple[str, ...]
    silenced_by: tuple[str, ...]
    receivers: tuple[str, ...]
    first_seen: float
    last_seen: float

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


StatusKey = tuple[str, float | None, str, tuple[str, ...], tuple[str, ...]]


@dataclass
class AlertmanagerLog:
    """Every alert instance seen active in Alertmanager during one run.

    Keyed by Alertmanager's fingerprint (the label set) and ``startsAt``, so an alert that
    fires twice is two sightings. ``error`` holds the last failure to reach Alertmanager:
    an unreachable Alertmanager never stops a run, it only leaves this evidence missing.
    """

    sightings: dict[tuple[str, float | None], Sighting] = field(default_factory=dict)
    statuses: dict[StatusKey, Status] = field(default_factory=dict)
    every_s: float = POLL_EVERY_S
    error: str | None = None
    polls: int = 0
    _next: float = float("-inf")
    _clients: dict[str, AlertmanagerClient] = field(default_factory=dict)

    def poll_url(self, url: str) -> None:
        """:meth:`poll` the Alertmanager at ``url`` with a short timeout (the runner's way)."""
        if url not in self._clients:
            self._clients[url] = AlertmanagerClient(url, timeout=POLL_TIMEOUT_S)
        self.poll(self._clients[url])

    def poll(self, client: AlertmanagerClient) -> None:
        """Ask Alertmanager for its active alerts, at most once every ``every_s`` seconds
        (every :data:`RETRY_AFTER_S` after a failure, kept in ``error``)."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every_s
        try:
            alerts = client.alerts(active=True, silenced=True, inhibited=True)
        except StackUnavailable as exc:
            self.error = str(exc)
            self._next = now + max(self.every_s, RETRY_AFTER_S)
            return
        self.record(alerts, time.time())

    def record(self, alerts: Sequence[AlertmanagerAlert], seen_at: float) -> None:
        """Keep one poll's answer (``seen_at``: Unix seconds): sightings of the active alerts,
        and every alert's status with its inhibitors' names."""
        self.polls += 1
        names = {a.fingerprint: a.alertname for a in alerts if a.fingerprint}
        for alert in alerts:
            self._keep_status(alert, names, seen_at)
            if alert.state != "active":
                continue
            sighting = Sighting(
                dict(alert.labels), alert.receivers, alert.starts_at, seen_at, alert.fingerprint
            )
            self.sightings.setdefault((alert.fingerprint, alert.starts_at), sighting)

    def _keep_status(
        self, alert: AlertmanagerAlert, names: Mapping[str, str], seen_at: float
    ) -> None:
        key = (alert.fingerprint, alert.starts_at, alert.state, alert.inhibited_by,
               alert.silenced_by)  # fmt: skip
        known = self.statuses.get(key)
        if known is not None:
            self.statuses[key] = replace(known, last_seen=seen_at)
            return
        self.statuses[key] = Status(
            labels=dict(alert.labels),
            fingerprint=alert.fingerprint,
            starts_at=alert.starts_at,
            state=alert.state,
            inhibited_by=alert.inhibited_by,
            # an inhibitor gone from the answer stays unnamed: "" never matches an alert name
            inhibited_by_names=tuple(names.get(f, "") for f in alert.inhibited_by),
            silenced_by=alert.silenced_by,
            receivers=alert.receivers,
            first_seen=seen_at,
            last_seen=seen_at,
        )

    def seen(self, alert: str, labels: Mapping[str, str] | None = None) -> list[Sighting]:
        """Sightings of ``alert`` whose labels include ``labels``, first seen first."""
        wanted = labels or {}
        found = [
            s
            for s in self.sightings.values()
            if s.alertname == alert and all(s.labels.get(k) == v for k, v in wanted.items())
        ]
        return sorted(found, key=lambda s: s.first_seen)
