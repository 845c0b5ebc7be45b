"""The alert verifier on recorded evidence: each trust rule, passing and failing.

No stack: the evidence states exactly what Prometheus and Alertmanager showed.
"""

from __future__ import annotations

import pytest

from gameday.evidence.testing import EvidenceBuilder
from gameday.scenario.expectations import AlertExpectation
from gameday.verifiers.alerts import AlertVerifier
from gameday.verifiers.base import Check

SCENARIO = """
name: latency
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: network.latency, target: feature-store, params: {latency_ms: 800}}
expect:
  - {alert: ModelLatencyHigh, fires_within: 30s, receiver: ml-oncall}
  - {alert: FeatureNullRateHigh, silent: true}
  - {alert: ModelLatencyHigh, fires_within: 30s, labels: {service: model-server}}
"""


def builder() -> EvidenceBuilder:
    return (
        EvidenceBuilder(SCENARIO)
        .rule("ModelLatencyHigh", for_s=3)
        .rule("FeatureNullRateHigh", for_s=2)
        .healthy("ModelLatencyHigh")
        .healthy("FeatureNullRateHigh")
    )


def check(b: EvidenceBuilder, index: int) -> Check:
    expectation = b.scenario.expect[index]
    assert isinstance(expectation, AlertExpectation)
    return AlertVerifier().check(expectation, b.build())


def test_an_alert_firing_and_paging_within_its_bound_passes_with_its_detection_time() -> None:
    b = builder().episode("ModelLatencyHigh", pending=23, firing=26, resolved=50)
    b.webhook(26.2, "ml-oncall", "ModelLatencyHigh", fired_at=25.7)
    result = check(b, 0)
    assert result.passed, result.detail
    assert result.extra["detected_after_s"] == pytest.approx(5.6)
    assert "routed to ml-oncall" in result.detail


def test_an_alert_firing_after_its_bound_fails_as_too_late() -> None:
    b = builder().timeline(fault=50).episode("ModelLatencyHigh", pending=50, firing=55)
    b.webhook(55.2, "ml-oncall", "ModelLatencyHigh")
    result = check(b, 0)
    assert not result.passed and result.decided
    assert "fired too late" in result.detail


def test_an_alert_that_never_went_pending_fails() -> None:
    result = check(builder(), 0)
    assert not result.passed and result.decided
    assert "never went pending" in result.detail


def test_an_alert_pending_before_the_fault_cannot_be_credited_with_detecting_it() -> None:
    """A `for: 30s` rule pending 2 s before the fault fires 10 s into it: not a detection."""
    b = EvidenceBuilder(SCENARIO).rule("ModelLatencyHigh", for_s=30).healthy("ModelLatencyHigh")
    b.episode("ModelLatencyHigh", pending=18, firing=30, active_at=18.0)
    b.webhook(30.1, "ml-oncall", "ModelLatencyHigh", fired_at=30.0)
    result = check(b, 0)
    assert not result.passed and not result.decided
    assert "already pending when the fault was applied" in result.detail


def test_a_silent_alert_pending_before_the_fault_and_firing_under_it_is_not_silence() -> None:
    b = builder().episode("FeatureNullRateHigh", pending=18, firing=30, resolved=40)
    result = check(b, 1)
    assert not result.passed and not result.decided
    assert "neither a detection nor a silence" in result.detail


def test_a_bound_the_rule_cannot_meet_fails_with_the_arithmetic_even_if_it_fired() -> None:
    scenario = SCENARIO.replace("fires_within: 30s, receiver", "fires_within: 10s, receiver")
    b = EvidenceBuilder(scenario).rule("ModelLatencyHigh", for_s=30).healthy("ModelLatencyHigh")
    b.episode("ModelLatencyHigh", pending=20.5, firing=25)
    result = check(b, 0)
    assert not result.passed and result.decided
    assert "cannot fire within 10 s" in result.detail
    assert "for 30 s held over 1 s evaluations = 30 s" in result.detail


def test_group_wait_counts_toward_the_least_time_to_page_a_receiver() -> None:
    b = builder().group_wait("ml-oncall", 30.0)
    result = check(b, 0)
    assert not result.passed and "group_wait 30 s" in result.detail


def test_a_page_to_another_receiver_fails_the_receiver_check() -> None:
    b = builder().episode("ModelLatencyHigh", pending=23, firing=26, resolved=50)
    b.webhook(26.2, "platform-oncall", "ModelLatencyHigh")
    result = check(b, 0)
    assert not result.passed and "routed to platform-oncall, not ml-oncall" in result.detail


def test_a_page_after_the_bound_fails_even_when_the_alert_fired_in_time() -> None:
    b = builder().episode("ModelLatencyHigh", pending=23, firing=26, resolved=58)
    b.webhook(52.0, "ml-oncall", "ModelLatencyHigh")
    result = check(b, 0)
    assert not result.passed and "notified too late" in result.detail


def test_an_alert_firing_only_with_other_labels_fails_the_labelled_expectation() -> None:
    b = builder().episode(
        "ModelLatencyHigh", pending=23, firing=26, resolved=50, labels={"service": "trainer"}
    )
    result = check(b, 2)
    assert not result.passed and "fired only with other labels (service=trainer)" in result.detail


def test_an_expectation_naming_a_rule_prometheus_lacks_fails() -> None:
    b = EvidenceBuilder(SCENARIO).rule("FeatureNullRateHigh")
    result = check(b, 0)
    assert not result.passed and "no alerting rule ModelLatencyHigh" in result.detail


def test_without_prometheus_evidence_no_alert_check_is_decided() -> None:
    for index in (0, 1):
        result = check(builder().no_prometheus(), index)
        assert not result.passed and not result.decided


def test_silence_with_healthy_evaluations_and_present_inputs_passes() -> None:
    result = check(builder(), 1)
    assert result.passed, result.detail
    assert "healthy evaluations seen" in result.detail


def test_silence_with_a_pending_blip_that_never_fired_still_passes_and_says_so() -> None:
    result = check(builder().episode("FeatureNullRateHigh", pending=30, resolved=31), 1)
    assert result.passed and "pending 1x without firing" in result.detail


def test_an_alert_firing_under_the_fault_breaks_its_silence() -> None:
    b = builder().episode("FeatureNullRateHigh", pending=29, firing=32, labels={"feature": "x"})
    result = check(b, 1)
    assert not result.passed and result.decided
    assert "fired at +11.9 s after the fault (feature=x)" in result.detail


def test_silence_without_any_record_of_the_rule_being_evaluated_is_undecided() -> None:
    b = EvidenceBuilder(SCENARIO).rule("FeatureNullRateHigh")
    result = check(b, 1)
    assert not result.passed and not result.decided
    assert "no record of the rule's health" in result.detail


def test_silence_of_a_rule_that_errors_at_evaluation_is_undecided_with_the_error() -> None:
    b = EvidenceBuilder(SCENARIO).rule("FeatureNullRateHigh")
    b.healthy("FeatureNullRateHigh", health="err", error="many-to-many matching not allowed")
    result = check(b, 1)
    assert not result.passed and not result.decided
    assert "many-to-many matching not allowed" in result.detail


def test_silence_of_a_rule_that_stopped_being_evaluated_is_undecided() -> None:
    b = EvidenceBuilder(SCENARIO).rule("FeatureNullRateHigh")
    b.healthy("FeatureNullRateHigh", start=0, end=25)  # then the polls show nothing
    result = check(b, 1)
    assert not result.passed and not result.decided
    assert "unobserved" in result.detail


def test_silence_of_a_rule_whose_input_series_vanished_is_undecided() -> None:
    b = EvidenceBuilder(SCENARIO).rule("FeatureNullRateHigh")
    b.inputs("FeatureNullRateHigh", "pipeline_feature_nulls_total", 0, 22)
    b.healthy("FeatureNullRateHigh")
    result = check(b, 1)
    assert not result.passed and not result.decided
    assert "pipeline_feature_nulls_total existed at only" in result.detail


def test_silence_without_any_alerts_series_at_all_needs_the_health_evidence() -> None:
    """No ALERTS series is what a rule that never fired shows, and what a broken one shows."""
    b = EvidenceBuilder(SCENARIO).rule("FeatureNullRateHigh")
    assert not check(b, 1).decided
    assert check(b.healthy("FeatureNullRateHigh"), 1).passed


def test_the_fault_phase_may_end_once_the_alert_fired_but_not_before() -> None:
    verifier = AlertVerifier()
    expectation = builder().scenario.expect[0]
    assert isinstance(expectation, AlertExpectation)
    quiet = builder().build()
    live = quiet.model_copy(update={"captured_at": quiet.timeline.started_at + 25})
    assert not verifier.done(expectation, live, "fault")
    fired = builder().episode("ModelLatencyHigh", pending=23, firing=24).build()
    live = fired.model_copy(update={"captured_at": fired.timeline.started_at + 25})
    assert verifier.done(expectation, live, "fault")


def test_an_episode_stamped_a_scrape_before_the_fault_is_still_the_faults() -> None:
    """Prometheus stamps a scrape with its start: a kill's `up == 0` can predate the kill."""
    b = builder().episode("ModelLatencyHigh", pending=20.0, firing=23, active_at=19.95)
    b.webhook(23.2, "ml-oncall", "ModelLatencyHigh")
    assert check(b, 0).passed  # the fault was applied at +20.1 s


def test_an_episode_a_second_before_the_fault_is_an_earlier_one() -> None:
    b = builder().episode("ModelLatencyHigh", pending=19.0, firing=23, active_at=19.0)
    b.webhook(23.2, "ml-oncall", "ModelLatencyHigh")
    result = check(b, 0)
    assert not result.passed and not result.decided
