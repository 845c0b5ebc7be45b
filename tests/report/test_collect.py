"""Collecting report data from the stack's clients, with fakes standing in for the stack."""

from __future__ import annotations

import dataclasses
from typing import Any

from fixtures.runs import TRACE_ID, synthetic_record, synthetic_result, synthetic_trace

from gameday.errors import StackUnavailable
from gameday.report import collect
from gameday.report.collect import candidates
from gameday.telemetry.prometheus import Series
from gameday.telemetry.spans import Trace


class FakePrometheus:
    """ALERTS as Prometheus returns them: one series per alert state, a point per second."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        def series(state: str, a: float, b: float) -> Series:
            labels = {"alertname": "ModelLatencyHigh", "alertstate": state, "service": "ms"}
            points = tuple((self.t0 + t, 1.0) for t in range(int(a), int(b)))
            return Series(labels, points)

        found = [series("pending", 23, 26), series("firing", 26, 50)]
        if expr == "ALERTS":
            return found
        return found if "ModelLatencyHigh" in expr else []


class FakeTraces:
    def __init__(self, traces: dict[str, Trace]) -> None:
        self.traces = traces
        self.asked: list[str] = []

    def get_trace(self, trace_id: str) -> Trace | None:
        self.asked.append(trace_id)
        return self.traces.get(trace_id)


@dataclasses.dataclass
class FakeObserve:
    prometheus: Any
    traces: Any
    evaluation_interval: float = 1.0


def _with(observe: FakeObserve) -> Any:
    result = synthetic_result()
    result.record.observe = observe  # type: ignore[assignment]
    return result


def test_collect_reads_alert_episodes_and_a_slow_trace() -> None:
    t0 = synthetic_record().started_at
    traces = FakeTraces({TRACE_ID: synthetic_trace()})
    data = collect(_with(FakeObserve(FakePrometheus(t0), traces)))
    assert data.notes == ()
    [row] = data.alerts
    assert row.alert == "ModelLatencyHigh" and row.expected == "fires"
    [span] = row.spans
    assert (span.start, span.firing, span.end) == (23.0, 26.0, 50.0)
    assert data.waterfall is not None and data.waterfall.trace_id == TRACE_ID


def test_collect_notes_what_the_stack_could_not_give() -> None:
    class Down:
        def query_range(self, *args: object) -> list[Series]:
            raise StackUnavailable("prometheus is down")

    data = collect(_with(FakeObserve(Down(), FakeTraces({}))))
    assert any("alert episodes unavailable" in n and "prometheus is down" in n for n in data.notes)
    assert data.alerts == () and data.waterfall is None
    assert data.verdict == "fail" and len(data.checks) == 4  # the rest of the report stands


def test_trace_candidates_start_with_the_root_cause_examples() -> None:
    found = candidates(synthetic_result())
    first, why = next(found)
    assert first.trace_id == TRACE_ID and "root-cause" in why
    second, why = next(found)
    assert not second.ok and second.trace_id != TRACE_ID
    assert why == "failed request of the fault window"
