"""Clients for Alertmanager's v2 API and for the notifications gameday's webhook sink recorded."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gameday.errors import StackUnavailable
from gameday.telemetry._http import DEFAULT_TIMEOUT, HttpClient
from gameday.telemetry._time import parse_rfc3339
from gameday.telemetry.notifications import Notification


@dataclass(frozen=True)
class AlertmanagerAlert:
    """An alert as ``GET /api/v2/alerts`` lists it.

    ``starts_at`` is Prometheus's FiredAt; ``state`` is ``active``, ``suppressed`` or
    ``unprocessed``; ``receivers`` are the names of the receivers it routes to.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float | None
    ends_at: float | None
    updated_at: float | None
    fingerprint: str
    receivers: tuple[str, ...]
    state: str
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    generator_url: str = ""

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


class AlertmanagerClient:
    """Client of one Alertmanager's ``/api/v2`` and ``/-/ready``."""

    def __init__(
        self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT, token: str | None = None
    ):
        self.http = HttpClient(base_url, timeout=timeout, token=token)

    def alerts(
        self,
        *,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        filters: Sequence[str] = (),
        receiver: str | None = None,
    ) -> list[AlertmanagerAlert]:
        """Alerts Alertmanager holds; ``filters`` are matchers like ``alertname="X"``."""
        params: dict[str, Any] = {
            "active": _flag(active),
            "silenced": _flag(silenced),
            "inhibited": _flag(inhibited),
            "filter": list(filters),
        }
        if receiver:
            params["receiver"] = receiver
        return [_alert(item) for item in self.http.get_json("/api/v2/alerts", params)]

    def status(self) -> dict[str, Any]:
        """``GET /api/v2/status``: cluster, config (``config.original``), uptime, version."""
        return dict(self.http.get_json("/api/v2/status"))

    def ready(self) -> bool:
        """Whether ``/-/ready`` answers 200."""
        try:
            self.http.get("/-/ready")
        except StackUnavailable:
            return False
        return True


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _alert(item: Mapping[str, Any]) -> AlertmanagerAlert:
    status = item.get("status") or {}
    return AlertmanagerAlert(
        labels=item.get("labels") or {},
        annotations=item.get("annotations") or {},
        starts_at=parse_rfc3339(item.get("startsAt")),
        ends_at=parse_rfc3339(item.get("endsAt")),
        updated_at=parse_rfc3339(item.get("updatedAt")),
        fingerprint=item.get("fingerprint", ""),
        receivers=tuple(r.get("name", "") for r in item.get("receivers") or []),
        state=status.get("state", ""),
        silenced_by=tuple(status.get("silencedBy") or ()),
        inhibited_by=tuple(status.get("inhibitedBy") or ()),
        generator_url=item.get("generatorURL", ""),
    )


class SinkClient:
    """Client of gameday's telemetry sink: recorded webhook notifications and counters."""

    def __init__(
        self, base_url: str, token: str | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ):
        self.http = HttpClient(base_url, timeout=timeout, token=token)

    @property
    def webhook_base(self) -> str:
        """Prefix of webhook URLs: Alertmanager posts to ``{webhook_base}/{receiver}``."""
        return self.http.url("/alertmanager")

    def notifications(
        self, since: float | None = None, receiver: str | None = None
    ) -> list[Notification]:
        """Notifications received at or after ``since`` (Unix seconds), oldest first."""
        params: dict[str, Any] = {}
        if since is not None:
            params["since"] = repr(float(since))
        if receiver is not None:
            params["receiver"] = receiver
        document = self.http.get_json("/api/notifications", params)
        return [Notification.from_json(item) for item in document["notifications"]]

    def wait_for_notification(
        self,
        alertname: str,
        *,
        since: float | None = None,
        status: str = "firing",
        timeout: float = 60.0,
        poll: float = 0.25,
    ) -> Notification:
        """The first notification carrying ``alertname`` in ``status``, polling until ``timeout``.

        Raises ``StackUnavailable`` when none arrives in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            for notification in self.notifications(since):
                if any(
                    a.alertname == alertname and a.status == status for a in notification.alerts
                ):
                    return notification
            if time.monotonic() >= deadline:
                raise StackUnavailable(
                    f"no {status} notification for {alertname} at {self.webhook_base} "
                    f"within {timeout:g} s"
                )
            time.sleep(poll)

    def stats(self) -> dict[str, Any]:
        """The sink's counters (``GET /api/stats``)."""
        return dict(self.http.get_json("/api/stats"))

    def healthy(self) -> bool:
        """Whether ``/healthz`` answers 200."""
        try:
            self.http.get("/healthz")
        except StackUnavailable:
            return False
        return True
