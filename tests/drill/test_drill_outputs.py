"""What a drill writes and shows: the post-mortem template, the outcome, the evidence as text,
the facilitator's sheet, and the console that keeps the fault from the trainee."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from fixtures.drill_harness import ENV, LATENCY, alert, catalogue, conversation
from fixtures.runs import T0 as RUN_T0
from fixtures.runs import TRACE_ID, judged, synthetic_builder, synthetic_result

from gameday.drill.answers import answer_key
from gameday.drill.evidence import bar_chart, evidence_lines, waterfall_text
from gameday.drill.hints import breakdown
from gameday.drill.outcome import DrillOutcome, write_json
from gameday.drill.postmortem import Facts, render, run_events
from gameday.drill.sheet import Event, Sheet, TraineeConsole
from gameday.drill.trainee import Given, Score, Stage
from gameday.evidence.requests import LoadStats
from gameday.report.data import RootCause, ShareRow, Waterfall, WaterfallSpan
from gameday.scenario.model import load_scenario
from gameday.telemetry.spans import SPAN_KIND_CLIENT, SPAN_KIND_SERVER, Span, Trace

T0 = 1_700_000_000.0
BLAME = re.compile(
    r"\b(mistake|fault of|failed to|should have|careless|human error|negligen|wrong|gave up|"
    r"blame[ds]?\b)",
    re.IGNORECASE,
)


def _facts(**changes: object) -> Facts:
    facts = {
        "scenario": "feature-store-latency",
        "summary": "The feature store answers\n 800 ms late.",
        "faults": ["network.latency on feature-store (latency_ms=800)"],
        "answer": "feature-store link / network",
        "ended": "diagnosed",
        "paged_by": "ModelLatencyHigh",
        "fault_at": T0,
        "time_to_acknowledge_s": 4.0,
        "time_to_diagnosis_s": 30.5,
        "ruled_out": 2,
        "hints": 1,
        "baseline": LoadStats(100, 0, 20.0, 40.0, 10.0),
        "under_fault": LoadStats(80, 1, 800.0, 900.0, 8.0),
        "events": [
            Event(T0 + 30.5, "diagnosed: feature-store link / network"),
            Event(T0, "fault applied: network.latency on feature-store", "fault"),
            Event(T0 + 6, "alert firing: ModelLatencyHigh (service=model-server)", "alert"),
            Event(T0 + 10, "acknowledged"),
            Event(T0 + 31, "fault reverted: network.latency@feature-store", "fault"),
            Event(T0 - 5, "drill started", "run"),
        ],
    }
    return Facts(**{**facts, **changes})  # type: ignore[arg-type]


def test_the_postmortem_holds_the_timeline_in_order_and_blank_sections_to_fill_in() -> None:
    text = render(_facts())
    rows = [line for line in text.splitlines() if line.startswith("| ") and " s |" in line]
    assert [r.split("|")[2].strip() for r in rows] == [
        "-5.0 s",
        "+0.0 s",
        "+6.0 s",
        "+10.0 s",
        "+30.5 s",
        "+31.0 s",
    ]
    assert "fault applied" in rows[1] and "acknowledged" in rows[3] and "reverted" in rows[5]
    for heading in (
        "## Summary",
        "## Timeline",
        "## Impact",
        "## Contributing factors",
        "## What went well",
        "## Action items",
    ):
        assert f"\n{heading}\n" in text
    assert text.rstrip().endswith("|  |  |  |  |")  # the action items: one empty row
    assert "**Time to acknowledge:** 4.0 s" in text and "hypotheses ruled out on the way: 2" in text
    assert "The feature store answers 800 ms late." in text


def _conversation_events() -> list[Event]:
    """The events a real conversation notes: paged, two hypotheses ruled out, given up."""
    talk = conversation()
    talk.firing.append(alert("ModelLatencyHigh"))
    talk.answer("ack", "pipeline", "data", "model-server", "process", "give up")
    talk.step_until(lambda: talk.trainee.stage is Stage.DONE, "over")
    return talk.trainee.events


def test_the_postmortem_uses_no_blame_language_whatever_happened() -> None:
    for facts in (
        _facts(),
        _facts(ended="gave up", time_to_diagnosis_s=None, events=_conversation_events()),
        _facts(ended="time up", paged_by="report"),
        _facts(aborted="interrupted"),
    ):
        text = render(facts)
        assert "blameless" in text.lower()
        assert not BLAME.findall(text.replace("Blameless", "").replace("blameless", ""))


def test_the_run_side_of_the_timeline_is_read_from_the_evidence_alone() -> None:
    """Faults, alert episodes (firing at Prometheus's FiredAt from the notification), the
    notification and the recovery, from the bundle's evidence: no stack."""
    events, notes = run_events(synthetic_result().evidence)
    assert notes == []
    timeline = [(round(e.at - RUN_T0, 1), e.source, e.what) for e in sorted(events, key=_at)]
    assert timeline[:2] == [
        (0.0, "run", "drill started"),
        (20.0, "fault", "fault applied: network.latency on feature-store (latency_ms=800, "
                        "jitter_ms=0, stream=downstream, toxicity=1.0)"),
    ]  # fmt: skip
    assert (26.2, "alert", "alert firing: ModelLatencyHigh (service=model-server)") in timeline
    assert (26.6, "alert", "alert notified: ModelLatencyHigh to ml-oncall") in timeline
    assert (32.0, "alert", "alert firing: FeatureNullRateHigh (feature=channel)") in timeline
    assert (34.0, "alert", "alert resolved: ErrorBudgetBurn") in timeline
    assert (45.0, "fault", "fault reverted: network.latency@feature-store") in timeline
    assert timeline[-1] == (50.0, "run", "recovered: every alert resolved")


def test_the_timeline_notes_alert_evidence_the_bundle_lacks() -> None:
    events, notes = run_events(judged(synthetic_builder().no_prometheus()).evidence)
    assert notes == ["alert episodes unavailable: no Prometheus evidence in the bundle"]
    assert not [e for e in events if e.what.startswith("alert pending")]
    assert [e.what for e in events if e.source == "fault"][1] == (
        "fault reverted: network.latency@feature-store"
    )


def test_the_revealed_evidence_shows_the_root_cause_bars_and_the_slow_trace() -> None:
    lines = evidence_lines(synthetic_result(), {"feature-store"})
    assert "  (under the fault: 250 traces; the baseline's slowest: 10 traces; * = the answer)" in (
        lines
    )
    store = lines.index(next(line for line in lines if line.startswith("  feature-store *")))
    assert lines[store].endswith(" 93%") and lines[store + 1].endswith(" 30%")
    assert any(line.startswith(f"Trace {TRACE_ID} (slowest request analysed") for line in lines)


def _at(event: Event) -> float:
    return event.at


def test_the_outcome_file_holds_answer_answers_times_and_timeline(tmp_path: Path) -> None:
    scenario = load_scenario(LATENCY)
    score = Score(
        fault_at=T0,
        paged_at=T0 + 6,
        paged_by="ModelLatencyHigh",
        origin=T0 + 5,
        acked_at=T0 + 9,
        diagnosed_at=T0 + 25,
        ended="diagnosed",
        given=[
            Given(T0 + 20, "pipeline", "data", False),
            Given(T0 + 25, "feature-store-link", "network", True),
        ],
    )
    outcome = DrillOutcome(
        scenario.name,
        7,
        answer_key(scenario, ENV),
        score,
        [Event(T0 + 9, "acknowledged"), Event(T0, "fault applied", "fault")],
    )
    write_json(tmp_path / "out.json", outcome)
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["scenario"] == "drill-latency" and data["seed"] == 7
    assert data["answer"]["component"] == "feature-store-link"
    assert data["answer"]["accepted"][0]["components"] == ["feature-store-link", "feature-store"]
    assert (data["wrong"], data["correct"]) == (1, True)
    assert (data["time_to_acknowledge_s"], data["time_to_diagnosis_s"]) == (4.0, 20.0)
    assert [e["event"] for e in data["timeline"]] == ["fault applied", "acknowledged"]


def test_root_cause_shares_read_as_bars_and_their_absence_is_explained() -> None:
    rc = RootCause(
        (ShareRow("feature-store", 0.1, 0.95, True), ShareRow("model-server", 0.9, 0.05, False)),
        120,
        30,
        True,
    )
    lines = bar_chart(rc)
    assert "120 traces" in lines[1]
    fault_row = next(line for line in lines if line.startswith("  feature-store *"))
    assert fault_row.count("#") == round(30 * 0.95) and fault_row.endswith(" 95%")
    assert "traces do not show this one" in " ".join(bar_chart(None))


def test_the_waterfall_marks_the_critical_path_and_errors() -> None:
    wf = Waterfall(
        "abc",
        "slowest request",
        100.0,
        (
            WaterfallSpan(
                "1",
                "model-server",
                "POST /predict",
                0,
                0.0,
                100.0,
                False,
                ((0.0, 5.0), (95.0, 100.0)),
            ),
            WaterfallSpan(
                "2", "model-server", "feature_store.get", 1, 5.0, 95.0, True, ((5.0, 95.0),)
            ),
        ),
    )
    lines = waterfall_text(wf)
    root, call = lines[2], lines[3]
    assert "|##" in root and "-" in root and root.endswith("100.0 ms")
    assert call.startswith("    model-server · feature_store.get") and call.endswith("ERROR")
    assert "(no trace" in waterfall_text(None)[0]


def test_the_trace_hint_says_which_service_a_client_span_waited_on() -> None:
    def span(
        sid: str,
        parent: str | None,
        name: str,
        service: str,
        a: int,
        b: int,
        kind: int,
        **attributes: str,
    ) -> Span:
        return Span(
            "t",
            sid,
            parent,
            name,
            service,
            a * 1_000_000,
            b * 1_000_000,
            kind,
            attributes=attributes,
        )

    trace = Trace(
        "t",
        (
            span("1", None, "POST /predict", "model-server", 0, 100, SPAN_KIND_SERVER),
            span(
                "2",
                "1",
                "feature_store.get",
                "model-server",
                2,
                98,
                SPAN_KIND_CLIENT,
                **{"peer.service": "feature-store"},
            ),
            span("3", "2", "GET /features", "feature-store", 90, 97, SPAN_KIND_SERVER),
        ),
    )
    lines = breakdown(trace)
    assert "feature_store.get (client call to feature-store)" in lines[0]
    assert " 89%" in lines[0]


def test_the_trainee_console_hides_the_fault_and_the_sheet_keeps_everything(
    tmp_path: Path,
) -> None:
    sheet = Sheet(tmp_path / "sheet.md")
    scenario = catalogue("feature-store-latency")
    sheet.header(scenario, answer_key(scenario, ENV), 42, 600)
    screen = io.StringIO()
    console = TraineeConsole(screen, sheet)
    console.event("fault applied: network.latency on feature-store {'latency_ms': 800}")
    console.event("load: 10 users against http://127.0.0.1:1")
    console.event("aborted: guard breached in fault: p95 over 500 ms; every fault reverted")
    console.status("fault", 10, LoadStats(1, 0, 1.0, 1.0, 1.0), ["ModelLatencyHigh"])
    shown = screen.getvalue()
    assert "network.latency" not in shown and "load: 10 users" in shown and "aborted:" in shown
    written = (tmp_path / "sheet.md").read_text()  # flushed as it happens, before close
    assert "scenario: feature-store-latency" in written and "seed:     42" in written
    assert "component feature-store-link or feature-store; family network" in written
    assert "[run] fault applied: network.latency on feature-store" in written
    sheet.close()
