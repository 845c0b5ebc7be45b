"""The ``alert`` expectation: an alert fires within its bound after the fault, or stays silent.

Decided from the run's evidence alone (:mod:`gameday.evidence.alerts`):

- *fires_within* counts only episodes that became active after the first fault was applied
  and before the last was reverted. Detection time is Prometheus's exact FiredAt (carried by
  Alertmanager's notifications) or else the first ``firing`` sample. With ``receiver``, a
  notification must also have reached that receiver within the bound. A bound the rule's own
  timing cannot meet (its ``for`` over the evaluation interval, plus ``group_wait`` where a
  receiver is checked) fails with that arithmetic, whatever was observed.
- *silent* fails when an episode that began under the fault (or after it) reached firing.
  It passes only with evidence that it *could* have fired: the rule was evaluated healthily
  through the window and every series its expression reads existed. Otherwise it is
  undecided, never passed.
- An episode already active when the fault was applied is neither a detection nor a
  silence: the check is undecided, with the episode as evidence.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from gameday.evidence.alerts import Episode, Timing, detection_timing, episodes
from gameday.evidence.model import AlertsEvidence, RuleEvidence, RunEvidence, labels_match
from gameday.scenario.durations import human_duration
from gameday.scenario.expectations import AlertExpectation, Expectation
from gameday.verifiers.base import Check, PhaseName, Verifier

KIND = "alert"
WEBHOOK, ALERTMANAGER_API = "webhook", "alertmanager_api"
_VIA = {WEBHOOK: "webhook to gameday", ALERTMANAGER_API: "seen active in Alertmanager's API"}
MIN_INPUT_SHARE = 0.9  # a silent rule's inputs must exist at this share of the window's steps
# Prometheus stamps a scrape with the time it *started*, and an evaluation with its scheduled
# time: what a fault causes can carry a timestamp up to a scrape's duration before the fault
# (a scrape in flight when a process is killed fails, stamped at its start: seen at -0.4 s on
# the platform example's 1 s scrapes). An episode becoming active this close before the fault
# is the fault's, not an earlier one; 1 s is the scrape timeout of both stacks gameday ships.
CAUSE_SKEW_S = 1.0


@dataclass(frozen=True)
class Notified:
    """One firing notification of an alert: when it arrived, where, and Prometheus's FiredAt."""

    received_at: float
    receiver: str
    fired_at: float | None


def notifications(
    evidence: RunEvidence, alert: str, labels: dict[str, str], since: float
) -> tuple[list[Notified], str]:
    """Firing notifications of ``alert`` since ``since`` and where they were seen: the webhooks
    gameday's sink received, else Alertmanager's API as polled during the run."""
    hooks = [
        Notified(hook.received_at, hook.receiver, a.starts_at)
        for hook in evidence.notifications.webhooks
        for a in hook.alerts[:]
        if a.alertname == alert and a.status == "firing" and labels_match(a.labels, labels)
        if (a.starts_at or hook.received_at) >= since
    ]
    if hooks:
        return sorted(hooks, key=lambda n: n.received_at), WEBHOOK
    seen = [
        Notified(s.first_seen, receiver, s.starts_at)
        for s in evidence.notifications.sightings
        if s.alertname == alert and labels_match(s.labels, labels)
        if (s.starts_at or s.first_seen) >= since
        for receiver in s.receivers
    ]
    return sorted(seen, key=lambda n: n.received_at), ALERTMANAGER_API


def timing_of(exp: AlertExpectation, evidence: RunEvidence) -> Timing | None:
    """The rule's detection timing as the scenario checks it (``None`` without the rule)."""
    alerts = evidence.alerts
    rule = alerts.rules.get(exp.alert) if alerts else None
    if alerts is None or rule is None:
        return None
    wait = evidence.notifications.group_wait_s.get(exp.receiver) if exp.receiver else None
    if exp.receiver and wait is None:
        wait = 0.0  # no configuration to read: Alertmanager's own least wait
    interval = rule.group_interval_s or alerts.evaluation_interval_s  # the rule's own group
    return detection_timing(rule, alerts.scrape_interval_s, interval, wait)


def _rel(t: float | None, origin: float) -> str:
    return "never" if t is None else f"{t - origin:+.1f} s"


def _label_text(labels: dict[str, str] | object) -> str:
    if not isinstance(labels, dict):
        return ""
    shown = {k: v for k, v in labels.items() if k not in ("alertname", "severity", "team")}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "no labels"


def instance(e: Episode, origin: float) -> dict[str, object]:
    """An episode as check evidence, times relative to ``origin``."""

    def rel(v: float | None) -> float | None:
        return None if v is None else round(v - origin, 2)

    return {
        "labels": dict(e.labels),
        "active_s": rel(e.active_at),
        "pending_s": rel(e.pending_at),
        "firing_s": rel(e.firing_at),
        "resolved_s": rel(e.resolved_at),
    }


class AlertVerifier(Verifier[AlertExpectation]):
    """Decides ``alert`` expectations from ``ALERTS``, rule health and notifications."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = AlertExpectation
    summary: ClassVar[str] = "an alert fires within its bound after the fault, or stays silent"

    def check(self, expectation: AlertExpectation, evidence: RunEvidence) -> Check:
        missing = _missing_evidence(expectation, evidence)
        if missing is not None:
            return missing
        alerts, origin = evidence.alerts, evidence.timeline.fault_start
        assert alerts is not None
        assert origin is not None
        if expectation.silent:
            rule = alerts.rules[expectation.alert]
            return _check_silent(expectation, evidence, alerts, rule, origin)
        return _check_fires(expectation, evidence, alerts, origin)

    def done(self, expectation: AlertExpectation, evidence: RunEvidence, phase: PhaseName) -> bool:
        """Fault phase: decided once the alert fired (or its bound has passed, or cannot be
        met); silent alerts are watched for the scenario's ``silent_window`` of fault."""
        if phase != "fault":
            return True
        origin = evidence.timeline.fault_start
        if origin is None or evidence.alerts is None:
            return False
        elapsed = evidence.captured_at - origin
        if expectation.silent:
            return elapsed >= evidence.timeline.silent_window_s
        bound = expectation.fires_within or 0.0
        timing = timing_of(expectation, evidence)
        if elapsed > bound or (timing is not None and timing.floor_s > bound):
            return True
        return bool(_fresh(expectation, evidence.alerts, origin, evidence.captured_at))


def _missing_evidence(exp: AlertExpectation, evidence: RunEvidence) -> Check | None:
    """The check when the evidence cannot decide it (or the rule does not exist), else None."""
    alerts, title = evidence.alerts, exp.title
    if alerts is None:
        return Check.undecided(KIND, title, "no Prometheus evidence was captured")
    if exp.alert not in alerts.rules:
        if not alerts.rules:
            why = "Prometheus's rules could not be read: " + "; ".join(alerts.errors)
            return Check.undecided(KIND, title, why)
        known = ", ".join(sorted(alerts.rules))
        detail = f"Prometheus has no alerting rule {exp.alert}; known: {known}"
        return Check(KIND, title, False, detail)
    if evidence.timeline.fault_start is None:
        return Check.undecided(KIND, title, "no fault was applied, so nothing can be timed")
    unread = [e for e in alerts.errors if e.startswith("ALERTS:")]
    if unread:
        return Check.undecided(KIND, title, f"Prometheus's ALERTS could not be read: {unread[0]}")
    return None


def _fresh(
    exp: AlertExpectation, alerts: AlertsEvidence, origin: float, until: float
) -> list[Episode]:
    """Episodes that became active under the fault and reached firing."""
    return [
        e
        for e in episodes(alerts, exp.alert, exp.labels)
        if origin - CAUSE_SKEW_S <= e.active_at <= until and e.firing_at is not None
    ]


def _prior(exp: AlertExpectation, alerts: AlertsEvidence, origin: float) -> list[Episode]:
    """Episodes already active when the fault was applied."""
    start = origin - CAUSE_SKEW_S
    return [e for e in episodes(alerts, exp.alert, exp.labels) if e.active(start)]


def _check_fires(
    exp: AlertExpectation, evidence: RunEvidence, alerts: AlertsEvidence, origin: float
) -> Check:
    assert exp.fires_within is not None
    timing = timing_of(exp, evidence)
    assert timing is not None
    until = evidence.timeline.fault_end or alerts.end
    fresh = _fresh(exp, alerts, origin, until)
    prior = _prior(exp, alerts, origin)
    bound = exp.fires_within
    if timing.floor_s > bound:
        detail = (
            f"{exp.alert} cannot fire within {human_duration(bound)} of any fault: "
            f"{timing.words} > {human_duration(bound)}"
        )
        evidence_out = {"floor_s": timing.floor_s, "ceiling_s": timing.ceiling_s}
        return Check(KIND, exp.title, False, detail, evidence_out, extra=_predicted(timing))
    if fresh:
        return _fired(exp, evidence, fresh, prior, origin, timing)
    if prior:
        first = prior[0]
        state = "firing" if first.firing(origin) else "pending"
        detail = (
            f"{exp.alert} was already {state} when the fault was applied (active since "
            f"{_rel(first.active_at, origin)}); an episode that began before the fault is "
            "neither a detection nor a silence"
        )
        return Check.undecided(
            KIND, exp.title, detail, {"episodes": [instance(e, origin) for e in prior]}
        )
    return _not_fired(exp, evidence, alerts, origin, until, timing)


def _predicted(timing: Timing) -> dict[str, object]:
    return {"predicted_min_s": timing.floor_s, "predicted_max_s": timing.ceiling_s}


def _fired(
    exp: AlertExpectation,
    evidence: RunEvidence,
    fresh: list[Episode],
    prior: list[Episode],
    origin: float,
    timing: Timing,
) -> Check:
    assert exp.fires_within is not None
    first = min(fresh, key=lambda e: e.firing_at or 0.0)
    assert first.firing_at is not None
    notes, via = notifications(evidence, exp.alert, dict(exp.labels), origin)
    step = evidence.alerts.step if evidence.alerts else 1.0
    exact = [
        n.fired_at
        for n in notes
        if n.fired_at is not None and first.active_at - step <= n.fired_at <= first.firing_at
    ]
    fired = min(exact) if exact else first.firing_at
    detected = max(0.0, fired - origin)
    bound = exp.fires_within
    passed = detected <= bound
    notified = notes[0] if notes else None
    detail = _fired_detail(exp, first, origin, fired, notified, passed, via)
    if passed and exp.receiver:
        passed, detail = _check_receiver(exp, notes, origin, detail)
    if prior:
        detail += (
            f" (an earlier episode was active at the fault: {_rel(prior[0].active_at, origin)})"
        )
    out = {
        "fault_applied_at": origin,
        "active_at": first.active_at,
        "pending_at": first.pending_at,
        "firing_at": fired,
        "notified_at": notified.received_at if notified else None,
        "resolved_at": first.resolved_at,
        "receiver": notified.receiver if notified else None,
        "receivers": sorted({n.receiver for n in notes}),
        "notified_via": via if notified else None,
        "labels": dict(first.labels),
        "floor_s": timing.floor_s,
        "stages_s": instance(first, origin),
    }
    extra = {"detected_after_s": round(detected, 2), **_predicted(timing)}
    return Check(KIND, exp.title, passed, detail, out, extra=extra)


def _fired_detail(
    exp: AlertExpectation,
    first: Episode,
    origin: float,
    fired: float,
    notified: Notified | None,
    passed: bool,
    via: str,
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


def _check_receiver(
    exp: AlertExpectation, notes: Sequence[Notified], origin: float, detail: str
) -> tuple[bool, str]:
    assert exp.fires_within is not None
    receivers = sorted({n.receiver for n in notes})
    mine = [n for n in notes if n.receiver == exp.receiver]
    if not mine:
        if not receivers:
            return (
                False,
                f"{detail}; but no notification reached a receiver (expected {exp.receiver})",
            )
        return False, f"{detail}; but routed to {', '.join(receivers)}, not {exp.receiver}"
    after = mine[0].received_at - origin
    if after > exp.fires_within:
        return False, f"{detail}; {exp.receiver} was notified too late ({after:.1f} s)"
    return True, f"{detail}; routed to {exp.receiver}"


def _not_fired(
    exp: AlertExpectation,
    evidence: RunEvidence,
    alerts: AlertsEvidence,
    origin: float,
    until: float,
    timing: Timing,
) -> Check:
    bound = human_duration(exp.fires_within or 0.0)
    active = [e for e in episodes(alerts, exp.alert) if origin <= e.active_at <= until]
    others = [e for e in active if e.firing_at and not labels_match(e.labels, exp.labels)]
    if others:
        reason = (
            f"it fired only with other labels ({'; '.join(_label_text(e.labels) for e in others)})"
        )
    elif [e for e in active if labels_match(e.labels, exp.labels)]:
        reason = f"it went pending at {_rel(active[0].pending_at, origin)} but never fired"
    else:
        reason = "it never went pending"
    health = _unhealthy(evidence, alerts, exp.alert, origin, until)
    if health:
        reason += f"; the rule was not evaluated healthily: {health}"
    detail = f"{exp.alert} did not fire within {bound} of the fault: {reason}"
    out = {"fault_applied_at": origin, "instances": [instance(e, origin) for e in active]}
    return Check(KIND, exp.title, False, detail, out, extra=_predicted(timing))


def _check_silent(
    exp: AlertExpectation,
    evidence: RunEvidence,
    alerts: AlertsEvidence,
    rule: RuleEvidence,
    origin: float,
) -> Check:
    end = evidence.timeline.observed_until
    found = episodes(alerts, exp.alert, exp.labels)
    fresh = [e for e in found if e.active_at >= origin - CAUSE_SKEW_S]
    fired = [e for e in fresh if e.firing_at is not None]
    watched = round(end - origin, 1)
    out: dict[str, object] = {
        "instances": [instance(e, origin) for e in found],
        "watched_s": watched,
    }
    if fired:
        first = min(fired, key=lambda e: e.firing_at or 0.0)
        detail = (
            f"{exp.alert} fired at {_rel(first.firing_at, origin)} after the fault "
            f"({_label_text(first.labels)}); it must stay silent"
        )
        return Check(KIND, exp.title, False, detail, out)
    prior = [e for e in found if e.active(origin - CAUSE_SKEW_S)]
    if prior:
        state = "firing" if prior[0].firing(origin) else "pending"
        detail = (
            f"{exp.alert} was already {state} when the fault was applied: an episode that began "
            "before the fault is neither a detection nor a silence"
        )
        return Check.undecided(KIND, exp.title, detail, out)
    problem = _unhealthy(evidence, alerts, exp.alert, origin, end) or _no_inputs(
        alerts, rule, origin, end, out
    )
    if problem:
        detail = f"{exp.alert} did not fire, but that proves nothing: {problem}"
        return Check.undecided(KIND, exp.title, detail, out)
    blips = f"; pending {len(fresh)}x without firing" if fresh else ""
    evaluations = _evaluations(alerts, exp.alert, origin, end)
    detail = (
        f"{exp.alert} stayed silent for {watched} s from the fault on ({evaluations} healthy "
        f"evaluations seen, inputs present){blips}"
    )
    return Check(KIND, exp.title, True, detail, out)


def _window_samples(alerts: AlertsEvidence, alert: str, start: float, end: float) -> list[float]:
    return [h.t for h in alerts.health.get(alert, ()) if start <= h.t <= end]


def _evaluations(alerts: AlertsEvidence, alert: str, start: float, end: float) -> int:
    return len(
        {
            h.last_evaluation
            for h in alerts.health.get(alert, ())
            if start <= h.t <= end and h.last_evaluation is not None
        }
    )


def _unhealthy(
    evidence: RunEvidence, alerts: AlertsEvidence, alert: str, start: float, end: float
) -> str | None:
    """Why the rule's evaluation through ``[start, end]`` is not evidence (``None``: it is)."""
    samples = [h for h in alerts.health.get(alert, ()) if start <= h.t <= end]
    if not samples:
        return "no record of the rule's health during the window"
    bad = [h for h in samples if h.health != "ok"]
    if bad:
        error = next((h.last_error for h in bad if h.last_error), "")
        return f"health {bad[0].health!r} at {bad[0].t - start:+.1f} s" + (
            f" ({error})" if error else ""
        )
    rule = alerts.rules[alert]
    interval = rule.group_interval_s or alerts.evaluation_interval_s
    stale = 2 * interval + alerts.health_poll_s
    late = [h for h in samples if h.last_evaluation is None or h.t - h.last_evaluation > stale]
    if late:
        return f"not evaluated for over {stale:g} s at {late[0].t - start:+.1f} s"
    gap_limit = 3 * alerts.health_poll_s + 2 * interval
    times = [start, *(h.t for h in samples), end]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    if max(gaps) > gap_limit:
        return f"rule health unobserved for {max(gaps):.1f} s (limit {gap_limit:g} s)"
    return None


def _no_inputs(
    alerts: AlertsEvidence,
    rule: RuleEvidence,
    start: float,
    end: float,
    out: dict[str, object],
) -> str | None:
    """Why the rule's input series are not evidence (``None``: every one existed)."""
    inputs = alerts.inputs.get(rule.name)
    if inputs is None:
        return "its input series were not captured"
    shares: dict[str, float] = {}
    for one in inputs:
        if one.error:
            return f"input {one.selector} could not be read ({one.error})"
        steps = [t for t, _ in one.points if start <= t <= end]
        expected = max(1, round((end - start) / alerts.step))
        present = sum(1 for t, n in one.points if start <= t <= end and n > 0)
        shares[one.selector] = round(present / max(expected, len(steps)), 3)
    out["input_presence"] = shares
    missing = {s: v for s, v in shares.items() if v < MIN_INPUT_SHARE}
    if missing:
        worst = min(missing, key=lambda s: missing[s])
        return (
            f"its input {worst} existed at only {missing[worst]:.0%} of the window's evaluations "
            f"(need {MIN_INPUT_SHARE:.0%})"
        )
    return None


VERIFIERS = (AlertVerifier,)
