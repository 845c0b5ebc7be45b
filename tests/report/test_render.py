"""The HTML report from synthetic runs: what the page says and draws, with no stack at all."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from fixtures.runs import TRACE_ID, judged, synthetic_builder, synthetic_result, synthetic_trace

from gameday.evidence.requests import from_columns
from gameday.report import assemble, collect, render_html, render_index
from gameday.report.data import buckets, waterfall
from gameday.report.svg import nice_ticks


def _report(**kw: object) -> str:
    """The page ``gameday report`` writes for the synthetic run (from its evidence alone)."""
    return render_html(collect(synthetic_result(**kw)))  # type: ignore[arg-type]


def _svgs(page: str) -> list[ET.Element]:
    """Every inline SVG of the page, parsed as XML (so each one is well formed)."""
    return [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", page, flags=re.S)]


def test_buckets_are_per_second_with_percentiles_and_error_rate() -> None:
    result = synthetic_result()
    requests = from_columns(result.evidence.load.requests)
    rows = buckets(requests, result.started_at, result.finished_at)
    assert len(rows) == 60
    assert all(b.requests == 10 for b in rows)
    assert rows[5].p95_ms is not None and rows[5].p95_ms < 40
    assert rows[30].p50_ms is not None and rows[30].p50_ms > 700
    assert sum(b.failures for b in rows) == 10  # every 25th request of the fault window


def test_report_shows_verdict_checks_and_runbook() -> None:
    page = _report()
    assert 'id="verdict">FAIL<' in page
    assert page.count('<tr class="check ') == 4
    assert page.count('<tr class="check failed"') == 1
    assert "FeatureNullRateHigh fired at +12.0 s" in page
    assert 'href="https://example.org/runbooks/model-latency-high"' in page


def test_report_is_self_contained() -> None:
    """No script, no stylesheet or image to fetch: it opens offline."""
    page = _report()
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//(?!example\.org)""", page)
    assert "<link" not in page


def test_timeline_marks_fault_window_detection_and_alert_episodes() -> None:
    timeline = next(s for s in _svgs(_report()) if "timeline" in s.get("class", ""))
    classes = [e.get("class") for e in timeline.iter()]
    assert classes.count("fault") == 1
    assert classes.count("detection") == 1
    assert classes.count("firing") == 2 and classes.count("pending") == 3
    assert "p50" in classes and "p95" in classes and "errors" in classes
    texts = " ".join(e.text or "" for e in timeline.iter())
    assert "ModelLatencyHigh detected after 6.2 s (predicted 3-5 s)" in texts
    assert "FeatureNullRateHigh (silent)" in texts


def test_root_cause_chart_compares_baseline_and_fault_shares() -> None:
    chart = next(s for s in _svgs(_report()) if "root-cause" in s.get("class", ""))
    titles = [e.text for e in chart.iter() if e.tag.endswith("title")]
    assert "feature-store: 93% (fault)" in titles
    assert "feature-store: 30% (baseline)" in titles


def test_waterfall_highlights_the_critical_path() -> None:
    page = _report()
    chart = next(s for s in _svgs(page) if "waterfall" in s.get("class", ""))
    critical = [e for e in chart.iter() if e.get("class") == "critical"]
    assert critical, "the critical path is drawn"
    assert TRACE_ID in page
    wf = waterfall(synthetic_trace(), "why")
    client = next(s for s in wf.spans if s.name == "feature_store.get")
    # the wait on the feature store dominates the critical path
    assert sum(b - a for a, b in client.critical) > 700
    assert [s.depth for s in wf.spans] == [0, 1, 2, 3, 1]


def test_aborted_run_report_says_why_and_has_no_checks() -> None:
    page = render_html(assemble(synthetic_result(aborted="steady state broken in baseline")))
    assert 'id="verdict">ABORTED<' in page
    assert "steady state broken in baseline" in page
    assert "No check was verified" in page


def test_report_lists_alerts_active_during_the_run_that_the_scenario_did_not_name() -> None:
    """ErrorBudgetBurn went pending under the fault; ServiceDown had resolved before the run."""
    result = judged(synthetic_builder().episode("ServiceDown", firing=-20, resolved=-10))
    assert result.unnamed_alerts() == ["ErrorBudgetBurn"]
    data = collect(result)
    assert data.unnamed == ("ErrorBudgetBurn",)
    footer = render_html(data).split("<footer>")[1]
    assert "Also active during the run, not named by the scenario: ErrorBudgetBurn<" in footer


def test_an_inconclusive_run_report_says_the_fault_never_took_effect() -> None:
    page = _report(no_effect="p95 of feature-store calls unchanged (21 ms)")
    assert 'id="verdict">INCONCLUSIVE<' in page
    assert "<h2>Inconclusive</h2>" in page
    assert "the fault never took effect: network.latency@feature-store: p95 of" in page


def test_index_links_every_scenario() -> None:
    entries = [
        {"scenario": "a", "verdict": "pass", "duration_s": 1.0, "passed": 2, "checks": 2,
         "href": "a.html"},
        {"scenario": "b", "verdict": "fail", "duration_s": 2.0, "passed": 1, "checks": 2,
         "href": "b.html"},
    ]  # fmt: skip
    page = render_index(entries)
    assert 'href="a.html"' in page and 'href="b.html"' in page
    assert 'id="verdict">FAIL<' in page
    unsure = {**entries[1], "verdict": "inconclusive"}
    assert 'id="verdict">INCONCLUSIVE<' in render_index([entries[0], unsure])
    stopped = {**entries[0], "verdict": "aborted"}
    assert 'id="verdict">ABORTED<' in render_index([stopped, unsure, entries[1]])


def test_nice_ticks_cover_the_peak_with_round_steps() -> None:
    assert nice_ticks(886, 4) == [0, 250, 500, 750, 1000]
    assert nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(5.2, 2)[-1] >= 5.2
