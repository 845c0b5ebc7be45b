"""A probe's impact, computed from its evidence alone."""

from __future__ import annotations

import pytest

from gameday.evidence.testing import EvidenceBuilder
from gameday.sweep.impact import Measured, impact_of, rebased

SCENARIO = """
name: nulls
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: data.null_column, target: upstream, params: {column: amount, fraction: 0.2}}
expect:
  - {alert: FeatureNullRateHigh, fires_within: 20s}
"""


def test_error_rate_and_latency_compare_the_fault_phase_with_the_baseline() -> None:
    evidence = EvidenceBuilder(SCENARIO).steady_load(fault_ms=200.0, fault_errors=0.25).build()
    found = impact_of(evidence)
    assert found["error_rate"].baseline == 0.0
    assert found["error_rate"].harm == pytest.approx(0.25, abs=0.02)
    assert found["p95_ms"].harm == pytest.approx(180.0, abs=10.0)


def test_each_measure_moves_in_its_own_harmful_direction() -> None:
    evidence = (
        EvidenceBuilder(SCENARIO)
        .steady_load()
        .measure("auc", baseline=0.9, fault=0.7, harm="drop")
        .measure("psi", baseline=0.05, fault=0.02, harm="rise")
        .measure("score_mean", baseline=0.30, fault=0.25, harm="change")
        .build()
    )
    found = impact_of(evidence)
    assert found["auc"].harm == pytest.approx(0.2)
    assert found["psi"].harm == pytest.approx(-0.03)  # it fell: no harm, said as negative
    assert found["score_mean"].harm == pytest.approx(0.05)


def test_of_several_series_the_one_that_moved_most_is_reported() -> None:
    evidence = (
        EvidenceBuilder(SCENARIO)
        .steady_load()
        .measure("score_mean", 0.3, 0.31, labels={"model": "fraud"})
        .measure("score_mean", 0.5, 0.2, labels={"model": "ranking"})
        .build()
    )
    found = impact_of(evidence)["score_mean"]
    assert found.harm == pytest.approx(0.3)
    assert "ranking" in found.note


def test_a_measure_that_could_not_be_read_is_not_measured_never_zero() -> None:
    evidence = (
        EvidenceBuilder(SCENARIO)
        .measure("auc", 0.9, 0.9, harm="drop", error="query failed: 503")
        .build()
    )
    found = impact_of(evidence)
    assert found["auc"].harm is None and "503" in found["auc"].note
    assert found["error_rate"].harm is None  # no requests at all: not a zero error rate
    assert "fewer than" in found["error_rate"].note


def test_a_run_that_never_reached_its_fault_has_no_impact() -> None:
    built = EvidenceBuilder(SCENARIO).steady_load().abort("steady state never held").build()
    never = tuple(f.model_copy(update={"applied_at": None}) for f in built.timeline.faults)
    baseline_only = {"baseline": built.timeline.phases["baseline"]}
    timeline = built.timeline.model_copy(update={"phases": baseline_only, "faults": never})
    assert impact_of(built.model_copy(update={"timeline": timeline})) == {}


def test_a_sweep_measures_every_probe_against_one_typical_baseline() -> None:
    def run(baseline: float, fault: float) -> dict[str, Measured]:
        return {"score_mean": Measured("score_mean", "change", "", baseline, fault,
                                       abs(fault - baseline))}  # fmt: skip

    # The third probe's baseline still carries the previous probe's fault (0.07, not 0.04):
    # against its own baseline it would show a change of 0.02, and in the wrong direction.
    probes = rebased([run(0.04, 0.04), run(0.04, 0.05), run(0.07, 0.05)])
    assert [p["score_mean"].reference for p in probes] == [0.04, 0.04, 0.04]
    assert [p["score_mean"].harm for p in probes] == pytest.approx([0.0, 0.01, 0.01])
    assert probes[2]["score_mean"].baseline == 0.07  # its own baseline is still reported
