"""Prometheus HTTP API client: queries, alerts, rules, targets, and alert state transitions.

Every call has a timeout; an unreachable server or an API error raises ``StackUnavailable``
naming the URL (a ``PrometheusError`` when Prometheus itself answered with an error).
Times are Unix seconds (floats) throughout.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from gameday.errors import StackUnavailable
from gameday.telemetry._http import DEFAULT_TIMEOUT, HttpClient, decode_json
from gameday.telemetry._time import parse_duration, parse_rfc3339

# Prometheus refuses range queries of more than 11,000 points per series.
_MAX_POINTS = 11_000
_DEFAULT_INTERVAL = 60.0  # Prometheus's default scrape and evaluation interval


class PrometheusError(StackUnavailable):
    """Prometheus answered, with ``status: error`` (bad query, timeout, unavailable)."""


@dataclass(frozen=True)
class Sample:
    """One instant-vector element (or a scalar, with empty labels)."""

    labels: Mapping[str, str]
    value: float
    time: float


@dataclass(frozen=True)
class Series:
    """One range-vector series: ``points`` are ``(time, value)`` in time order."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PrometheusAlert:
    """An active alert as ``/api/v1/alerts`` lists it (``state``: pending or firing)."""

    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: str
    active_at: float | None
    value: float | None


@dataclass(frozen=True)
class Rule:
    """A rule from ``/api/v1/rules``; ``duration_s`` is an alerting rule's ``for``."""

    group: str
    file: str
    name: str
    type: str
    query: str
    duration_s: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    state: str = ""
    health: str = ""
    last_error: str = ""
    alerts: tuple[PrometheusAlert, ...] = ()
    last_evaluation: float | None = None
    group_interval_s: float | None = None


@dataclass(frozen=True)
class Target:
    """An active scrape target; ``health`` is ``up``, ``down`` or ``unknown``."""

    job: str
    scrape_url: str
    health: str
    labels: Mapping[str, str]
    last_error: str
    last_scrape: float | None


@dataclass(frozen=True)
class AlertTransition:
    """When one alert instance (one label set) first went pending and first went firing.

    ``pending_at``/``firing_at`` come from ``ALERTS{alertstate=...}`` sampled every ``step``
    (so they are accurate to one step; use the evaluation interval as step), ``active_at``
    from ``ALERTS_FOR_STATE`` (Prometheus's ActiveAt, in whole seconds). Prometheus writes
    neither series until a rule has restored its ``for`` state, two evaluations after it
    starts; an alert already pending then has no pending sample, so for rules with a ``for``
    ``pending_at`` falls back to ``active_at`` (``pending_sampled`` says which it is).
    ``last_seen_at`` is the last sample in either state; ``resolved_at`` the first step after
    it, if inside the window.
    """

    labels: Mapping[str, str]
    pending_at: float | None
    firing_at: float | None
    active_at: float | None
    last_seen_at: float | None
    resolved_at: float | None
    pending_sampled: bool = True


class PrometheusClient:
    """Client of one Prometheus server's ``/api/v1``."""

    def __init__(
        self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT, token: str | None = None
    ):
        self.http = HttpClient(base_url, timeout=timeout, token=token)

    def _api(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.http.get(path, params, accept=(200, 400, 422, 503))
        body = decode_json(response)
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", body) if isinstance(body, dict) else body
            kind = body.get("errorType", "error") if isinstance(body, dict) else "error"
            raise PrometheusError(f"GET {response.url}: {kind}: {error}")
        return body.get("data")

    def query(self, expr: str, time: float | None = None) -> list[Sample]:
        """Instant query ``expr`` at ``time`` (default: now)."""
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        data = self._api("/api/v1/query", params)
        if data["resultType"] in ("scalar", "string"):
            at, value = data["result"]
            return [Sample({}, float(value), float(at))]
        return [
            Sample(item["metric"], float(item["value"][1]), float(item["value"][0]))
            for item in data["result"]
        ]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Range query ``expr`` over ``[start, end]`` every ``step`` seconds."""
        params = {"query": expr, "start": start, "end": end, "step": step}
        data = self._api("/api/v1/query_range", params)
        return [
            Series(item["metric"], tuple((float(t), float(v)) for t, v in item["values"]))
            for item in data["result"]
        ]

    def alerts(self) -> list[PrometheusAlert]:
        """Active (pending and firing) alerts, ``/api/v1/alerts``."""
        return [_alert(item) for item in self._api("/api/v1/alerts")["alerts"]]

    def rules(self, kind: str | None = None) -> list[Rule]:
        """Every loaded rule, ``/api/v1/rules``, alerting rules with their ``for`` duration;
        ``kind`` ``alert`` or ``record`` asks for one kind only."""
        data = self._api("/api/v1/rules", {"type": kind} if kind else None)
        return [_rule(group, item) for group in data["groups"] for item in group["rules"]]

    def targets(self) -> list[Target]:
        """Active scrape targets, ``/api/v1/targets``."""
        data = self._api("/api/v1/targets", {"state": "active"})
        return [_target(item) for item in data["activeTargets"]]

    def alertmanagers(self) -> list[str]:
        """URLs of the Alertmanagers Prometheus has discovered and sends alerts to."""
        data = self._api("/api/v1/alertmanagers")
        return [item["url"] for item in data.get("activeAlertmanagers") or []]

    def config(self) -> dict[str, Any]:
        """The loaded configuration (``/api/v1/status/config``) parsed from YAML."""
        return yaml.safe_load(self._api("/api/v1/status/config")["yaml"]) or {}

    def flags(self) -> dict[str, str]:
        """Command-line flags the server runs with (``/api/v1/status/flags``)."""
        return dict(self._api("/api/v1/status/flags"))

    def scrape_interval(self) -> float:
        """The global scrape interval, seconds."""
        return _global_interval(self.config(), "scrape_interval")

    def evaluation_interval(self) -> float:
        """The global rule evaluation interval, seconds."""
        return _global_interval(self.config(), "evaluation_interval")

    def ready(self) -> bool:
        """Whether ``/-/ready`` answers 200."""
        try:
            self.http.get("/-/ready")
        except StackUnavailable:
            return False
        return True

    def wait_until_up(self, timeout: float = 30.0, *, poll: float = 0.25) -> list[Target]:
        """Wait up to ``timeout`` seconds until there are active targets and all are ``up``.

        Returns the targets; raises ``StackUnavailable`` listing the unhealthy ones.
        """
        deadline = time.monotonic() + timeout
        last: list[Target] | str = "no answer yet"
        while time.monotonic() < deadline:
            try:
                last = self.targets()
            except StackUnavailable as exc:
                last = str(exc)
            if isinstance(last, list) and last and all(t.health == "up" for t in last):
                return last
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        raise StackUnavailable(
            f"Prometheus {self.http.base_url}: targets not all up after {timeout:g} s: "
            f"{_describe(last)}"
        )

    def alert_transitions(
        self, alertname: str, start: float, end: float, step: float | None = None
    ) -> list[AlertTransition]:
        """First pending and first firing time of each instance of ``alertname`` in the window.

        ``step`` defaults to the evaluation interval (the resolution of alert states).
        Ordered by when each instance first became active.
        """
        step = _bounded_step(start, end, step or self.evaluation_interval())
        # Points fall on start + k·step: align the grid so the last one is `end` itself,
        # otherwise the newest evaluation (up to one step) would be missed.
        start = end - math.ceil((end - start) / step) * step
        holds = any(r.duration_s > 0 for r in self.rules() if r.name == alertname)
        selector = f'{{alertname="{_escape(alertname)}"}}'
        alerts = self.query_range(f"ALERTS{selector}", start, end, step)
        for_state = self.query_range(f"ALERTS_FOR_STATE{selector}", start, end, step)
        active_at = {_key(s.labels): s.points[0][1] for s in for_state if s.points}
        by_key: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}
        for series in alerts:
            states = by_key.setdefault(_key(series.labels), {})
            states.setdefault(series.labels.get("alertstate", ""), []).extend(
                t for t, _ in series.points
            )
        found = [
            _transition(key, states, active_at.get(key), step=step, end=end, holds=holds)
            for key, states in by_key.items()
        ]
        return sorted(found, key=_first_seen)


def _first_seen(transition: AlertTransition) -> float:
    times = (transition.active_at, transition.pending_at, transition.firing_at)
    return min((t for t in times if t is not None), default=float("inf"))


def _transition(
    key: tuple[tuple[str, str], ...],
    states: dict[str, list[float]],
    active_at: float | None,
    *,
    step: float,
    end: float,
    holds: bool,
) -> AlertTransition:
    pending, firing = states.get("pending", []), states.get("firing", [])
    seen = pending + firing
    last = max(seen) if seen else None
    resolved = last + step if last is not None and last + step <= end else None
    # A rule with `for` was pending from ActiveAt on, even if no sample says so.
    inferred = active_at if holds and not pending else None
    return AlertTransition(
        labels=dict(key),
        pending_at=min(pending) if pending else inferred,
        firing_at=min(firing) if firing else None,
        active_at=active_at,
        last_seen_at=last,
        resolved_at=resolved,
        pending_sampled=bool(pending),
    )


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    # ALERTS carries alertstate, ALERTS_FOR_STATE does not; the rest names the instance.
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ("alertstate", "__name__")))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _bounded_step(start: float, end: float, step: float) -> float:
    return max(step, (end - start) / _MAX_POINTS, 0.001)


def _global_interval(config: Mapping[str, Any], key: str) -> float:
    value = (config.get("global") or {}).get(key)
    return parse_duration(value) if value else _DEFAULT_INTERVAL


def _alert(item: Mapping[str, Any]) -> PrometheusAlert:
    labels = item.get("labels") or {}
    value = item.get("value")
    return PrometheusAlert(
        name=labels.get("alertname", ""),
        labels=labels,
        annotations=item.get("annotations") or {},
        state=item.get("state", ""),
        active_at=parse_rfc3339(item.get("activeAt")),
        value=float(value) if value not in (None, "") else None,
    )


def _rule(group: Mapping[str, Any], item: Mapping[str, Any]) -> Rule:
    return Rule(
        group=group.get("name", ""),
        file=group.get("file", ""),
        name=item.get("name", ""),
        type=item.get("type", ""),
        query=item.get("query", ""),
        duration_s=float(item.get("duration") or 0.0),
        labels=item.get("labels") or {},
        annotations=item.get("annotations") or {},
        state=item.get("state", ""),
        health=item.get("health", ""),
        last_error=item.get("lastError", ""),
        alerts=tuple(_alert(a) for a in item.get("alerts") or []),
        last_evaluation=_evaluated_at(item.get("lastEvaluation")),
        group_interval_s=float(group["interval"]) if group.get("interval") else None,
    )


def _evaluated_at(value: Any) -> float | None:
    """``lastEvaluation``: RFC 3339; Go's zero time (never evaluated) is ``None``."""
    at = parse_rfc3339(value) if value else None
    return at if at is not None and at > 0 else None


def _target(item: Mapping[str, Any]) -> Target:
    labels = item.get("labels") or {}
    return Target(
        job=labels.get("job", item.get("scrapePool", "")),
        scrape_url=item.get("scrapeUrl", ""),
        health=item.get("health", ""),
        labels=labels,
        last_error=item.get("lastError", ""),
        last_scrape=parse_rfc3339(item.get("lastScrape")),
    )


def _describe(last: list[Target] | str) -> str:
    if isinstance(last, str):
        return last
    if not last:
        return "no active targets"
    bad = [t for t in last if t.health != "up"]
    return "; ".join(f"{t.scrape_url} {t.health} {t.last_error}".strip() for t in bad)
