"""Mutants of a passing run: every wrong expectation derived from it must fail on its evidence."""

from __future__ import annotations

from fixtures.traces import slow_trace

from gameday.evidence.model import RunEvidence
from gameday.evidence.testing import EvidenceBuilder
from gameday.run.judge import judge
from gameday.scenario.model import Scenario
from gameday.verifiers.base import Check
from gameday.verifiers.mutants import kill_report, mutants

SCENARIO = """
name: latency
load: {users: 5}
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: network.latency, target: feature-store, params: {latency_ms: 800}}
expect:
  - alert: ModelLatencyHigh
    fires_within: 30s
    receiver: ml-oncall
    labels: {service: model-server}
  - root_cause: {service: feature-store, span: feature_store.get, min_share: 0.8}
  - recovered: {within: 10s}
  - slo: {phase: baseline, p95_below_ms: 500}
  - {alert: FeatureNullRateHigh, silent: true}
"""


def passing_run() -> EvidenceBuilder:
    b = (
        EvidenceBuilder(SCENARIO)
        .rule("ModelLatencyHigh", for_s=3)
        .rule("FeatureNullRateHigh", for_s=2)
        .rule("ServiceDown", for_s=2)
        .healthy("ModelLatencyHigh")
        .healthy("FeatureNullRateHigh")
        .episode("ModelLatencyHigh", pending=23, firing=26, resolved=49,
                 labels={"service": "model-server"})
        .webhook(26.2, "ml-oncall", "ModelLatencyHigh", labels={"service": "model-server"})
        .group_wait("ml-oncall", 0.0)
        .group_wait("data-oncall", 0.0)
        .steady_load(fault_ms=820)
    )  # fmt: skip
    for i in range(30):
        b.trace(f"{i:032x}", slow_trace("feature-store"))
    return b


def test_the_original_passes_and_every_mutant_of_it_fails() -> None:
    b = passing_run()
    evidence = b.build()
    assert all(c.passed for c in judge(b.scenario, evidence)), [
        c.detail for c in judge(b.scenario, evidence) if not c.passed
    ]
    report = kill_report(b.scenario, evidence, judge)
    assert not report.survivors, [(o.mutant.how, o.check.detail) for o in report.survivors]
    kinds = report.by_kind()
    assert set(kinds) == {"alert", "root_cause", "recovered", "slo"}
    assert all(killed == total for killed, total in kinds.values())


def test_the_mutants_name_what_they_changed() -> None:
    b = passing_run()
    hows = {m.how for m in mutants(b.scenario, b.build())}
    assert "ModelLatencyHigh routed to data-oncall" in hows
    assert "ModelLatencyHigh swapped for ServiceDown, which never fired" in hows
    assert "ModelLatencyHigh expected silent, but the fault fired it" in hows
    assert "ModelLatencyHigh bound 1.5 s under the rule's minimum" in hows
    assert "FeatureNullRateHigh expected to fire" in hows
    assert "culprit model-server instead of feature-store" in hows
    assert "recovered within 2.0 s" in hows


def test_a_series_expected_silent_while_another_series_of_its_alert_fires_is_killed() -> None:
    """One model's server is down: the others' series of the same alert must stay silent, and
    the mutant that expects one of them to fire names that series, so it fails."""
    text = SCENARIO.replace(
        "  - {alert: FeatureNullRateHigh, silent: true}",
        "  - {alert: ModelLatencyHigh, silent: true, labels: {service: other}}",
    )
    b = passing_run()
    b.scenario = EvidenceBuilder(text).scenario
    evidence = b.build()
    assert all(c.passed for c in judge(b.scenario, evidence))
    report = kill_report(b.scenario, evidence, judge)
    assert not report.survivors, [(o.mutant.how, o.check.detail) for o in report.survivors]


def test_a_verifier_that_passes_everything_lets_mutants_survive() -> None:
    """The kill report is what catches a verifier that cannot fail."""
    b = passing_run()

    def lenient(scenario: Scenario, evidence: RunEvidence) -> list[Check]:
        return [c.__class__(c.kind, c.name, True, "fine") for c in judge(scenario, evidence)]

    report = kill_report(b.scenario, b.build(), lenient)
    assert report.survivors and len(report.survivors) == len(report.outcomes)


PAGING = """
name: feature-store-down
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: network.down, target: feature-store}
expect:
  - pages: {receiver: platform-oncall, at_most: 1}
  - inhibited: {alert: ModelLatencyHigh, by: FeatureStoreDown}
  - grouped: {alerts: [FeatureStoreDown, FeatureStoreErrors], receiver: platform-oncall}
"""


def test_page_count_inhibitor_and_grouping_mutants_all_fail() -> None:
    both = ["FeatureStoreDown", "FeatureStoreErrors"]
    b = (
        EvidenceBuilder(PAGING)
        .episode("FeatureStoreDown", pending=21, firing=22, resolved=47)
        .episode("FeatureStoreErrors", pending=21, firing=23, resolved=47)
        .episode("ModelLatencyHigh", pending=22, firing=24, resolved=48)
        .am_status("FeatureStoreDown", 22, 46, state="active")
        .am_status("ModelLatencyHigh", 24, 46, inhibited_by=["FeatureStoreDown"])
        .notification(25, "platform-oncall", "g1", both)
        .notification(50, "platform-oncall", "g1", both, status="resolved")
    )
    evidence = b.build()
    assert all(c.passed for c in judge(b.scenario, evidence))
    report = kill_report(b.scenario, evidence, judge)
    assert not report.survivors, [(o.mutant.how, o.check.detail) for o in report.survivors]
    assert {"pages", "inhibited", "grouped"} <= set(report.by_kind())
    hows = {o.mutant.how for o in report.outcomes}
    assert {
        "platform-oncall paged exactly 2 times",
        "platform-oncall paged exactly 0 times",
    } <= hows
    assert "inhibited by FeatureStoreErrors instead of FeatureStoreDown" in hows
    assert "GamedayMutantAlert grouped with FeatureStoreDown, FeatureStoreErrors" in hows
