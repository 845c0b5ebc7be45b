"""Collectors: the only part of a run that talks to Prometheus, Alertmanager, the trace
backend and the stack's books. They gather evidence while the run goes on and hand the
runner typed parts of a :class:`~gameday.evidence.model.RunEvidence`.

:class:`EvidenceSource` is the runner's seam (tests give it a recorded or scripted source);
:class:`Collectors` is the real one, built from an environment. A collector never raises for
an evidence source that fails mid-run: what could not be read is named in the part's
``errors`` / ``error``, and verifiers treat missing evidence as "cannot tell", never as a
pass. Only :meth:`EvidenceSource.active_alerts`, which the steady state depends on, raises
``StackUnavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import requests

from gameday.alerting.matchers import RoutingConfigError
from gameday.alerting.routing import RoutingTree
from gameday.errors import StackUnavailable
from gameday.evidence.alertwatch import AlertmanagerLog
from gameday.evidence.impact import ImpactEvidence, MeasureEvidence, MeasureSeries
from gameday.evidence.model import (
    ActiveSince,
    AlertSeries,
    AlertsEvidence,
    AlertStatusEvidence,
    BatchBook,
    DataEvidence,
    InputSeries,
    ModelEvidence,
    NotificationsEvidence,
    NotifiedAlertEvidence,
    RuleEvidence,
    RuleHealth,
    SightingEvidence,
    TracesEvidence,
    VersionSeen,
    WebhookEvidence,
)
from gameday.evidence.promql import PromQLError, input_selectors
from gameday.evidence.traces import Wanted, to_evidence
from gameday.scenario.environment import Environment
from gameday.telemetry.alertmanager import AlertmanagerClient, SinkClient
from gameday.telemetry.notifications import Notification
from gameday.telemetry.prometheus import PrometheusAlert, PrometheusClient, Rule
from gameday.telemetry.traces import get_traces, trace_client

HEALTH_POLL_S = 2.0
POLL_TIMEOUT_S = 1.5  # polls run inside the runner's loop: a slow answer is dropped
QUERY_TIMEOUT_S = 15.0
LOOKBACK_S = 30.0  # ALERTS are read from this long before the run: what was already active
MAX_POINTS = 10_000
BOOKS_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CapturePlan:
    """What a run will need: the alerts the scenario and environment name, and when it began."""

    named_alerts: tuple[str, ...]
    started_at: float


class EvidenceSource(Protocol):
    """Everything live a run reads, behind one seam."""

    def begin(self, plan: CapturePlan) -> None:
        """Once, before the run: read rules, intervals and routing that do not change."""

    def active_alerts(self) -> list[PrometheusAlert]:
        """Prometheus's pending and firing alerts now (``StackUnavailable`` if unreachable)."""

    def tick(self) -> None:
        """Every turn of the runner's loop: the polls that are due (bounded, never raising)."""

    def alerts(self, end: float, *, final: bool) -> AlertsEvidence | None:
        """``ALERTS`` and rule health from the run's start until ``end``; ``final`` also reads
        the named rules' input series. ``None`` where the environment has no Prometheus."""

    def notifications(self, since: float, *, final: bool) -> NotificationsEvidence:
        """Alertmanager's notifications since ``since`` (webhooks read only when ``final``)."""

    def traces(self, wanted: Wanted) -> TracesEvidence:
        """The wanted traces from the trace backend."""

    def data(self, bad_batches: Sequence[str]) -> DataEvidence:
        """The pipeline's books for the batches the data faults changed."""

    def model(self, start: float, end: float) -> ModelEvidence:
        """The served model version over ``[start, end]``."""

    def impact(self, start: float, end: float) -> ImpactEvidence:
        """The environment's impact measures over ``[start, end]``."""


@dataclass
class _Prometheus:
    """What stays fixed through a run, read once by :meth:`Collectors.begin`."""

    scrape_s: float = 0.0
    eval_s: float = 0.0
    rules: dict[str, RuleEvidence] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class Collectors:
    """The evidence source of a real environment (its Prometheus, Alertmanager, sink, traces)."""

    def __init__(self, environment: Environment, *, health_poll_s: float = HEALTH_POLL_S):
        self.environment = environment
        self.health_poll_s = health_poll_s
        self.plan = CapturePlan((), time.time())
        self._prom = _Prometheus()
        self._health: dict[str, list[RuleHealth]] = {}
        self._next_health = float("-inf")
        self._am_log = AlertmanagerLog()
        self._group_wait: dict[str, float] = {}
        self._notes: list[str] = []
        url = environment.prometheus
        self._poll = PrometheusClient(url, timeout=POLL_TIMEOUT_S) if url else None
        self._query = PrometheusClient(url, timeout=QUERY_TIMEOUT_S) if url else None

    # --- before the run ---------------------------------------------------------------------

    def begin(self, plan: CapturePlan) -> None:
        """Read intervals, alerting rules and Alertmanager's routing (their ``group_wait``)."""
        self.plan = plan
        self._health = {name: [] for name in plan.named_alerts}
        if self._query is not None:
            self._read_prometheus(self._query)
        if self.environment.alertmanager:
            self._read_routing(self.environment.alertmanager)

    def _read_prometheus(self, prom: PrometheusClient) -> None:
        try:
            self._prom.scrape_s = prom.scrape_interval()
            self._prom.eval_s = prom.evaluation_interval()
            rules = prom.rules("alert")
        except StackUnavailable as exc:
            self._prom.errors.append(f"Prometheus configuration and rules: {exc}")
            return
        self._prom.rules = {r.name: rule_evidence(r) for r in rules if r.type == "alerting"}

    def _read_routing(self, url: str) -> None:
        try:
            status = AlertmanagerClient(url, timeout=QUERY_TIMEOUT_S).status()
            original = str((status.get("config") or {}).get("original") or "")
            self._group_wait = RoutingTree.from_yaml(original, url).group_waits()
        except (StackUnavailable, RoutingConfigError) as exc:
            self._notes.append(f"Alertmanager routing: {exc}")

    # --- while it runs ----------------------------------------------------------------------

    def active_alerts(self) -> list[PrometheusAlert]:
        """Prometheus's pending and firing alerts now."""
        if self._poll is None:
            return []
        return self._poll.alerts()

    def tick(self) -> None:
        """Poll Alertmanager (once a second) and the named rules' health (every few seconds)."""
        if self.environment.alertmanager:
            self._am_log.poll_url(self.environment.alertmanager)
        now = time.monotonic()
        if self._poll is None or now < self._next_health or not self._health:
            return
        self._next_health = now + self.health_poll_s
        try:
            rules = self._poll.rules("alert")
        except StackUnavailable:
            return  # a gap in the health record: silent checks will say so
        seen_at = time.time()
        for rule in rules:
            if rule.name in self._health:
                sample = RuleHealth(
                    t=seen_at,
                    health=rule.health or "unknown",
                    last_error=rule.last_error,
                    last_evaluation=rule.last_evaluation,
                )
                self._health[rule.name].append(sample)

    # --- evidence parts ---------------------------------------------------------------------

    def alerts(self, end: float, *, final: bool) -> AlertsEvidence | None:
        """``ALERTS`` (and ``ALERTS_FOR_STATE``) from the run's start until ``end``."""
        if self._query is None:
            return None
        prom, errors = self._query, list(self._prom.errors)
        step = self._prom.eval_s or 1.0
        start = self.plan.started_at - LOOKBACK_S
        step = max(step, (end - start) / MAX_POINTS)
        start = end - ((end - start) // step + 1) * step  # the grid ends exactly at ``end``
        series, active = _alert_series(prom, start, end, step, errors)
        inputs = self._inputs(prom, start, end, step) if final else {}
        return AlertsEvidence(
            scrape_interval_s=self._prom.scrape_s or step,
            evaluation_interval_s=self._prom.eval_s or step,
            start=start,
            end=end,
            step=step,
            series=series,
            active_since=active,
            rules=dict(self._prom.rules),
            health={k: tuple(v) for k, v in self._health.items()},
            inputs=inputs,
            health_poll_s=self.health_poll_s,
            errors=tuple(errors),
        )

    def _inputs(
        self, prom: PrometheusClient, start: float, end: float, step: float
    ) -> dict[str, tuple[InputSeries, ...]]:
        out: dict[str, tuple[InputSeries, ...]] = {}
        for name in self.plan.named_alerts:
            rule = self._prom.rules.get(name)
            if rule is None:
                continue
            try:
                selectors = input_selectors(rule.expr)
            except PromQLError as exc:
                out[name] = (InputSeries(selector=rule.expr, error=str(exc)),)
                continue
            out[name] = tuple(_presence(prom, s, start, end, step) for s in selectors)
        return out

    def notifications(self, since: float, *, final: bool) -> NotificationsEvidence:
        """Webhook deliveries to gameday's sink (when ``final``), Alertmanager's view as polled,
        and the least ``group_wait`` before each receiver is paged."""
        errors = list(self._notes)
        hooks: tuple[WebhookEvidence, ...] = ()
        sink_read = False
        if final and self.environment.sink:
            token = self.environment.sink_token
            sink = SinkClient(
                self.environment.sink,
                token.get_secret_value() if token else None,
                timeout=QUERY_TIMEOUT_S,
            )
            try:
                hooks = tuple(_webhook(n) for n in sink.notifications(since=since))
                sink_read = True
            except StackUnavailable as exc:
                errors.append(f"webhook sink: {exc}")
        if self._am_log.error:
            errors.append(f"Alertmanager API: {self._am_log.error}")
        sightings = tuple(
            SightingEvidence(
                labels=dict(s.labels),
                receivers=s.receivers,
                starts_at=s.starts_at,
                first_seen=s.first_seen,
                fingerprint=s.fingerprint,
            )
            for s in sorted(self._am_log.sightings.values(), key=lambda s: s.first_seen)
            if s.first_seen >= since or (s.starts_at or 0.0) >= since
        )
        return NotificationsEvidence(
            webhooks=hooks,
            sightings=sightings,
            statuses=_statuses(self._am_log, since),
            sink_read=sink_read,
            api_polls=self._am_log.polls,
            group_wait_s=dict(self._group_wait),
            errors=tuple(errors),
        )

    def traces(self, wanted: Wanted) -> TracesEvidence:
        """Fetch the wanted traces (missing ones are kept as ``None``)."""
        env = self.environment
        base = TracesEvidence(
            fault_ids=wanted.fault,
            baseline_ids=wanted.baseline,
            candidates=wanted.candidates,
            baseline_p95_ms=wanted.baseline_p95_ms,
        )
        if not env.traces:
            why = "the environment names no trace backend (traces:)"
            return base.model_copy(update={"error": why})
        token = env.sink_token_for(env.traces)
        client = trace_client(env.traces, env.traces_api, timeout=QUERY_TIMEOUT_S, token=token)
        try:
            found = get_traces(client, wanted.ids)
        except StackUnavailable as exc:
            return base.model_copy(update={"error": f"trace backend: {exc}"})
        traces = {
            i: to_evidence(t) if t is not None and t.spans else None for i, t in found.items()
        }
        return base.model_copy(update={"fetched": True, "traces": traces})

    def data(self, bad_batches: Sequence[str]) -> DataEvidence:
        """The feature store's rows per bad batch and the pipeline's quarantine reasons."""
        env = self.environment
        if not env.feature_store or not env.pipeline:
            return DataEvidence(
                error="the environment has no feature_store/pipeline endpoints to read the books"
            )
        try:
            stored = _get(f"{env.feature_store}/internal/batches", {"ids": ",".join(bad_batches)})
            quarantine = _get(f"{env.pipeline}/internal/quarantine")
        except (requests.RequestException, ValueError, KeyError) as exc:
            return DataEvidence(error=f"pipeline books: {exc}")
        books = {str(b): _book(v) for b, v in _items(stored.get("batches"))}
        wanted = set(bad_batches)
        reasons = {
            str(q.get("batch_id")): tuple(str(r) for r in _list(q.get("reasons")))
            for q in _list(quarantine.get("batches"))
            if isinstance(q, dict) and str(q.get("batch_id")) in wanted
        }
        return DataEvidence(collected=True, stored=books, quarantined=reasons)

    def model(self, start: float, end: float) -> ModelEvidence:
        """Every ``model_info{version}`` seen at 1 over the window."""
        if self._query is None:
            return ModelEvidence(error="the environment names no prometheus URL")
        step = max(self._prom.scrape_s or 1.0, (end - start) / MAX_POINTS)
        try:
            series = self._query.query_range("model_info == 1", start, end, step)
        except StackUnavailable as exc:
            return ModelEvidence(error=f"model_info: {exc}")
        seen = [
            VersionSeen(
                version=s.labels.get("version", "?"),
                first_seen=s.points[0][0],
                last_seen=s.points[-1][0],
            )
            for s in series
            if s.points
        ]
        samples = sum(len(s.points) for s in series)
        versions = tuple(sorted(seen, key=lambda v: v.first_seen))
        return ModelEvidence(collected=True, versions=versions, samples=samples)

    def impact(self, start: float, end: float) -> ImpactEvidence:
        """Every impact query of the environment over ``[start, end]`` (a query that fails
        is kept with its error, never as an empty measure)."""
        wanted = self.environment.impact
        if not wanted:
            return ImpactEvidence(error="the environment names no impact measures")
        if self._query is None:
            return ImpactEvidence(error="the environment names no prometheus URL")
        step = max(self._prom.scrape_s or 1.0, (end - start) / MAX_POINTS)
        measures = {}
        for name, spec in wanted.items():
            try:
                found = self._query.query_range(spec.query, start, end, step)
            except StackUnavailable as exc:
                measures[name] = MeasureEvidence(
                    query=spec.query, harm=spec.harm, unit=spec.unit, error=str(exc)
                )
                continue
            series = tuple(MeasureSeries(labels=dict(s.labels), points=s.points) for s in found)
            measures[name] = MeasureEvidence(
                query=spec.query, harm=spec.harm, unit=spec.unit, series=series
            )
        return ImpactEvidence(collected=True, step_s=step, measures=measures)


def rule_evidence(rule: Rule) -> RuleEvidence:
    """An alerting rule from Prometheus's API as evidence."""
    return RuleEvidence(
        name=rule.name,
        group=rule.group,
        file=rule.file,
        expr=rule.query,
        for_s=rule.duration_s,
        labels=dict(rule.labels),
        annotations=dict(rule.annotations),
        group_interval_s=rule.group_interval_s,
    )


def _alert_series(
    prom: PrometheusClient, start: float, end: float, step: float, errors: list[str]
) -> tuple[tuple[AlertSeries, ...], tuple[ActiveSince, ...]]:
    try:
        raw = prom.query_range("ALERTS", start, end, step)
    except StackUnavailable as exc:
        errors.append(f"ALERTS: {exc}")
        return (), ()
    by_key: dict[tuple[tuple[str, str], ...], list[tuple[float, str]]] = {}
    for s in raw:
        labels = {k: v for k, v in s.labels.items() if k not in ("alertstate", "__name__")}
        state = s.labels.get("alertstate", "")
        if state in ("pending", "firing"):
            by_key.setdefault(tuple(sorted(labels.items())), []).extend(
                (t, state) for t, _ in s.points
            )
    series = tuple(
        AlertSeries.model_validate({"labels": dict(k), "points": sorted(v)})
        for k, v in sorted(by_key.items())
    )
    try:
        held = prom.query_range("ALERTS_FOR_STATE", start, end, step)
    except StackUnavailable as exc:
        errors.append(f"ALERTS_FOR_STATE: {exc}")
        held = []
    active = tuple(
        ActiveSince(
            labels={k: v for k, v in s.labels.items() if k != "__name__"},
            points=tuple(s.points),
        )
        for s in held
    )
    return series, active


def _presence(
    prom: PrometheusClient, selector: str, start: float, end: float, step: float
) -> InputSeries:
    try:
        found = prom.query_range(f"count({selector})", start, end, step)
    except StackUnavailable as exc:
        return InputSeries(selector=selector, error=str(exc))
    points = tuple(p for s in found for p in s.points)
    return InputSeries(selector=selector, points=points)


def _statuses(log: AlertmanagerLog, since: float) -> tuple[AlertStatusEvidence, ...]:
    """The alert statuses the poll kept that were still seen at or after ``since``."""
    return tuple(
        AlertStatusEvidence(
            labels=dict(s.labels),
            fingerprint=s.fingerprint,
            starts_at=s.starts_at,
            state=s.state,
            inhibited_by=s.inhibited_by,
            inhibited_by_names=s.inhibited_by_names,
            silenced_by=s.silenced_by,
            receivers=s.receivers,
            first_seen=s.first_seen,
            last_seen=s.last_seen,
        )
        for s in sorted(log.statuses.values(), key=lambda s: s.first_seen)
        if s.last_seen >= since
    )


def _webhook(note: Notification) -> WebhookEvidence:
    return WebhookEvidence(
        received_at=note.received_at,
        receiver=note.receiver,
        status=note.status,
        group_key=note.group_key,
        group_labels=dict(note.group_labels),
        alerts=tuple(
            NotifiedAlertEvidence(
                status=a.status,
                labels=dict(a.labels),
                starts_at=a.starts_at,
                ends_at=a.ends_at,
                fingerprint=a.fingerprint,
            )
            for a in note.alerts
        ),
    )


def _items(value: object) -> list[tuple[object, object]]:
    return list(value.items()) if isinstance(value, dict) else []


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _book(value: object) -> BatchBook:
    if not isinstance(value, dict):
        return BatchBook()
    return BatchBook(written=int(value.get("written", 0)), current=int(value.get("current", 0)))


def _get(url: str, params: dict[str, str] | None = None) -> dict[str, object]:
    reply = requests.get(url, params=params, timeout=BOOKS_TIMEOUT_S)
    reply.raise_for_status()
    body = reply.json()
    if not isinstance(body, dict):
        raise ValueError(f"{url} answered {type(body).__name__}, not an object")
    return body
