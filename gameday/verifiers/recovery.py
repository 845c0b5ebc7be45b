"""The ``recovered`` expectation: after the revert, the fault's alerts resolve in time and the
load returns to the baseline's neighbourhood.

*Fault-related alerts* are every alert instance that went firing from the first fault's apply
time until shortly after the last revert (alerting lags its cause). Each must resolve within
``within`` of the revert. The load is back when, over the last seconds of the run, the error
rate is at most the baseline's plus one point and the p95 at most 1.5x the baseline's plus
50 ms (the neighbourhood absorbs noise without hiding a degraded service).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from gameday.run.load import LoadStats, summarize
from gameday.run.record import RunRecord
from gameday.scenario.durations import human_duration
from gameday.scenario.expectations import Expectation, RecoveredExpectation
from gameday.verifiers.alerts import episodes
from gameday.verifiers.base import Check, Verifier

KIND = "recovered"
LAG_S = 5.0  # an alert firing this soon after the revert is still the fault's
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


def fault_alerts(run: RunRecord) -> list[dict[str, Any]]:
    """Every alert instance that went firing because of the fault, with its resolve time."""
    start, end = run.fault_start, run.fault_end
    if start is None:
        return []
    until = (end or time.time()) + LAG_S
    prom = run.observe.prometheus
    stop = time.time()  # see alerts.episodes: read up to now
    names = {
        s.labels.get("alertname", "")
        for s in prom.query_range(
            'ALERTS{alertstate="firing"}', run.steady_since, stop, run.observe.evaluation_interval
        )
    }
    lower = start - run.observe.evaluation_interval
    return [
        {
            "alert": name,
            "labels": dict(e.labels),
            "firing_at": e.firing_at,
            "resolved_at": e.resolved_at,
        }
        for name in sorted(n for n in names if n)
        for e in episodes(run, name)
        if e.firing_at is not None and lower <= e.firing_at <= until
    ]


class RecoveryVerifier(Verifier):
    """Decides ``recovered`` expectations from ``ALERTS`` and the load after the revert."""

    kind: ClassVar[str] = KIND
    spec: ClassVar[type[Expectation]] = RecoveredExpectation
    summary: ClassVar[str] = "fault alerts resolve within the bound and the load recovers"
    _quiet_since: float | None = None

    def check(self, expectation: Expectation, run: RunRecord) -> Check:
        assert isinstance(expectation, RecoveredExpectation)
        reverted = run.fault_end
        if reverted is None:
            return Check.undecided(KIND, expectation.title, "no fault was reverted")
        within = expectation.within or run.scenario.timeline.recovery
        alerts = fault_alerts(run)
        late = [
            a for a in alerts if a["resolved_at"] is None or a["resolved_at"] - reverted > within
        ]
        load_ok, load_words = near_baseline(run.stats("baseline"), _tail(run))
        passed = not late and load_ok
        detail = _detail(alerts, late, reverted, within, load_ok, load_words)
        for a in alerts:
            a["resolved_after_s"] = (
                None if a["resolved_at"] is None else round(a["resolved_at"] - reverted, 2)
            )
        evidence = {"reverted_at": reverted, "alerts": alerts, "load": _tail(run).to_json()}
        return Check(KIND, expectation.title, passed, detail, evidence)

    def done(self, expectation: Expectation, run: RunRecord, phase: str) -> bool:
        """Recovery: decided once no alert is active any more and the load looks like the
        baseline again (or the bound has passed: then it is decided as failed)."""
        if phase != "recovery":
            return True
        assert isinstance(expectation, RecoveredExpectation)
        reverted = run.fault_end
        if reverted is None:
            return False
        within = expectation.within or run.scenario.timeline.recovery
        if time.time() - reverted > within:
            return True
        if not self._quiet_for_two_evaluations(run):
            return False
        return (
            not run.requests or near_baseline(run.stats("baseline"), _tail(run, since=reverted))[0]
        )

    def _quiet_for_two_evaluations(self, run: RunRecord) -> bool:
        """No alert active, for two evaluations in a row (so ALERTS has the resolution too)."""
        if run.observe.prometheus.alerts():
            self._quiet_since = None
            return False
        self._quiet_since = self._quiet_since or time.time()
        return time.time() - self._quiet_since >= 2 * run.observe.evaluation_interval


def _tail(run: RunRecord, since: float | None = None) -> LoadStats:
    end = run.finished_at or time.time()
    start = max(end - TAIL_S, since or 0.0)
    return summarize(run.requests, start, end)


def _when(alert: dict[str, Any], reverted: float) -> str:
    resolved = alert["resolved_at"]
    return "still firing" if resolved is None else f"+{resolved - reverted:.1f} s"


def _detail(
    alerts: list[dict[str, Any]],
    late: list[dict[str, Any]],
    reverted: float,
    within: float,
    load_ok: bool,
    load_words: str,
) -> str:
    bound = human_duration(within)
    if late:
        names = ", ".join(f"{a['alert']} ({_when(a, reverted)})" for a in late)
        alert_part = f"not resolved within {bound} of the revert: {names}"
    elif alerts:
        slowest = max(a["resolved_at"] - reverted for a in alerts)
        alert_part = (
            f"{len(alerts)} fault alert(s) resolved, the last {slowest:.1f} s after the revert "
            f"(bound {bound})"
        )
    else:
        alert_part = "no alert fired because of the fault"
    verdict = "load back to baseline: " if load_ok else "load NOT back to baseline: "
    return f"{alert_part}; {verdict}{load_words}"


VERIFIERS = (RecoveryVerifier,)
