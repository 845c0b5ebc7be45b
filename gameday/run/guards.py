"""Stop conditions and the load's health: watched on every tick; a breach aborts the run.

Both are pure functions of what the runner saw, so they are tested on recorded figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gameday.evidence.requests import LoadStats
from gameday.scenario.model import Guard

WINDOW_S = 5.0
MIN_REQUESTS = 10
STALL_S = 20.0  # no request completed for this long: the load has collapsed
HEARTBEAT_STALE_S = 10.0  # Locust's status file older than this: it stopped reporting
SPAWN_GRACE_S = 15.0  # users may still be spawning this long after the load started


def breach(guards: Iterable[Guard], recent: LoadStats, firing: Sequence[str]) -> str | None:
    """The first breached guard, described; ``None`` while every guard holds.

    ``recent`` is the load over the last :data:`WINDOW_S` seconds (rates need at least
    :data:`MIN_REQUESTS` requests); ``firing`` the alerts Prometheus fires now.
    """
    enough = recent.requests >= MIN_REQUESTS
    for guard in guards:
        rate = guard.error_rate_above
        if rate is not None and enough and recent.error_rate > rate:
            return f"error rate {recent.error_rate:.1%} over {rate:.1%} (last {WINDOW_S:g} s)"
        if guard.alert is not None and guard.alert in firing:
            return f"alert {guard.alert} is firing"
        p95, seen = guard.p95_above_ms, recent.p95_ms
        if p95 is not None and seen is not None and enough and seen > p95:
            return f"p95 {seen:.0f} ms over {p95:g} ms (last {WINDOW_S:g} s)"
    return None


@dataclass(frozen=True)
class LoadHealth:
    """What the load generator says of itself: running, users, state, last heartbeat."""

    alive: bool
    users: int | None
    state: str
    heartbeat_at: float | None
    started_at: float


def load_problem(
    health: LoadHealth, planned_users: int, last_completion: float, now: float
) -> str | None:
    """Why the load can no longer be trusted (``None`` while it can).

    The load generator exited or stopped; it stopped reporting; it runs fewer users than
    planned once spawning is over; or no request has completed for :data:`STALL_S` seconds.
    A slow system under test still completes requests (they time out), so a stall means the
    load itself is broken, and serving alerts would evaluate to nothing.
    """
    if not health.alive:
        return "Locust exited"
    if health.state in ("stopping", "stopped"):
        return f"Locust is {health.state}"
    if health.heartbeat_at is not None and now - health.heartbeat_at > HEARTBEAT_STALE_S:
        return f"Locust stopped reporting {now - health.heartbeat_at:.0f} s ago"
    spawned = now - health.started_at > SPAWN_GRACE_S
    if spawned and health.users is not None and health.users < planned_users:
        return f"only {health.users} of {planned_users} users running"
    if now - last_completion > STALL_S:
        return f"no request completed for {now - last_completion:.0f} s"
    return None
