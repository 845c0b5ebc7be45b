"""Stop conditions (``guards:``): watched continuously; a breach reverts and aborts the run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from gameday.run.load import summarize
from gameday.run.record import RunRecord
from gameday.scenario.model import Guard

WINDOW_S = 5.0
MIN_REQUESTS = 10


def breach(
    guards: Iterable[Guard], record: RunRecord, firing: Callable[..., list[str]]
) -> str | None:
    """The first breached guard, described; ``None`` while every guard holds.

    Error rate and p95 are measured over the last 5 s of load (at least 10 requests), alerts
    from what Prometheus fires now.
    """
    guards = list(guards)
    if not guards:
        return None
    stats = summarize(record.requests, time.time() - WINDOW_S)
    alerts: list[str] | None = None
    for guard in guards:
        enough = stats.requests >= MIN_REQUESTS
        rate = guard.error_rate_above
        if rate is not None and enough and stats.error_rate > rate:
            return f"error rate {stats.error_rate:.1%} over {rate:.1%} (last {WINDOW_S:g} s)"
        if guard.alert is not None:
            alerts = alerts if alerts is not None else firing(record)
            if guard.alert in alerts:
                return f"alert {guard.alert} is firing"
        p95, seen = guard.p95_above_ms, stats.p95_ms
        if p95 is not None and seen is not None and enough and seen > p95:
            return f"p95 {seen:.0f} ms over {p95:g} ms (last {WINDOW_S:g} s)"
    return None
