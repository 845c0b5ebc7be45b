"""What a fault cost the model in one run, computed from its bundle alone.

Every measure compares the fault phase with the run's own baseline phase (a sweep then
compares it with the median baseline of all its probes, :func:`rebased`): the share of
failed requests and the p95 latency (from every request the load made), and each impact
query the environment names (the mean of each series over the phase; of several series,
the one that moved most in the harmful direction). ``harm`` is that move: ``rise`` counts
an increase, ``drop`` a decrease, ``change`` either. A measure with no points in a phase
is reported as not measured (``None`` with a note), never as zero harm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from gameday.evidence.impact import Harm, MeasureEvidence
from gameday.evidence.model import RunEvidence

ERROR_RATE, P95 = "error_rate", "p95_ms"
MIN_REQUESTS = 20  # fewer requests than this in a phase: its error rate and p95 are not given


@dataclass(frozen=True)
class Measured:
    """One measure in one run: its baseline and fault-phase values and the harm between."""

    name: str
    harm_kind: Harm
    unit: str
    baseline: float | None
    fault: float | None
    harm: float | None
    note: str = ""
    reference: float | None = None  # in a sweep: the median baseline of all its probes

    def to_json(self) -> dict[str, object]:
        return {
            "baseline": _round(self.baseline),
            "fault": _round(self.fault),
            "reference": _round(self.reference),
            "harm": _round(self.harm),
            "harm_kind": self.harm_kind,
            "unit": self.unit,
            **({"note": self.note} if self.note else {}),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def windows(evidence: RunEvidence) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The baseline and fault windows of a run (``None`` when either phase never ran)."""
    timeline = evidence.timeline
    base = timeline.phases.get("baseline")
    start, end = timeline.fault_start, timeline.fault_end
    if base is None or base.end is None or start is None:
        return None
    fault_phase = timeline.phases.get("fault")
    stop = end if end is not None else (fault_phase.end if fault_phase else None)
    if stop is None or stop <= start:
        return None
    return (base.start, base.end), (start, stop)


def impact_of(evidence: RunEvidence) -> dict[str, Measured]:
    """Every measure of the run, by name: ``error_rate``, ``p95_ms``, then the environment's."""
    spans = windows(evidence)
    if spans is None:
        return {}
    base, fault = spans
    out = _requests(evidence, base, fault)
    for name, measure in evidence.impact.measures.items():
        out[name] = _measure(name, measure, base, fault)
    return out


def _requests(
    evidence: RunEvidence, base: tuple[float, float], fault: tuple[float, float]
) -> dict[str, Measured]:
    cols = evidence.load.requests
    t = np.asarray(cols.t, dtype=float)
    ms = np.asarray(cols.ms, dtype=float)
    ok = np.asarray(cols.ok, dtype=bool)

    def phase(span: tuple[float, float]) -> tuple[float | None, float | None]:
        inside = (t >= span[0]) & (t < span[1])
        n = int(inside.sum())
        if n < MIN_REQUESTS:
            return None, None
        return float(1.0 - ok[inside].mean()), float(np.percentile(ms[inside], 95))

    (base_err, base_p95), (fault_err, fault_p95) = phase(base), phase(fault)
    note = (
        ""
        if fault_err is not None and base_err is not None
        else (f"fewer than {MIN_REQUESTS} requests in the baseline or fault phase")
    )
    return {
        ERROR_RATE: Measured(
            ERROR_RATE,
            "rise",
            "share",
            base_err,
            fault_err,
            _harm("rise", base_err, fault_err),
            note,
        ),
        P95: Measured(
            P95, "rise", "ms", base_p95, fault_p95, _harm("rise", base_p95, fault_p95), note
        ),
    }


def _measure(
    name: str, measure: MeasureEvidence, base: tuple[float, float], fault: tuple[float, float]
) -> Measured:
    if measure.error is not None:
        return Measured(name, measure.harm, measure.unit, None, None, None, measure.error)
    best: Measured | None = None
    for series in measure.series:
        b, f = _mean(series.points, base), _mean(series.points, fault)
        harm = _harm(measure.harm, b, f)
        if harm is not None and (best is None or best.harm is None or harm > best.harm):
            labels = ", ".join(f"{k}={v}" for k, v in sorted(series.labels.items()))
            best = Measured(name, measure.harm, measure.unit, b, f, harm, labels)
    if best is None:
        return Measured(
            name,
            measure.harm,
            measure.unit,
            None,
            None,
            None,
            "no points in the baseline or fault phase",
        )
    return best


def rebased(impacts: Sequence[Mapping[str, Measured]]) -> list[dict[str, Measured]]:
    """Each run's measures against one reference for all of them: the median of their
    baselines. A probe's own baseline can still carry the previous probe's fault (drifted
    rows not yet overwritten, a quality window not yet refilled), so a sweep compares every
    fault phase with the same, typical, baseline (``reference``)."""
    names = {name for impact in impacts for name in impact}
    reference: dict[str, float | None] = {}
    for name in names:
        seen = [m.baseline for i in impacts if (m := i.get(name)) and m.baseline is not None]
        reference[name] = float(np.median(seen)) if seen else None
    return [
        {
            name: replace(
                m, reference=reference[name], harm=_harm(m.harm_kind, reference[name], m.fault)
            )
            for name, m in impact.items()
        }
        for impact in impacts
    ]


def _mean(points: Sequence[tuple[float, float]], span: tuple[float, float]) -> float | None:
    values = [v for t, v in points if span[0] <= t < span[1] and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def _harm(kind: Harm, base: float | None, fault: float | None) -> float | None:
    if base is None or fault is None:
        return None
    if kind == "rise":
        return fault - base
    if kind == "drop":
        return base - fault
    return abs(fault - base)
