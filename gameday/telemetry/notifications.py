"""Alertmanager webhook notifications as gameday records them, and their bounded store.

Alertmanager posts version "4" payloads: ``receiver``, ``status``, ``alerts[]`` (each with
``status``, ``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``,
``fingerprint``), ``groupLabels``, ``commonLabels``, ``commonAnnotations``, ``externalURL``,
``groupKey``, ``truncatedAlerts``. Times are kept as Unix seconds; Go's zero time (the
``endsAt`` of a firing alert) becomes ``None``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from gameday.telemetry._time import parse_rfc3339

DEFAULT_MAX_NOTIFICATIONS = 10_000


@dataclass(frozen=True)
class NotifiedAlert:
    """One alert inside a notification."""

    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: float | None = None
    ends_at: float | None = None
    fingerprint: str = ""
    generator_url: str = ""

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class Notification:
    """One webhook call: when it arrived (Unix seconds), for which receiver, with which alerts.

    ``receiver`` is the receiver named in the webhook path; ``payload_receiver`` is the one
    Alertmanager wrote in the payload (they differ only if the config routes oddly).
    """

    received_at: float
    receiver: str
    payload_receiver: str
    status: str
    alerts: tuple[NotifiedAlert, ...]
    group_key: str = ""
    group_labels: Mapping[str, str] = field(default_factory=dict)
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""
    truncated_alerts: int = 0
    version: str = "4"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``/api/notifications`` entry shape)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notification:
        """Inverse of :meth:`to_json`."""
        alerts = tuple(NotifiedAlert(**_known(NotifiedAlert, a)) for a in data.get("alerts", ()))
        return cls(**{**_known(cls, data), "alerts": alerts})

    def alertnames(self) -> set[str]:
        """Names of the alerts in this notification."""
        return {alert.alertname for alert in self.alerts}


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    # Tolerate keys added by a newer sink: keep only the fields this version knows.
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def parse_webhook(payload: Any, receiver: str, received_at: float) -> Notification:
    """Read an Alertmanager webhook payload; ``ValueError`` says what is wrong with it."""
    if not isinstance(payload, dict):
        raise ValueError("webhook payload must be a JSON object")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise ValueError("webhook payload has no 'alerts' list")
    return Notification(
        received_at=received_at,
        receiver=receiver,
        payload_receiver=str(payload.get("receiver", "")),
        status=str(payload.get("status", "")),
        alerts=tuple(_parse_alert(alert, index) for index, alert in enumerate(alerts)),
        group_key=str(payload.get("groupKey", "")),
        group_labels=_strings(payload.get("groupLabels"), "groupLabels"),
        common_labels=_strings(payload.get("commonLabels"), "commonLabels"),
        common_annotations=_strings(payload.get("commonAnnotations"), "commonAnnotations"),
        external_url=str(payload.get("externalURL", "")),
        truncated_alerts=int(payload.get("truncatedAlerts") or 0),
        version=str(payload.get("version", "")),
    )


def _parse_alert(alert: Any, index: int) -> NotifiedAlert:
    if not isinstance(alert, dict):
        raise ValueError(f"alerts[{index}] must be an object")
    try:
        starts_at = parse_rfc3339(alert.get("startsAt"))
        ends_at = parse_rfc3339(alert.get("endsAt"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"alerts[{index}]: bad timestamp: {exc}") from exc
    return NotifiedAlert(
        status=str(alert.get("status", "")),
        labels=_strings(alert.get("labels"), f"alerts[{index}].labels"),
        annotations=_strings(alert.get("annotations"), f"alerts[{index}].annotations"),
        starts_at=starts_at,
        ends_at=ends_at,
        fingerprint=str(alert.get("fingerprint", "")),
        generator_url=str(alert.get("generatorURL", "")),
    )


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object of strings")
    return {str(k): str(v) for k, v in value.items()}


class NotificationStore:
    """The most recent ``max_notifications`` notifications, in arrival order; thread-safe."""

    def __init__(self, max_notifications: int = DEFAULT_MAX_NOTIFICATIONS):
        self._lock = threading.Lock()
        self._items: deque[Notification] = deque(maxlen=max_notifications)
        self._received = 0

    def add(self, notification: Notification) -> None:
        """Record one notification (the oldest is dropped when full)."""
        with self._lock:
            self._items.append(notification)
            self._received += 1

    def since(self, since: float | None = None, receiver: str | None = None) -> list[Notification]:
        """Notifications received at or after ``since`` (Unix s), optionally for one receiver."""
        with self._lock:
            items = list(self._items)
        return [
            n
            for n in items
            if (since is None or n.received_at >= since)
            and (receiver is None or n.receiver == receiver)
        ]

    @property
    def received(self) -> int:
        """How many notifications arrived in total (including dropped ones)."""
        with self._lock:
            return self._received

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
