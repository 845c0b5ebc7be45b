"""The probe schedule and thresholds, from observations alone (no stack)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gameday.sweep.param import Span
from gameday.sweep.search import Observation, next_magnitude, threshold

SPAN = Span.between(1.0, 100.0)


def seen(magnitude: float, fired: bool | None, marginal: bool = False) -> Observation:
    return Observation(magnitude, {"A": fired}, {"A": marginal})


def search(truth: Callable[[float], bool | None], budget: int, span: Span = SPAN) -> list[float]:
    """Run the schedule against a stack whose alert fires as ``truth`` says."""
    observations: list[Observation] = []
    while len(observations) < budget:
        m = next_magnitude(observations, ["A"], span)
        if m is None:
            break
        observations.append(seen(m, truth(m)))
    return [o.magnitude for o in observations]


def test_span_is_logarithmic_over_a_wide_range_and_linear_over_a_narrow_one() -> None:
    assert SPAN.scale == "log"
    assert SPAN.at(0.5) == 10.0
    assert Span.between(0.1, 0.3).scale == "linear"
    assert Span.between(-1.0, 1.0).scale == "linear"
    assert Span.between(0.5, 0.01).severity(0.01) == pytest.approx(1.0)


def test_the_schedule_probes_the_severe_end_then_the_mild_end_then_bisects() -> None:
    probed = search(lambda m: m >= 23.0, budget=8)
    assert probed[:3] == [100.0, 1.0, 10.0]
    found = threshold([seen(m, m >= 23.0) for m in probed], "A", SPAN)
    assert found.magnitude is not None and found.silent_at is not None
    assert found.silent_at < 23.0 <= found.magnitude
    assert found.magnitude / found.silent_at < 1.2  # 8 probes over 100x: within 20%


def test_a_threshold_is_high_confidence_once_its_bracket_is_narrow_and_clear() -> None:
    probed = search(lambda m: m >= 23.0, budget=12)
    found = threshold([seen(m, m >= 23.0) for m in probed], "A", SPAN)
    assert found.confidence == "high"
    assert next_magnitude([seen(m, m >= 23.0) for m in probed], ["A"], SPAN) is None
    assert len(probed) < 12  # it stops once resolved instead of spending the budget


def test_an_alert_that_never_fires_has_no_threshold_and_costs_two_probes() -> None:
    probed = search(lambda m: False, budget=8)
    assert probed == [100.0, 1.0]
    found = threshold([seen(m, False) for m in probed], "A", SPAN)
    assert found.magnitude is None and found.silent_at == 100.0
    assert found.confidence == "high"


def test_an_alert_that_fires_at_the_mildest_probe_says_so() -> None:
    found = threshold([seen(100.0, True), seen(1.0, True)], "A", SPAN)
    assert found.magnitude == 1.0 and found.silent_at is None
    assert "or milder" in found.note


def test_disagreeing_observations_are_repeated_and_lower_confidence() -> None:
    observations = [seen(100.0, True), seen(1.0, False), seen(10.0, True), seen(10.0, False)]
    assert next_magnitude(observations, ["A"], SPAN) == 10.0  # a tie: look again
    found = threshold(observations, "A", SPAN)
    assert found.confidence == "low"


def test_a_verdict_against_the_trend_is_probed_again() -> None:
    observations = [seen(100.0, True), seen(1.0, False), seen(10.0, False), seen(3.0, True)]
    assert next_magnitude(observations, ["A"], SPAN) == 3.0
    found = threshold(observations, "A", SPAN)
    assert found.magnitude == 100.0 and found.confidence == "low"
    assert "disagree" in found.note


def test_a_single_verdict_near_the_bound_is_repeated_once_the_bracket_is_narrow() -> None:
    observations = [seen(m, m >= 23.0) for m in search(lambda m: m >= 23.0, budget=12)]
    hi = threshold(observations, "A", SPAN).magnitude
    assert hi is not None
    near = [o if o.magnitude != hi else seen(hi, True, marginal=True) for o in observations]
    assert threshold(near, "A", SPAN).confidence == "medium"
    assert next_magnitude(near, ["A"], SPAN) == hi
    again = [*near, seen(hi, True)]
    assert threshold(again, "A", SPAN).confidence == "high"


def test_cannot_tell_is_never_a_verdict() -> None:
    observations = [seen(100.0, None), seen(1.0, None)]
    found = threshold(observations, "A", SPAN)
    assert found.magnitude is None and found.confidence == "low"
    assert next_magnitude(observations, ["A"], SPAN) in (1.0, 100.0)  # asked again


def test_several_alerts_share_probes_and_each_gets_its_threshold() -> None:
    def truth(m: float) -> dict[str, bool | None]:
        return {"A": m >= 5.0, "B": m >= 40.0}

    observations: list[Observation] = []
    for _ in range(10):
        m = next_magnitude(observations, ["A", "B"], SPAN)
        if m is None:
            break
        observations.append(Observation(m, truth(m), {}))
    a, b = threshold(observations, "A", SPAN), threshold(observations, "B", SPAN)
    assert a.magnitude and a.silent_at and a.silent_at < 5.0 <= a.magnitude
    assert b.magnitude and b.silent_at and b.silent_at < 40.0 <= b.magnitude


def test_a_descending_span_searches_from_mild_to_severe() -> None:
    span = Span.between(0.9, 0.01)  # e.g. a factor below 1: smaller is more severe
    probed = search(lambda m: m <= 0.2, budget=8, span=span)
    assert probed[:2] == [0.01, 0.9]
    found = threshold([seen(m, m <= 0.2) for m in probed], "A", span)
    assert found.magnitude is not None and found.silent_at is not None
    assert found.magnitude <= 0.2 < found.silent_at
