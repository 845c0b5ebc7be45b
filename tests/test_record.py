"""The run record: which window alerts are judged in."""

from __future__ import annotations

from gameday.evidence.observe import Observability
from gameday.run.record import Phase, RunRecord
from gameday.scenario.environment import Environment
from gameday.scenario.model import parse_scenario


def _record() -> RunRecord:
    scenario = parse_scenario("name: r\ntimeline: {baseline: 5s, fault: 10s, recovery: 5s}\n")
    env = Environment.from_endpoints({"prometheus": "http://127.0.0.1:9"})
    return RunRecord(scenario, env, Observability(env), started_at=100.0)


def test_alerts_are_judged_from_the_last_baseline_not_from_a_discarded_one() -> None:
    record = _record()
    assert record.steady_since == 100.0  # before any baseline: the run's start
    record.phases["baseline"] = Phase("baseline", 120.0, 125.0)  # an alert disturbed it
    record.phases["baseline"] = Phase("baseline", 160.0, 165.0)  # settled, then a clean one
    assert record.steady_since == 160.0


def test_a_control_run_times_its_checks_from_the_fault_phase() -> None:
    record = _record()
    assert record.fault_start is None
    record.phases["fault"] = Phase("fault", 170.0)
    assert record.fault_start == 170.0
