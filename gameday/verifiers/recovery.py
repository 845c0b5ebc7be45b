"""The ``recovered`` expectation: after the revert, the fault's alerts resolve in time and the
load returns to the baseline's neighbourhood.

*Fault-related alerts* are every alert instance that became active from the first fault's
apply time until shortly after the last revert (alerting lags its cause) and reached firing.
Each must resolve within ``within`` of the revert. The load is back when, over the last
seconds of the run after the revert (at most :data:`TAIL_S`), the error rate is at most the
baseline's plus one point and the p95 at most 1.5x the baseline's plus 50 ms (the
neighbourhood absorbs noise without hiding a degraded service). An alert still active when
the run ended before the bound is undecided: the run did not watch long enough to tell.
"""

from __future__ import annotations

from typing import ClassVar

from gameday.evidence.alerts import Episode, all_episodes
from gameday.evidence.model import RunEvidence
from gameday.evidence.requests import LoadStats, Record, from_columns, summarize
from gameday.scenario.durations import human_duration
from gameday.scenario.expectations import Expectation, RecoveredExpectation
from gameday.verifiers.base import Check, PhaseName, Verifier

KIND = "recovered"
LAG_S = 5.0  # an alert becoming active this soon after the revert is still the fault's
TAIL_S = 5.0  # the load must look like the baseline over this last stretch


def near_baseline(base: LoadStats, now: LoadStats) -> tuple[bool, str]:
    """Whether ``now`` is within the baseline's neighbourhood, and the figures in words."""
    if now.requests == 0:
        return False, "no request in the last seconds"
    err_ok = now.error_rate <= base.error_rate + 0.01
    p95_ok = base.p95_ms is None or now.p95_ms is None or now.p95_ms <= 1.5 * base.p95_ms + 50
    words = (
        f"error rate {now.error_rate:.1%} (baseline {base.error_rate:.1%}), "
        f"p95 {now.p95_ms or 0:.0f} ms (baseline {base.p95_ms or 0:.0f} ms)"
    )
    return err_ok and p95_ok, words


def fault_alerts(evidence: RunEvidence) -> list[Episode]:
    """Every alert episode that became active because of the fault and reached firing."""
    start, end = evidence.timeline.fault_start, evidence.timeline.fault_end
    if start is None or evidence.alerts is None:
        return []
    until = (end if end is not None else evidence.captured_at) + LAG_S
    return [
        e
        for e in all_episodes(evidence.alerts)
        if e.firing_at is not None and start <= e.active_at <= until
    ]


def _tail(records: list[Record], end: float, since: float | None = None) -> LoadStats:
    start = max(end - TAIL_S, since or 0.0)
    return summarize(records, start, end)


class RecoveryVerifier(Verifier[RecoveredExpectation]):
    """Decides ``recovered`` expectations from the fault's alert episodes and the load."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = RecoveredExpectation
    summary: ClassVar[str] = "fault alerts resolve within the bound and the load recovers"

    def check(self, expectation: RecoveredExpectation, evidence: RunEvidence) -> Check:
        title = expectation.title
        reverted = evidence.timeline.fault_end
        if reverted is None:
            return Check.undecided(KIND, title, "no fault was reverted")
        if evidence.alerts is None:
            return Check.undecided(KIND, title, "no Prometheus evidence was captured")
        within = expectation.within or evidence.timeline.planned.recovery
        end = evidence.timeline.observed_until
        alerts = fault_alerts(evidence)
        late = [e for e in alerts if e.resolved_at is None or e.resolved_at - reverted > within]
        unwatched = [e for e in late if e.resolved_at is None and end - reverted < within]
        records = from_columns(evidence.load.requests)
        base = summarize(records, *(evidence.timeline.window("baseline") or (0.0, 0.0)))
        tail = _tail(records, end, since=reverted)
        load_ok, load_words = (True, "no load") if not records else near_baseline(base, tail)
        out = {
            "reverted_at": reverted,
            "alerts": [_row(e, reverted) for e in alerts],
            "load": tail.to_json(),
        }
        if unwatched and len(unwatched) == len(late) and load_ok:
            names = ", ".join(sorted({e.alertname for e in unwatched}))
            detail = (
                f"{names} still active when the run ended {end - reverted:.1f} s after the "
                f"revert, before the {human_duration(within)} bound: cannot tell"
            )
            return Check.undecided(KIND, title, detail, out)
        detail = _detail(alerts, late, reverted, within, load_ok, load_words)
        return Check(KIND, title, not late and load_ok, detail, out)

    def done(
        self, expectation: RecoveredExpectation, evidence: RunEvidence, phase: PhaseName
    ) -> bool:
        """Recovery: decided once every fault alert has resolved for an evaluation and the
        load looks like the baseline again over :data:`TAIL_S` after the revert (or the bound
        has passed)."""
        reverted, alerts = evidence.timeline.fault_end, evidence.alerts
        if phase != "recovery":
            return True
        if reverted is None or alerts is None:
            return False
        within = expectation.within or evidence.timeline.planned.recovery
        since = evidence.captured_at - reverted
        if since > within:
            return True
        return since >= min(TAIL_S, within) and _settled(evidence, reverted, alerts.step)


def _settled(evidence: RunEvidence, reverted: float, step: float) -> bool:
    """Every fault alert resolved at least one evaluation ago, and the load looks like the
    baseline since the revert."""
    now = evidence.captured_at
    if any(e.resolved_at is None or now - e.resolved_at < step for e in fault_alerts(evidence)):
        return False
    records = from_columns(evidence.load.requests)
    if not records:
        return True
    base = summarize(records, *(evidence.timeline.window("baseline") or (0.0, 0.0)))
    return near_baseline(base, _tail(records, now, since=reverted))[0]


def _row(e: Episode, reverted: float) -> dict[str, object]:
    return {
        "alert": e.alertname,
        "labels": dict(e.labels),
        "firing_at": e.firing_at,
        "resolved_at": e.resolved_at,
        "resolved_after_s": None if e.resolved_at is None else round(e.resolved_at - reverted, 2),
    }


def _when(e: Episode, reverted: float) -> str:
    if e.resolved_at is None:
        return f"{e.alertname} never resolved"
    return f"{e.alertname} resolved {e.resolved_at - reverted:.1f} s after the revert"


def _detail(
    alerts: list[Episode],
    late: list[Episode],
    reverted: float,
    within: float,
    load_ok: bool,
    load_words: str,
) -> str:
    bound = human_duration(within)
    if late:
        alert_part = "; ".join(_when(e, reverted) for e in late) + f" (bound {bound})"
    elif alerts:
        slowest = max((e.resolved_at or reverted) - reverted for e in alerts)
        alert_part = (
            f"{len(alerts)} fault alert(s) resolved, the last {slowest:.1f} s after the revert "
            f"(bound {bound})"
        )
    else:
        alert_part = "no alert fired because of the fault"
    verdict = "load back to baseline: " if load_ok else "load NOT back to baseline: "
    return f"{alert_part}; {verdict}{load_words}"


VERIFIERS = (RecoveryVerifier,)
