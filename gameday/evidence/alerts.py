"""Alert episodes and alert timing, read from a run's :class:`AlertsEvidence` (pure).

An *episode* is one stretch of an alert instance being active: pending, maybe firing, maybe
resolved. Its times come from ``ALERTS`` samples (one per evaluation step, so accurate to one
step); where Prometheus kept ``ALERTS_FOR_STATE`` (rules with a ``for``), the episode's start
is its exact ActiveAt instead.

:func:`detection_floor` is the least time the alerting chain can take for a rule (FACTS.md):
Prometheus fires at the first evaluation at least ``for`` after the one that found the
condition true, so no fault can be detected in less than ``ceil(for / eval) * eval``; a
notification to a new group waits ``group_wait`` more. :func:`detection_ceiling` adds the
worst case of the scrape and evaluation phases.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from gameday.evidence.model import AlertSeries, AlertsEvidence, RuleEvidence, labels_match

GAP_STEPS = 1.5  # samples further apart than this many steps are separate episodes


@dataclass(frozen=True)
class Episode:
    """One stretch of an alert instance being active.

    ``active_at`` is when it became active (exact ActiveAt where known, else the first
    sample); ``pending_at`` the first pending sample (or ActiveAt), ``firing_at`` the first
    firing sample, ``resolved_at`` the first step after the last sample (``None`` while it
    was still active at the end of the window). ``open_at_start`` marks an episode already
    active when the window began: when it really started is unknown.
    """

    labels: Mapping[str, str]
    active_at: float
    pending_at: float | None
    firing_at: float | None
    resolved_at: float | None
    last_sample: float
    open_at_start: bool = False
    exact_start: bool = False

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    def active(self, t: float) -> bool:
        """Whether the episode was active (pending or firing) at ``t``."""
        return self.active_at <= t and (self.resolved_at is None or t < self.resolved_at)

    def firing(self, t: float) -> bool:
        """Whether the episode was firing at ``t``."""
        if self.firing_at is None or t < self.firing_at:
            return False
        return self.resolved_at is None or t < self.resolved_at


def episodes(
    alerts: AlertsEvidence, alert: str, labels: Mapping[str, str] | None = None
) -> list[Episode]:
    """Every episode of ``alert`` in the window whose labels include ``labels``, by start."""
    wanted = labels or {}
    since = _active_since(alerts)
    found: list[Episode] = []
    by_instance: dict[tuple[tuple[str, str], ...], list[tuple[float, str]]] = {}
    for series in alerts.of(alert):
        if labels_match(series.labels, wanted):
            by_instance.setdefault(_key(series), []).extend(series.points)
    for key, points in by_instance.items():
        found += _split(dict(key), sorted(points), alerts, since.get(key, []))
    return sorted(found, key=lambda e: (e.active_at, sorted(e.labels.items())))


def all_episodes(alerts: AlertsEvidence) -> list[Episode]:
    """Every episode of every alert in the window, by start."""
    found = [e for name in alerts.names() for e in episodes(alerts, name)]
    return sorted(found, key=lambda e: (e.active_at, e.alertname))


def _key(series: AlertSeries) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(series.labels.items()))


def _active_since(alerts: AlertsEvidence) -> dict[tuple[tuple[str, str], ...], list[float]]:
    out: dict[tuple[tuple[str, str], ...], list[float]] = {}
    for series in alerts.active_since:
        key = tuple(sorted((k, v) for k, v in series.labels.items() if k != "__name__"))
        out.setdefault(key, []).extend(v for _, v in series.points)
    return {k: sorted(set(v)) for k, v in out.items()}


def _split(
    labels: dict[str, str],
    points: list[tuple[float, str]],
    alerts: AlertsEvidence,
    active_ats: list[float],
) -> list[Episode]:
    step = alerts.step
    groups: list[list[tuple[float, str]]] = []
    for point in points:
        if groups and point[0] - groups[-1][-1][0] <= GAP_STEPS * step:
            groups[-1].append(point)
        else:
            groups.append([point])
    out = []
    previous_end = -math.inf
    for group in groups:
        first, last = group[0][0], group[-1][0]
        exact = [a for a in active_ats if previous_end <= a <= first]
        active_at = max(exact) if exact else first
        pending = [t for t, s in group if s == "pending"]
        firing = [t for t, s in group if s == "firing"]
        resolved = last + step if last + step <= alerts.end + 1e-9 else None
        out.append(
            Episode(
                labels,
                active_at=active_at,
                pending_at=pending[0] if pending else (active_at if exact else None),
                firing_at=firing[0] if firing else None,
                resolved_at=resolved,
                last_sample=last,
                open_at_start=first <= alerts.start + step and not exact,
                exact_start=bool(exact),
            )
        )
        previous_end = resolved if resolved is not None else last
    return out


@dataclass(frozen=True)
class Timing:
    """The least and the most time a rule's alerting chain takes once its condition holds."""

    floor_s: float
    ceiling_s: float
    words: str  # the arithmetic, for a check's detail


def detection_timing(
    rule: RuleEvidence, scrape_s: float, eval_s: float, group_wait_s: float | None = None
) -> Timing:
    """How long ``rule`` takes to fire (and notify, with ``group_wait_s``) after its condition
    becomes true: at least ``ceil(for/eval)·eval`` (+ group_wait), at most that plus one
    scrape and one evaluation (+ group_wait)."""
    held = math.ceil(rule.for_s / eval_s - 1e-9) * eval_s if rule.for_s > 0 else 0.0
    wait = group_wait_s or 0.0
    floor = held + wait
    ceiling = held + scrape_s + eval_s + wait
    parts = [f"for {rule.for_s:g} s held over {eval_s:g} s evaluations = {held:g} s"]
    if group_wait_s is not None:
        parts.append(f"group_wait {wait:g} s")
    words = " + ".join(parts) + f" = {floor:g} s at least"
    return Timing(floor, ceiling, words)
