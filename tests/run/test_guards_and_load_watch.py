"""Stop conditions and the load's health, judged from the figures the runner saw."""

from __future__ import annotations

from gameday.evidence.requests import LoadStats
from gameday.run.guards import LoadHealth, breach, load_problem
from gameday.scenario.model import Guard

T = 1_800_000_000.0


def stats(requests: int = 100, failures: int = 0, p95: float | None = 40.0) -> LoadStats:
    return LoadStats(requests, failures, 30.0, p95, requests / 5)


def test_a_firing_alert_guard_breaches_and_a_pending_or_other_one_does_not() -> None:
    guards = [Guard(alert="CustomerImpact")]
    assert breach(guards, stats(), ["CustomerImpact"]) == "alert CustomerImpact is firing"
    assert breach(guards, stats(), ["ModelLatencyHigh"]) is None
    assert breach(guards, stats(), []) is None


def test_error_rate_and_p95_guards_need_enough_requests_to_breach() -> None:
    assert breach([Guard(error_rate_above=0.5)], stats(100, 60), []) is not None
    assert breach([Guard(error_rate_above=0.5)], stats(4, 4), []) is None  # too few to judge
    assert breach([Guard(p95_above_ms=500)], stats(p95=900), []) is not None
    assert breach([Guard(p95_above_ms=500)], stats(p95=300), []) is None


def health(**kw: object) -> LoadHealth:
    base = {"alive": True, "users": 20, "state": "running", "heartbeat_at": T, "started_at": T - 60}
    return LoadHealth(**{**base, **kw})  # type: ignore[arg-type]


def test_a_healthy_load_has_no_problem() -> None:
    assert load_problem(health(), 20, last_completion=T - 1, now=T) is None


def test_a_load_generator_that_exited_or_stopped_is_a_problem() -> None:
    assert load_problem(health(alive=False), 20, T - 1, T) == "Locust exited"
    assert load_problem(health(state="stopped"), 20, T - 1, T) == "Locust is stopped"


def test_a_load_generator_that_stopped_reporting_is_a_problem() -> None:
    problem = load_problem(health(heartbeat_at=T - 30), 20, T - 1, T)
    assert problem == "Locust stopped reporting 30 s ago"


def test_lost_users_are_a_problem_once_spawning_is_over_but_not_before() -> None:
    assert load_problem(health(users=7), 20, T - 1, T) == "only 7 of 20 users running"
    assert load_problem(health(users=7, started_at=T - 5), 20, T - 1, T) is None


def test_requests_that_stop_completing_are_a_collapse_but_slow_ones_are_not() -> None:
    assert load_problem(health(), 20, last_completion=T - 25, now=T) == (
        "no request completed for 25 s"
    )
    assert load_problem(health(), 20, last_completion=T - 10, now=T) is None
