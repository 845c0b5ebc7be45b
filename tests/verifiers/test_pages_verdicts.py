"""Pages, inhibition and grouping verdicts on recorded Alertmanager evidence."""

from __future__ import annotations

from gameday.evidence.testing import EvidenceBuilder
from gameday.scenario.expectations import (
    GroupedExpectation,
    InhibitedExpectation,
    PagesExpectation,
)
from gameday.verifiers.base import Check
from gameday.verifiers.pages import GroupedVerifier, InhibitedVerifier, PagesVerifier

SCENARIO = """
name: feature-store-down
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: network.down, target: feature-store}
expect:
  - pages: {receiver: platform-oncall, %s}
  - inhibited: {alert: ModelLatencyHigh, by: FeatureStoreDown}
  - grouped: {alerts: [FeatureStoreDown, FeatureStoreErrors], receiver: platform-oncall}
"""

GROUP = '{}:{alertname="FeatureStoreDown"}'


def builder(bound: str = "at_most: 1") -> EvidenceBuilder:
    return EvidenceBuilder(SCENARIO % bound)


def pages(b: EvidenceBuilder) -> Check:
    exp = b.scenario.expect[0]
    assert isinstance(exp, PagesExpectation)
    return PagesVerifier().check(exp, b.build())


def inhibited(b: EvidenceBuilder) -> Check:
    exp = b.scenario.expect[1]
    assert isinstance(exp, InhibitedExpectation)
    return InhibitedVerifier().check(exp, b.build())


def grouped(b: EvidenceBuilder) -> Check:
    exp = b.scenario.expect[2]
    assert isinstance(exp, GroupedExpectation)
    return GroupedVerifier().check(exp, b.build())


def one_page(b: EvidenceBuilder) -> EvidenceBuilder:
    """The platform receiver paged once: first delivery, a repeat, a resolved one."""
    both = ["FeatureStoreDown", "FeatureStoreErrors"]
    return (
        b.notification(25, "platform-oncall", GROUP, both)
        .notification(40, "platform-oncall", GROUP, both)
        .notification(50, "platform-oncall", GROUP, both, status="resolved")
    )


# --- pages --------------------------------------------------------------------------------------


def test_one_group_with_repeats_and_resolved_is_one_page() -> None:
    check = pages(one_page(builder()))
    assert check.passed, check.detail
    assert check.extra == {"pages": 1}
    groups = check.evidence["groups"]
    assert isinstance(groups, list) and len(groups) == 1
    group = groups[0]
    assert group == {
        "group_key": GROUP,
        "first_after_fault_s": 4.9,
        "alerts": ["FeatureStoreDown", "FeatureStoreErrors"],
        "repeats": 1,
        "resolved": 1,
    }


def test_a_second_group_breaks_at_most_one_and_is_listed() -> None:
    b = one_page(builder()).notification(30, "platform-oncall", "{}:{model}", ["ModelLatencyHigh"])
    check = pages(b)
    assert not check.passed and check.decided
    assert "got 2 pages" in check.detail and "ModelLatencyHigh" in check.detail


def test_pages_to_other_receivers_and_before_the_fault_do_not_count() -> None:
    b = (
        builder("exactly: 0")
        .sink()
        .notification(10, "platform-oncall", "{}:{baseline}", ["Noise"])
        .notification(30, "model-team", GROUP, ["ModelLatencyHigh"])
    )
    check = pages(b)
    assert check.passed, check.detail


def test_at_least_fails_when_the_sink_got_nothing() -> None:
    check = pages(builder("at_least: 1").sink())
    assert not check.passed and check.decided
    assert "got 0 pages" in check.detail


def test_exactly_counts_groups_not_deliveries() -> None:
    assert pages(one_page(builder("exactly: 1"))).passed
    assert not pages(one_page(builder("exactly: 2"))).passed


def test_pages_without_any_notification_evidence_are_undecided() -> None:
    check = pages(builder())
    assert not check.passed and not check.decided
    assert "no notification evidence" in check.detail


def test_pages_from_the_api_decide_only_what_the_instances_bound() -> None:
    one = builder("at_most: 1").sighting(24, "FeatureStoreDown", ["platform-oncall"])
    assert pages(one).passed
    two = (
        builder("at_most: 1")
        .sighting(24, "A", ["platform-oncall"])
        .sighting(25, "B", ["platform-oncall"])
    )
    check = pages(two)
    assert not check.passed and not check.decided
    assert "between 1 and 2" in check.detail
    none = builder("at_least: 1").polled()
    assert not pages(none).passed and pages(none).decided


# --- inhibited ----------------------------------------------------------------------------------


def fired(b: EvidenceBuilder) -> EvidenceBuilder:
    return (
        b.episode("FeatureStoreDown", pending=21, firing=22, resolved=47)
        .episode("ModelLatencyHigh", pending=22, firing=24, resolved=48)
        .am_status("FeatureStoreDown", 22, 46, state="active")
    )


def test_an_alert_firing_and_inhibited_by_the_named_alert_passes() -> None:
    b = fired(builder()).am_status("ModelLatencyHigh", 24, 46, inhibited_by=["FeatureStoreDown"])
    check = inhibited(b)
    assert check.passed, check.detail
    assert "inhibited by FeatureStoreDown from +4s to +26s" in check.detail


def test_an_alert_that_never_fired_is_not_inhibited() -> None:
    b = (
        builder()
        .episode("FeatureStoreDown", firing=22)
        .am_status("FeatureStoreDown", 22, 46, state="active")
    )
    check = inhibited(b)
    assert not check.passed and check.evidence["reason"] == "never_active"


def test_an_alert_active_in_alertmanager_but_never_inhibited_fails() -> None:
    b = fired(builder()).am_status("ModelLatencyHigh", 24, 46, state="active")
    check = inhibited(b)
    assert not check.passed and check.evidence["reason"] == "not_inhibited"
    assert "showed it active" in check.detail


def test_inhibited_by_another_alert_names_the_other_one() -> None:
    b = fired(builder()).am_status("ModelLatencyHigh", 24, 46, inhibited_by=["NodeDown"])
    check = inhibited(b)
    assert not check.passed and check.evidence["reason"] == "other_inhibitor"
    assert "inhibited by NodeDown, never by FeatureStoreDown" in check.detail


def test_a_notification_of_the_alert_fails_even_when_it_was_inhibited_at_times() -> None:
    b = (
        fired(builder())
        .am_status("ModelLatencyHigh", 30, 46, inhibited_by=["FeatureStoreDown"])
        .notification(26, "model-team", "{}:{model}", ["ModelLatencyHigh"])
    )
    check = inhibited(b)
    assert not check.passed and check.evidence["reason"] == "notified"
    assert "model-team" in check.detail


def test_inhibited_without_alertmanager_api_evidence_is_undecided() -> None:
    b = builder().episode("ModelLatencyHigh", firing=24).sink()
    check = inhibited(b)
    assert not check.passed and not check.decided
    assert "no Alertmanager API evidence" in check.detail


def test_inhibited_without_prometheus_is_undecided() -> None:
    check = inhibited(builder().polled().no_prometheus())
    assert not check.passed and not check.decided


# --- grouped ------------------------------------------------------------------------------------


def test_alerts_arriving_in_one_group_pass() -> None:
    check = grouped(one_page(builder()))
    assert check.passed, check.detail
    assert check.evidence["groups"] == {GROUP: ["FeatureStoreDown", "FeatureStoreErrors"]}


def test_alerts_split_over_two_groups_fail_listing_them() -> None:
    b = (
        builder()
        .notification(25, "platform-oncall", "g1", ["FeatureStoreDown"])
        .notification(27, "platform-oncall", "g2", ["FeatureStoreErrors"])
    )
    check = grouped(b)
    assert not check.passed and check.decided
    assert "2 groups (at most 1): g1: FeatureStoreDown; g2: FeatureStoreErrors" in check.detail


def test_an_alert_that_never_reached_the_receiver_fails() -> None:
    b = builder().notification(25, "platform-oncall", "g1", ["FeatureStoreDown"])
    b.notification(27, "model-team", "g2", ["FeatureStoreErrors"])
    check = grouped(b)
    assert not check.passed and check.evidence["missing"] == ["FeatureStoreErrors"]


def test_grouped_without_webhook_evidence_is_undecided() -> None:
    check = grouped(builder().sighting(24, "FeatureStoreDown", ["platform-oncall"]))
    assert not check.passed and not check.decided
