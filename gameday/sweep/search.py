"""Where each alert starts to fire: the probe schedule and the thresholds, from observations.

Pure functions of what the probes saw. The search probes the severe end, then the mild
end, then repeats any magnitude whose verdict is in doubt (observations that disagree, a
verdict that goes against the ones around it, "cannot tell") and bisects the widest bracket
between a magnitude where an alert stayed silent and the mildest one where it fired. A
single verdict near its bound (fired in the last fifth of the bound, or a little late, or
went pending without firing) is repeated once the brackets are narrow.

Each threshold says how sure it is: ``high`` when both ends of its bracket were seen
consistently and the bracket is narrow, ``medium`` when the bracket is still wide or an end
rests on one verdict near the bound, ``low`` when observations disagree or could not tell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from gameday.sweep.param import Span

Confidence = Literal["high", "medium", "low"]
NARROW = 0.05  # a bracket this wide (share of the span's severity) is resolved
WIDE = 0.15  # brackets wider than this are bisected before doubtful verdicts are repeated
MAX_REPEATS = 3  # observations of one magnitude at most


@dataclass(frozen=True)
class Observation:
    """One probe's outcome: per alert, fired within its bound (``None``: cannot tell), and
    whether that verdict was near the bound."""

    magnitude: float
    fired: Mapping[str, bool | None]
    marginal: Mapping[str, bool]


@dataclass(frozen=True)
class Verdict:
    """Every observation of one alert at one magnitude, summed up."""

    magnitude: float
    fired: bool | None  # the majority of decided observations; None: a tie or none decided
    observations: int
    consistent: bool  # every observation decided and agreeing
    marginal: bool  # a single decided observation near the bound

    @property
    def settled(self) -> bool:
        return self.fired is not None and self.consistent and not self.marginal


@dataclass(frozen=True)
class Threshold:
    """Where one alert starts to fire within its bound.

    ``magnitude`` is the mildest magnitude at which it fired while every more severe
    probe also fired (None: it never did, up to the severe end); ``silent_at`` the most
    severe magnitude milder than that at which it stayed silent (None: none probed).
    """

    alert: str
    magnitude: float | None
    silent_at: float | None
    confidence: Confidence
    observations: int
    note: str

    def to_json(self) -> dict[str, object]:
        return {
            "magnitude": self.magnitude,
            "silent_at": self.silent_at,
            "confidence": self.confidence,
            "observations": self.observations,
            "note": self.note,
        }


def verdicts(observations: Sequence[Observation], alert: str, span: Span) -> list[Verdict]:
    """The verdicts of ``alert`` per probed magnitude, mildest first."""
    grouped: dict[float, list[Observation]] = {}
    for o in observations:
        grouped.setdefault(o.magnitude, []).append(o)
    out = []
    for magnitude in sorted(grouped, key=span.severity):
        seen = grouped[magnitude]
        decided = [o.fired.get(alert) for o in seen if o.fired.get(alert) is not None]
        yes = sum(1 for d in decided if d)
        no = len(decided) - yes
        fired = None if yes == no else yes > no
        consistent = len(decided) == len(seen) and (yes == 0 or no == 0)
        marginal = len(decided) == 1 and any(o.marginal.get(alert, False) for o in seen)
        out.append(Verdict(magnitude, fired, len(seen), consistent, marginal))
    return out


def threshold(observations: Sequence[Observation], alert: str, span: Span) -> Threshold:
    """Where ``alert`` starts to fire, and how sure that is."""
    return threshold_from(verdicts(observations, alert, span), alert, span)


def threshold_from(vs: Sequence[Verdict], alert: str, span: Span) -> Threshold:
    """:func:`threshold` from the verdicts per magnitude, mildest first."""
    decided = [v for v in vs if v.fired is not None]
    if not decided:
        return Threshold(alert, None, None, "low", len(vs), "no probe could tell")
    if not decided[-1].fired:
        top = decided[-1]
        sure: Confidence = "high" if top.settled else ("low" if not top.consistent else "medium")
        note = f"silent up to {top.magnitude:g}"
        return Threshold(alert, None, top.magnitude, sure, top.observations, note)
    hi_i = len(decided) - 1
    while hi_i > 0 and decided[hi_i - 1].fired:
        hi_i -= 1
    hi = decided[hi_i]
    lo = decided[hi_i - 1] if hi_i > 0 else None
    stray = [v for v in decided[: max(hi_i - 1, 0)] if v.fired]
    if lo is None:
        note = f"fired at the mildest probe ({hi.magnitude:g}): the threshold is there or milder"
        sure = "high" if hi.settled and hi.magnitude == span.start else "medium"
        return Threshold(alert, hi.magnitude, None, sure, hi.observations, note)
    width = span.severity(hi.magnitude) - span.severity(lo.magnitude)
    note = f"silent at {lo.magnitude:g}, fired at {hi.magnitude:g}"
    low, high = span.severity(lo.magnitude), span.severity(hi.magnitude)
    unsure = [v for v in vs if not v.consistent and low <= span.severity(v.magnitude) <= high]
    if stray or unsure:
        where = ", ".join(f"{v.magnitude:g}" for v in [*stray, *unsure])
        return Threshold(
            alert,
            hi.magnitude,
            lo.magnitude,
            "low",
            hi.observations,
            f"{note}; verdicts disagree at {where}",
        )
    sure = "high" if hi.settled and lo.settled and width <= NARROW else "medium"
    if width > NARROW:
        note += " (bracket still wide)"
    elif not (hi.settled and lo.settled):
        note += " (one verdict near the bound)"
    return Threshold(alert, hi.magnitude, lo.magnitude, sure, hi.observations, note)


def next_magnitude(
    observations: Sequence[Observation], alerts: Sequence[str], span: Span
) -> float | None:
    """The magnitude to probe next, or ``None`` when every threshold is resolved."""
    probed = {o.magnitude for o in observations}
    for end in (span.stop, span.start):
        if end not in probed:
            return end
    per_alert = {a: verdicts(observations, a, span) for a in alerts}
    doubt = _doubtful(per_alert, alerts, span, marginal=False)
    if doubt is not None:
        return doubt
    wide = _bisect(per_alert, alerts, span, WIDE)
    if wide is not None:
        return wide
    doubt = _doubtful(per_alert, alerts, span, marginal=True)
    return doubt if doubt is not None else _bisect(per_alert, alerts, span, NARROW)


def _doubtful(
    per_alert: Mapping[str, list[Verdict]], alerts: Sequence[str], span: Span, *, marginal: bool
) -> float | None:
    """A bracket end to observe again: disputed, undecided, against the trend or (with
    ``marginal``) resting on one verdict near the bound."""
    for alert in alerts:
        t = threshold_from(per_alert[alert], alert, span)
        ends = [m for m in (t.magnitude, t.silent_at) if m is not None]
        for v in per_alert[alert]:
            if v.observations >= MAX_REPEATS:
                continue
            against = (
                v.fired
                and t.silent_at is not None
                and (span.severity(v.magnitude) < span.severity(t.silent_at))
            )
            if not v.consistent or against:
                return v.magnitude
            if marginal and v.marginal and v.magnitude in ends:
                return v.magnitude
    return None


def _bisect(
    per_alert: Mapping[str, list[Verdict]], alerts: Sequence[str], span: Span, width: float
) -> float | None:
    """The middle of the widest bracket wider than ``width``."""
    best: tuple[float, float] | None = None
    for alert in alerts:
        t = threshold_from(per_alert[alert], alert, span)
        if t.magnitude is None or t.silent_at is None:
            continue
        lo, hi = span.severity(t.silent_at), span.severity(t.magnitude)
        if hi - lo > width and (best is None or hi - lo > best[1] - best[0]):
            best = (lo, hi)
    if best is None:
        return None
    middle = span.at((best[0] + best[1]) / 2)
    probed = {v.magnitude for vs in per_alert.values() for v in vs}
    return None if middle in probed else middle
