"""Recovery, SLO, data-quality and model verifiers on recorded evidence: pass, fail, undecided."""

from __future__ import annotations

from gameday.evidence.testing import EvidenceBuilder
from gameday.scenario.expectations import (
    DataQualityExpectation,
    ModelExpectation,
    RecoveredExpectation,
    SloExpectation,
)
from gameday.verifiers.data_quality import DataQualityVerifier
from gameday.verifiers.model import ModelVerifier
from gameday.verifiers.recovery import RecoveryVerifier
from gameday.verifiers.slo import SloVerifier

SCENARIO = """
name: outage
load: {users: 5}
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: network.down, target: feature-store}
expect:
  - recovered: {within: 10s}
  - slo: {phase: fault, error_rate_below: 0.05, p95_below_ms: 500}
"""

DATA = """
name: bad-batch
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: data.corrupt_batch, target: upstream, params: {fraction: 0.2}}
expect:
  - data_quality: {corrupt_rows_stored: 0, bad_batches_quarantined: all}
  - model: {version_changed: false}
"""


def recovered(b: EvidenceBuilder) -> tuple[bool, bool, str]:
    exp = b.scenario.expect[0]
    assert isinstance(exp, RecoveredExpectation)
    c = RecoveryVerifier().check(exp, b.build())
    return c.passed, c.decided, c.detail


def outage() -> EvidenceBuilder:
    return EvidenceBuilder(SCENARIO).rule("ServiceDown").steady_load(fault_errors=0.5)


def test_alerts_resolving_within_the_bound_and_load_back_to_baseline_recover() -> None:
    passed, _, detail = recovered(
        outage().episode("ServiceDown", pending=21, firing=23, resolved=49)
    )
    assert passed, detail
    assert "resolved, the last 4.0 s after the revert" in detail


def test_an_alert_resolving_after_the_bound_fails_recovery() -> None:
    b = outage().timeline(recovery=30).episode("ServiceDown", pending=21, firing=23, resolved=60)
    passed, decided, detail = recovered(b)
    assert not passed and decided
    assert "ServiceDown resolved 15.0 s after the revert (bound 10 s)" in detail


def test_an_alert_never_resolving_fails_recovery_once_the_bound_was_watched() -> None:
    passed, decided, detail = recovered(outage().episode("ServiceDown", pending=21, firing=23))
    assert not passed and decided and "ServiceDown never resolved" in detail


def test_a_run_ending_before_the_bound_with_the_alert_still_on_is_undecided() -> None:
    b = outage().timeline(recovery=5).episode("ServiceDown", pending=21, firing=23)
    passed, decided, detail = recovered(b)
    assert not passed and not decided and "cannot tell" in detail


def test_a_load_still_failing_after_the_revert_fails_recovery() -> None:
    b = EvidenceBuilder(SCENARIO).rule("ServiceDown")
    b.steady_load(fault_errors=0.5)
    records = b._records  # still failing after the revert: every recovery request errors
    b.requests(
        [
            r if r.t < b.t0 + 45 else type(r)(r.t, r.ms, False, 500, r.name, r.trace_id)
            for r in records
        ]
    )
    passed, decided, detail = recovered(b)
    assert not passed and decided and "load NOT back to baseline" in detail


def test_recovery_without_any_revert_is_undecided() -> None:
    b = outage()
    b.fault(0, reverted=None)
    b._faults[0].reverted = None
    passed, decided, _ = recovered(b)
    assert not passed and not decided


def slo(b: EvidenceBuilder) -> tuple[bool, bool, str]:
    exp = b.scenario.expect[1]
    assert isinstance(exp, SloExpectation)
    c = SloVerifier().check(exp, b.build())
    return c.passed, c.decided, c.detail


def test_a_fault_phase_within_its_slo_passes() -> None:
    assert slo(EvidenceBuilder(SCENARIO).steady_load(fault_ms=100))[0]


def test_a_fault_phase_over_its_latency_or_error_bound_fails() -> None:
    passed, decided, detail = slo(EvidenceBuilder(SCENARIO).steady_load(fault_ms=800))
    assert not passed and decided and "over bound: p95" in detail
    passed, _, detail = slo(EvidenceBuilder(SCENARIO).steady_load(fault_errors=0.5))
    assert not passed and "over bound: error rate" in detail


def test_an_slo_with_no_request_to_measure_is_undecided() -> None:
    passed, decided, _ = slo(EvidenceBuilder(SCENARIO))
    assert not passed and not decided


def data(b: EvidenceBuilder) -> tuple[bool, bool, str]:
    exp = b.scenario.expect[0]
    assert isinstance(exp, DataQualityExpectation)
    c = DataQualityVerifier().check(exp, b.build())
    return c.passed, c.decided, c.detail


def bad_batches(*ids: str) -> EvidenceBuilder:
    return EvidenceBuilder(DATA).fault(0, reverted_evidence={"batches": list(ids), "rows": 40})


def test_every_bad_batch_quarantined_and_none_stored_passes_data_quality() -> None:
    b = bad_batches("b1", "b2").books({"b1": 0, "b2": 0}, {"b1": ["garbage"], "b2": ["garbage"]})
    passed, _, detail = data(b)
    assert passed, detail


def test_rows_of_a_bad_batch_reaching_the_feature_store_fail_data_quality() -> None:
    b = bad_batches("b1", "b2").books({"b1": 0, "b2": 37}, {"b1": ["garbage"], "b2": ["garbage"]})
    passed, decided, detail = data(b)
    assert not passed and decided and "rows stored from b2" in detail


def test_a_bad_batch_missing_from_quarantine_fails_data_quality() -> None:
    b = bad_batches("b1", "b2").books({"b1": 0, "b2": 0}, {"b1": ["garbage"]})
    passed, decided, detail = data(b)
    assert not passed and decided and "not quarantined: b2" in detail


def test_data_quality_without_the_books_or_without_bad_batches_is_undecided() -> None:
    assert not data(bad_batches("b1"))[1]
    assert not data(bad_batches().books({}, {}))[1]


def model(b: EvidenceBuilder) -> tuple[bool, bool, str]:
    exp = b.scenario.expect[1]
    assert isinstance(exp, ModelExpectation)
    c = ModelVerifier().check(exp, b.build())
    return c.passed, c.decided, c.detail


def test_an_unchanged_serving_version_passes_and_a_promotion_fails_version_changed_false() -> None:
    assert model(EvidenceBuilder(DATA).versions(("v1", 0, 60)))[0]
    passed, decided, detail = model(EvidenceBuilder(DATA).versions(("v1", 0, 30), ("v2", 31, 60)))
    assert not passed and decided and "v1 -> v2" in detail


def test_a_serving_version_that_was_never_seen_is_undecided() -> None:
    passed, decided, _ = model(EvidenceBuilder(DATA))
    assert not passed and not decided
    passed, decided, _ = model(EvidenceBuilder(DATA).versions())
    assert not passed and not decided
