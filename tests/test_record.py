"""The run record: the live state of a run, and the evidence it turns into.

What the verdict reads comes from :meth:`RunRecord.timeline` and :meth:`RunRecord.load`, so
these tests fill a record the way the runner does and check the evidence it produces.
"""

from __future__ import annotations

from fixtures.envs import stack_environment

from gameday.evidence.model import Effect, LoadTick, RunEvidence
from gameday.evidence.requests import Record, from_columns
from gameday.injectors.base import Applied
from gameday.run.record import FaultRecord, Phase, RunRecord
from gameday.scenario.model import parse_scenario

SCENARIO = """
name: r
load: {users: 4}
timeline: {baseline: 5s, fault: 10s, recovery: 5s}
faults:
  - {injector: network.latency, target: feature-store, params: {latency_ms: 300}}
expect:
  - {alert: ModelLatencyHigh, fires_within: 10s}
"""
CONTROL = """
name: c
timeline: {baseline: 5s, fault: 10s, recovery: 5s}
expect:
  - {alert: ModelLatencyHigh, silent: true}
"""


def _record(text: str = SCENARIO) -> RunRecord:
    env = stack_environment({"prometheus": "http://127.0.0.1:9"})
    return RunRecord(parse_scenario(text), env, started_at=100.0)


def _fault(record: RunRecord) -> FaultRecord:
    fault = FaultRecord(0, record.scenario.faults[0], "r-0-abc", "proxy")
    record.faults.append(fault)
    return fault


def test_alerts_are_judged_from_the_last_baseline_not_from_a_discarded_one() -> None:
    record = _record()
    assert record.timeline().steady_since == 100.0  # before any baseline: the run's start
    record.phases["baseline"] = Phase("baseline", 120.0, 125.0)  # an alert disturbed it
    record.phases["baseline"] = Phase("baseline", 160.0, 165.0)  # settled, then a clean one
    record.baselines = 2
    timeline = record.timeline()
    assert timeline.steady_since == 160.0
    assert timeline.baselines == 2


def test_a_control_run_times_its_checks_from_the_fault_phase() -> None:
    record = _record(CONTROL)
    assert record.fault_start is None and record.timeline().fault_start is None
    record.phases["fault"] = Phase("fault", 170.0)
    assert record.fault_start == 170.0
    assert record.timeline().fault_start == 170.0
    assert record.timeline().fault_end is None  # the phase still runs
    record.phases["fault"].end = 180.0
    assert record.timeline().fault_end == 180.0


def test_the_timeline_times_checks_from_the_apply_and_revert_of_the_faults() -> None:
    record = _record()
    fault = _fault(record)
    record.phases["fault"] = Phase("fault", 170.0, planned_s=10.0)
    assert record.timeline().fault_start is None  # not applied yet: nothing to time from
    fault.applied = Applied(
        "network.latency", "r-0-abc", "feature-store", undo={"toxic": "t1"},
        evidence={"toxic": "t1", "toxiproxy": ["http://127.0.0.1:8474"]},
    )  # fmt: skip
    fault.applied_at = 170.5
    timeline = record.timeline()
    assert (timeline.fault_start, timeline.fault_end) == (170.5, None)  # still on
    fault.reverted_at, fault.revert_evidence = 180.0, {"removed": True}
    fault.effect = Effect(took_effect=True, detail="300 ms added to 40 requests")
    evidence = record.timeline().faults[0]
    assert (evidence.applied_at, evidence.reverted_at) == (170.5, 180.0)
    assert record.timeline().fault_end == 180.0
    assert evidence.title == "network.latency@feature-store"
    assert evidence.applied == {"toxic": "t1", "toxiproxy": ["http://127.0.0.1:8474"]}
    assert evidence.reverted == {"removed": True}
    assert evidence.params["latency_ms"] == 300 and evidence.target_kind == "proxy"
    assert evidence.effect is not None and evidence.effect.took_effect is True


def test_an_aborted_run_says_why_in_its_timeline() -> None:
    record = _record()
    record.aborted = "guard breached in fault: alert CustomerImpact is firing"
    record.finished_at = 150.0
    timeline = record.timeline()
    assert timeline.aborted == "guard breached in fault: alert CustomerImpact is firing"
    assert timeline.window("run") == (100.0, 150.0)


def test_the_load_evidence_holds_every_request_and_the_generator_health() -> None:
    record = _record()
    record.requests.extend(
        [
            Record(101.0, 20.0, True, 200, "/predict", "a" * 32),
            Record(102.0, 900.0, False, 503, "/predict", "b" * 32),
            Record(103.0, 15.0, True, 200, "/health", "c" * 32),
        ]
    )
    record.load_ticks.append(LoadTick(t=102.0, alive=True, users=4, state="running", recent=2))
    record.load_stopped = "Locust exited"
    load = record.load()
    assert load.users == 4
    assert from_columns(load.requests) == record.requests  # nothing lost on the way
    assert load.ticks == (LoadTick(t=102.0, alive=True, users=4, state="running", recent=2),)
    assert load.stopped == "Locust exited"
    kept = record.load(keep_trace=lambda r: not r.ok)  # only the traces root cause needs
    assert kept.requests.trace_id == (None, "b" * 32, None)
    assert len(kept.requests) == 3


def test_the_live_state_becomes_evidence_a_bundle_can_hold() -> None:
    """The timeline and load survive the bundle's JSON round trip unchanged."""
    record = _record()
    fault = _fault(record)
    fault.applied = Applied("network.latency", "r-0-abc", "feature-store", {}, {"toxic": "t1"})
    fault.applied_at, fault.reverted_at = 170.5, 180.0
    record.phases["baseline"] = Phase("baseline", 160.0, 165.0, planned_s=5.0)
    record.requests.append(Record(161.0, 20.0, True, 200, "/predict", "a" * 32))
    evidence = RunEvidence(
        captured_at=190.0,
        scenario={"name": "r"},
        timeline=record.timeline(),
        load=record.load(),
    )
    again = RunEvidence.model_validate_json(evidence.model_dump_json())
    assert again.timeline == record.timeline()
    assert from_columns(again.load.requests) == record.requests
