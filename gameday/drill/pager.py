"""What pages the trainee: alerts as they fire and resolve, and where an on-call engineer looks.

Alerts come from Prometheus (``/api/v1/alerts``), as an on-call engineer's pager would show
them: name, labels (severity, team, service), the ``summary`` and ``description``
annotations, ``runbook_url``, and a ready Prometheus query link (the alert's own rule).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from gameday.scenario.environment import Environment
from gameday.telemetry.prometheus import PrometheusAlert, Rule

POLL_EVERY_S = 1.0
_HIDDEN_LABELS = ("alertname", "alertstate")

AlertKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Links:
    """Where to look: the environment's Prometheus, Alertmanager and trace backend."""

    prometheus: str | None = None
    alertmanager: str | None = None
    traces: str | None = None
    traces_api: str = "tempo"

    @classmethod
    def of(cls, env: Environment) -> Links:
        return cls(env.prometheus, env.alertmanager, env.traces, env.traces_api)

    def graph(self, expr: str) -> str | None:
        """A Prometheus graph link running ``expr`` over the last 15 minutes."""
        if not self.prometheus:
            return None
        query = urlencode({"g0.expr": expr, "g0.tab": "0", "g0.range_input": "15m"})
        return f"{self.prometheus}/graph?{query}"

    def where_to_look(self) -> list[str]:
        """The "where to look" lines shown with the page."""
        out = ["Where to look:"]
        firing = self.graph('ALERTS{alertstate="firing"}')
        if firing:
            out.append(f"  Prometheus    {firing}")
        if self.alertmanager:
            out.append(f"  Alertmanager  {self.alertmanager}/#/alerts")
        if self.traces and self.traces_api == "tempo":
            out.append(f"  Traces        {self.traces}/api/search?minDuration=300ms&limit=20")
            out.append(f"                (one trace: {self.traces}/api/traces/<traceID>)")
        elif self.traces:
            out.append(f"  Traces        {self.traces}/api/v3/traces/<traceID> (Jaeger)")
        return out


@dataclass(frozen=True)
class Sighting:
    """An alert instance seen changing: ``firing`` (now firing) or ``resolved`` (gone)."""

    alert: PrometheusAlert
    state: str
    at: float


def key_of(alert: PrometheusAlert) -> AlertKey:
    labels = tuple(sorted((k, v) for k, v in alert.labels.items() if k not in _HIDDEN_LABELS))
    return alert.name, labels


def label_text(alert: PrometheusAlert) -> str:
    """``severity=page team=ml service=checkout`` (alertname left out)."""
    return " ".join(f"{k}={v}" for k, v in key_of(alert)[1])


@dataclass
class Pager:
    """Watches alerts while the drill runs; :meth:`poll` says which fired or resolved since.

    ``fired`` keeps every instance that fired during the drill (for the runbook hint);
    ``first_firing_at`` is when the first one was seen firing: the page.
    """

    alerts: Callable[[], list[PrometheusAlert]]
    rules: Callable[[], Mapping[str, Rule]]
    links: Links
    every_s: float = POLL_EVERY_S
    firing: dict[AlertKey, PrometheusAlert] = field(default_factory=dict)
    fired: dict[AlertKey, PrometheusAlert] = field(default_factory=dict)
    first_firing_at: float | None = None
    _last_poll: float = 0.0

    def poll(self, now: float | None = None) -> list[Sighting]:
        """Alerts that started firing or resolved since the last poll (at most once per
        ``every_s``; other calls return nothing)."""
        now = time.time() if now is None else now
        if now - self._last_poll < self.every_s:
            return []
        self._last_poll = now
        current = {key_of(a): a for a in self.alerts() if a.state == "firing"}
        new = [Sighting(a, "firing", now) for k, a in current.items() if k not in self.firing]
        gone = [Sighting(a, "resolved", now) for k, a in self.firing.items() if k not in current]
        self.firing = current
        self.fired.update(current)
        if new and self.first_firing_at is None:
            self.first_firing_at = min(self._fired_at(s.alert, now) for s in new)
        return new + gone

    def _fired_at(self, alert: PrometheusAlert, now: float) -> float:
        """When Prometheus fired it: pending since ``active_at``, firing ``for`` later (to
        within one evaluation); else when it was seen, which is at most a poll late."""
        rule = self._rule(alert.name)
        if alert.active_at is None or rule is None:
            return now
        return min(now, alert.active_at + rule.duration_s)

    def render(self, sighting: Sighting) -> list[str]:
        """The lines shown for a sighting: a firing alert in full, a resolution in one line."""
        a = sighting.alert
        clock = time.strftime("%H:%M:%S", time.localtime(sighting.at))
        if sighting.state == "resolved":
            return [f"[{clock}] RESOLVED  {a.name}  {label_text(a)}"]
        out = [f"[{clock}] FIRING    {a.name}  {label_text(a)}"]
        out.extend(
            f"    {name:<12} {' '.join(a.annotations[name].split())}"
            for name in ("summary", "description", "runbook_url")
            if a.annotations.get(name)
        )
        rule = self._rule(a.name)
        link = self.links.graph(rule.query) if rule else None
        if link:
            out.append(f"    {'query':<12} {link}")
        return out

    def _rule(self, name: str) -> Rule | None:
        try:
            return self.rules().get(name)
        except Exception:  # noqa: BLE001 - a missing query link must not end the drill
            return None
