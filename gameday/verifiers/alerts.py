"""The ``alert`` expectation: an alert fires within its bound after the fault, or stays silent.

Evidence for each stage of the alerting chain (FACTS.md): *pending* comes from Prometheus's
``ALERTS`` series (to within one evaluation), *firing* from Alertmanager's ``startsAt``
(Prometheus's exact FiredAt, carried by the webhook) or else ``ALERTS``, *notified* from the
webhook that reached gameday's sink, with the receiver it was routed to; when none did (the
team's Alertmanager pages only its own receivers), from Alertmanager's API as the runner
polled it during the run: first seen active, and the ``receivers`` it routes to
(:mod:`gameday.evidence.alertwatch`). The check's detail says which. ``fires_within`` is
measured from the first fault's recorded apply time. A ``silent`` alert fails only if it
reached *firing* during the run: a pending blip that never fired is reported, not failed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from gameday.errors import StackUnavailable
from gameday.run.record import RunRecord
from gameday.scenario.durations import human_duration
from gameday.scenario.expectations import AlertExpectation, Expectation
from gameday.verifiers.base import Check, Verifier

KIND = "alert"
WEBHOOK, ALERTMANAGER_API = "webhook", "alertmanager_api"
_VIA = {WEBHOOK: "webhook to gameday", ALERTMANAGER_API: "seen active in Alertmanager's API"}


@dataclass(frozen=True)
class Notified:
    """One firing notification of an alert: when it arrived, where, and Prometheus's FiredAt."""

    received_at: float
    receiver: str
    fired_at: float | None  # Alertmanager's startsAt: exactly when Prometheus fired it


def matches(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether ``labels`` carry every ``wanted`` label with its value."""
    return all(labels.get(k) == v for k, v in wanted.items())


@dataclass(frozen=True)
class Episode:
    """One stretch of an alert instance being active: pending, maybe firing, maybe resolved.

    Times come from ``ALERTS`` samples, one per evaluation: accurate to one evaluation.
    ``resolved_at`` is ``None`` while the episode is still active at the end of the window.
    """

    labels: Mapping[str, str]
    pending_at: float | None
    firing_at: float | None
    resolved_at: float | None
    started_before_run: bool = False


def episodes(run: RunRecord, alert: str, labels: Mapping[str, str] | None = None) -> list[Episode]:
    """Every episode of ``alert`` since the run's steady state (the start of its last baseline)
    whose labels include ``labels``, in time order.

    Read up to now: a run is verified right after it ends, and the evaluation that shows an
    alert resolved may land just after the run's last second. An episode already active when
    the steady state began (a previous run's alert, still resolving) is marked
    ``started_before_run``.
    """
    step = run.observe.evaluation_interval
    end = time.time()
    start = end - math.ceil((end - run.steady_since) / step) * step  # last point exactly at end
    series = run.observe.prometheus.query_range(f'ALERTS{{alertname="{alert}"}}', start, end, step)
    samples: dict[tuple[tuple[str, str], ...], list[tuple[float, str]]] = {}
    for one in series:
        if not matches(one.labels, labels or {}):
            continue
        key = tuple(
            sorted((k, v) for k, v in one.labels.items() if k not in ("alertstate", "__name__"))
        )
        state = one.labels.get("alertstate", "")
        samples.setdefault(key, []).extend((t, state) for t, _ in one.points)
    found = [
        e
        for key, points in samples.items()
        for e in _split(dict(key), sorted(points), step, start, end)
    ]
    return sorted(found, key=lambda e: e.pending_at or e.firing_at or 0.0)


def _split(
    labels: dict[str, str], points: list[tuple[float, str]], step: float, start: float, end: float
) -> list[Episode]:
    groups: list[list[tuple[float, str]]] = []
    for point in points:
        if groups and point[0] - groups[-1][-1][0] <= 1.5 * step:
            groups[-1].append(point)
        else:
            groups.append([point])
    out = []
    for group in groups:
        pending = [t for t, s in group if s == "pending"]
        firing = [t for t, s in group if s == "firing"]
        last = group[-1][0]
        out.append(
            Episode(
                labels,
                pending[0] if pending else (None if firing else group[0][0]),
                firing[0] if firing else None,
                last + step if last + step <= end else None,
                started_before_run=group[0][0] <= start + step,
            )
        )
    return out


def notifications(run: RunRecord, alert: str, labels: Mapping[str, str]) -> list[Notified]:
    """Each firing notification of ``alert`` (with ``labels``) during the run, oldest first."""
    sink = run.observe.sink
    if sink is None:
        return []
    out = []
    for note in sink.notifications(since=run.started_at):
        hits = [
            a
            for a in note.alerts
            if a.alertname == alert and a.status == "firing" and matches(a.labels, labels)
        ]
        if hits:
            out.append(Notified(note.received_at, note.receiver, hits[0].starts_at))
    return out


def chain_floor(run: RunRecord, alert: str) -> float | None:
    """The least time the alerting chain needs for ``alert``: its ``for`` plus one scrape and
    one evaluation (``None`` if Prometheus has no such rule)."""
    rule = run.observe.rules.get(alert)
    if rule is None:
        return None
    return rule.duration_s + run.observe.scrape_interval + run.observe.evaluation_interval


def _rel(t: float | None, origin: float) -> str:
    return "never" if t is None else f"+{t - origin:.1f} s"


class AlertVerifier(Verifier):
    """Decides ``alert`` expectations from Prometheus ``ALERTS`` and the webhook sink."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = AlertExpectation
    summary: ClassVar[str] = "an alert fires within its bound after the fault, or stays silent"

    def check(self, expectation: Expectation, run: RunRecord) -> Check:
        assert isinstance(expectation, AlertExpectation)
        if expectation.alert not in run.observe.rules:
            known = ", ".join(sorted(run.observe.rules)) or "none"
            detail = f"Prometheus has no alerting rule {expectation.alert}; known: {known}"
            return Check(KIND, expectation.title, False, detail)
        if expectation.silent:
            return _check_silent(expectation, run)
        return _check_fires(expectation, run)

    def done(self, expectation: Expectation, run: RunRecord, phase: str) -> bool:
        """Fault phase: decided once the alert fires (or its bound has passed); silent alerts
        are watched for the scenario's ``silent_window`` of fault. Recovery: not needed."""
        assert isinstance(expectation, AlertExpectation)
        start = run.fault_start
        if phase != "fault":
            return True
        if start is None:
            return False
        if expectation.silent:
            return time.time() - start >= run.silent_window()
        assert expectation.fires_within is not None
        if time.time() - start > expectation.fires_within:
            return True
        since = start - run.observe.evaluation_interval
        return any(
            a.name == expectation.alert
            and a.state == "firing"
            and matches(a.labels, expectation.labels)
            and (a.active_at or 0.0) >= since
            for a in run.observe.prometheus.alerts()
        )


def _check_fires(exp: AlertExpectation, run: RunRecord) -> Check:
    origin = run.fault_start
    if origin is None:
        return Check.undecided(KIND, exp.title, "no fault was applied, so nothing can be timed")
    assert exp.fires_within is not None
    since = origin - run.observe.evaluation_interval
    found = [
        e
        for e in episodes(run, exp.alert, exp.labels)
        if e.firing_at is not None and e.firing_at >= since
    ]
    if not found:
        return _not_fired(exp, run, origin)
    first = min(found, key=lambda t: t.firing_at or 0.0)
    notes, via = _notified(run, exp, since)
    notified = notes[0] if notes else None
    # FiredAt from Alertmanager is exact; ALERTS samples are only as fine as the evaluation.
    fired = notified.fired_at if notified and notified.fired_at else first.firing_at
    assert fired is not None
    detected = max(0.0, fired - origin)
    passed = detected <= exp.fires_within
    detail = _fired_detail(exp, first, origin, fired, notified, passed, via)
    if passed and exp.receiver:
        passed, detail = _check_receiver(exp, notes, detail)
    detail += _impossible(exp, run)
    evidence = _evidence(first, origin, fired, notified, notes)
    evidence["notified_via"] = via if notified else None
    extra = {"detected_after_s": round(detected, 2)}
    return Check(KIND, exp.title, passed, detail, evidence, extra=extra)


def _fired_detail(
    exp: AlertExpectation,
    first: Episode,
    origin: float,
    fired: float,
    notified: Notified | None,
    passed: bool,
    via: str = WEBHOOK,
) -> str:
    pending = (
        "no pending stage"
        if first.pending_at is None
        else f"pending {_rel(first.pending_at, origin)}"
    )
    stages = (
        f"{pending}, firing {_rel(fired, origin)}, "
        f"notified {_rel(notified.received_at if notified else None, origin)}"
        + (f" ({_VIA[via]})" if notified else "")
    )
    verb = "fired" if passed else "fired too late:"
    bound = human_duration(exp.fires_within or 0.0)
    return f"{exp.alert} {verb} {fired - origin:.1f} s after the fault (bound {bound}): {stages}"


def _notified(run: RunRecord, exp: AlertExpectation, since: float) -> tuple[list[Notified], str]:
    """The alert's notifications since ``since``, and where they were seen: the webhooks
    gameday's sink received, else Alertmanager's view as polled during the run."""
    try:
        hooks = notifications(run, exp.alert, exp.labels)
    except StackUnavailable:  # no gameday sink at that URL (``traces`` may be a Tempo)
        hooks = []
    hooks = [n for n in hooks if (n.fired_at or n.received_at) >= since]
    if hooks:
        return hooks, WEBHOOK
    seen = [
        Notified(s.first_seen, receiver, s.starts_at)
        for s in run.alertmanager_seen.seen(exp.alert, exp.labels)
        if (s.starts_at or s.first_seen) >= since
        for receiver in s.receivers
    ]
    return seen, ALERTMANAGER_API


def _check_receiver(exp: AlertExpectation, notes: list[Notified], detail: str) -> tuple[bool, str]:
    receivers = sorted({n.receiver for n in notes})
    if exp.receiver in receivers:
        return True, f"{detail}; routed to {exp.receiver}"
    if not receivers:
        return False, f"{detail}; but no notification reached a receiver (expected {exp.receiver})"
    return False, f"{detail}; but routed to {', '.join(receivers)}, not {exp.receiver}"


def _not_fired(exp: AlertExpectation, run: RunRecord, origin: float) -> Check:
    bound = human_duration(exp.fires_within or 0.0)
    since = origin - run.observe.evaluation_interval
    active = [e for e in episodes(run, exp.alert) if (e.pending_at or e.firing_at or 0.0) >= since]
    others = [t for t in active if t.firing_at and not matches(t.labels, exp.labels)]
    if others:
        reason = (
            f"it fired only with other labels ({'; '.join(_label_text(t.labels) for t in others)})"
        )
    elif active:
        reason = f"it went pending at {_rel(active[0].pending_at, origin)} but never fired"
    else:
        reason = "it never went pending"
    detail = f"{exp.alert} did not fire within {bound} of the fault: {reason}"
    evidence = {"fault_applied_at": origin, "instances": [_instance(t, origin) for t in active]}
    return Check(KIND, exp.title, False, detail + _impossible(exp, run), evidence)


def _impossible(exp: AlertExpectation, run: RunRecord) -> str:
    floor = chain_floor(run, exp.alert)
    if floor is None or exp.fires_within is None or floor <= exp.fires_within:
        return ""
    rule = run.observe.rules[exp.alert]
    return (
        f" (the bound cannot be met even in principle: for {rule.duration_s:g} s + scrape "
        f"{run.observe.scrape_interval:g} s + evaluation {run.observe.evaluation_interval:g} s "
        f"= {floor:g} s > {human_duration(exp.fires_within)})"
    )


def _check_silent(exp: AlertExpectation, run: RunRecord) -> Check:
    found = [e for e in episodes(run, exp.alert, exp.labels) if not e.started_before_run]
    fired = [e for e in found if e.firing_at is not None]
    origin = run.fault_start or run.started_at
    watched = round((run.finished_at or time.time()) - run.steady_since, 1)
    evidence = {"instances": [_instance(t, origin) for t in found], "watched_s": watched}
    if fired:
        first = min(fired, key=lambda t: t.firing_at or 0.0)
        detail = (
            f"{exp.alert} fired at {_rel(first.firing_at, origin)} after the fault "
            f"({_label_text(first.labels)}); it must stay silent"
        )
        return Check(KIND, exp.title, False, detail, evidence)
    blips = f"; pending {len(found)}x without firing" if found else ""
    detail = f"{exp.alert} stayed silent for the whole run ({watched} s){blips}"
    return Check(KIND, exp.title, True, detail, evidence)


def _instance(t: Episode, origin: float) -> dict[str, Any]:
    def rel(v: float | None) -> float | None:
        return None if v is None else round(v - origin, 2)

    return {
        "labels": dict(t.labels),
        "pending_s": rel(t.pending_at),
        "firing_s": rel(t.firing_at),
        "resolved_s": rel(t.resolved_at),
    }


def _evidence(
    first: Episode,
    origin: float,
    fired: float,
    notified: Notified | None,
    notes: list[Notified],
) -> dict[str, Any]:
    def rel(v: float | None) -> float | None:
        return None if v is None else round(v - origin, 2)

    return {
        "fault_applied_at": origin,
        "pending_at": first.pending_at,
        "firing_at": fired,
        "notified_at": notified.received_at if notified else None,
        "resolved_at": first.resolved_at,
        "receiver": notified.receiver if notified else None,
        "receivers": sorted({n.receiver for n in notes}),
        "labels": dict(first.labels),
        "stages_s": {
            "pending": rel(first.pending_at),
            "firing": rel(fired),
            "notified": rel(notified.received_at if notified else None),
            "resolved": rel(first.resolved_at),
        },
    }


def _label_text(labels: Mapping[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k not in ("alertname", "severity", "team")}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "no labels"


VERIFIERS = (AlertVerifier,)
