"""What the report reads from a run's evidence: alert rows from its episodes, the slow trace
from the traces the bundle holds, and notes for whatever the evidence lacks. No stack."""

from __future__ import annotations

import itertools

from fixtures.runs import TRACE_ID, judged, synthetic_builder, synthetic_result

from gameday.evidence.model import TracesEvidence
from gameday.report import collect
from gameday.report.collect import candidates


def test_alert_rows_come_from_the_episodes_expected_alerts_first() -> None:
    data = collect(synthetic_result())
    assert data.notes == ()
    assert [(r.alert, r.expected) for r in data.alerts] == [
        ("ModelLatencyHigh", "fires"),
        ("FeatureNullRateHigh", "silent"),
        ("ErrorBudgetBurn", ""),
    ]
    latency, nulls, burn = (row.spans for row in data.alerts)
    # times since the run started; firing is the first firing sample (evaluations every 1 s)
    assert [(s.start, s.firing, s.end, s.labels) for s in latency] == [
        (23.0, 27.0, 50.0, "service=model-server")
    ]
    assert [(s.start, s.firing, s.end) for s in nulls] == [(29.0, 32.0, 36.0)]
    assert [(s.start, s.firing, s.end) for s in burn] == [(30.0, None, 34.0)]


def test_an_episode_still_active_is_open_and_one_over_before_the_run_is_left_out() -> None:
    builder = synthetic_builder()
    builder.episode("ServiceDown", firing=-20, resolved=-10)  # resolved before the run began
    builder.episode("DriftHigh", pending=50, firing=54)  # never resolved
    rows = {r.alert: r.spans for r in collect(judged(builder)).alerts}
    assert "ServiceDown" not in rows
    [drift] = rows["DriftHigh"]
    assert (drift.start, drift.firing, drift.end) == (50.0, 54.0, None)


def test_the_slow_trace_is_the_root_cause_checks_slowest_example() -> None:
    data = collect(synthetic_result())
    assert data.waterfall is not None and data.waterfall.trace_id == TRACE_ID
    assert data.waterfall.why.startswith("slowest request analysed by the root-cause check: 950")
    assert [s.name for s in data.waterfall.spans][:2] == ["POST /predict", "feature_store.get"]


def test_the_slow_trace_is_one_the_bundle_holds() -> None:
    """An example whose spans the backend never returned is passed over for the next one."""
    result = synthetic_result()
    traces = result.evidence.traces
    lost = traces.model_copy(update={"traces": {**traces.traces, TRACE_ID: None}})
    result.evidence = result.evidence.model_copy(update={"traces": lost})
    examples = result.checks[1].evidence["examples"]
    assert isinstance(examples, list) and examples[0] == TRACE_ID
    waterfall = collect(result).waterfall
    assert waterfall is not None and waterfall.trace_id == examples[1]
    assert waterfall.why.startswith("slowest request analysed by the root-cause check")


def test_trace_candidates_start_with_the_root_cause_examples_then_failed_requests() -> None:
    result = synthetic_result()
    examples = result.checks[1].evidence["examples"]
    assert isinstance(examples, list) and examples[0] == TRACE_ID
    found = list(itertools.islice(candidates(result), len(examples) + 1))
    assert [r.trace_id for r, _ in found[:-1]] == examples
    assert all("root-cause" in why for _, why in found[:-1])
    after, why = found[-1]
    assert not after.ok and after.trace_id not in examples
    assert why == "failed request of the fault window"


def test_without_a_root_cause_check_a_failed_request_of_the_fault_window_is_shown() -> None:
    result = synthetic_result()
    result.checks = [c for c in result.checks if c.kind != "root_cause"]
    waterfall = collect(result).waterfall
    assert waterfall is not None
    assert waterfall.why.startswith("failed request of the fault window")
    assert waterfall.why.endswith("failed (status 504)")
    assert [s.name for s in waterfall.spans if s.error] == ["POST /predict", "feature_store.get"]


def test_collect_notes_what_the_evidence_lacks_and_the_rest_of_the_report_stands() -> None:
    builder = synthetic_builder().no_prometheus()
    builder.traces(TracesEvidence(error="tempo at http://127.0.0.1:3200 did not answer"))
    data = collect(judged(builder))
    assert data.notes == (
        "alert episodes unavailable: no Prometheus evidence in the bundle",
        "traces unavailable: tempo at http://127.0.0.1:3200 did not answer",
    )
    assert data.alerts == () and data.waterfall is None and data.unnamed == ()
    # every check is still shown, and none passes on evidence that is not there
    assert data.verdict == "fail" and len(data.checks) == 4
    assert not any(c.passed for c in data.checks if c.kind in ("alert", "root_cause"))
    assert data.load.requests == 600 and len(data.buckets) == 60


def test_collect_notes_alert_evidence_that_could_only_be_read_in_part() -> None:
    result = synthetic_result()
    alerts = result.evidence.alerts
    assert alerts is not None
    partial = alerts.model_copy(update={"errors": ("rules: prometheus answered 503",)})
    result.evidence = result.evidence.model_copy(update={"alerts": partial})
    data = collect(result)
    assert data.notes == ("alert evidence incomplete: rules: prometheus answered 503",)
    assert [r.alert for r in data.alerts] == [  # what was read is shown
        "ModelLatencyHigh",
        "FeatureNullRateHigh",
        "ErrorBudgetBurn",
    ]
