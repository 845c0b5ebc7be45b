"""JUnit XML and the Markdown step summary from synthetic results."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from fixtures.runs import synthetic_result

from gameday.report import to_markdown, write_junit


def _batch() -> list:  # type: ignore[type-arg]
    return [
        synthetic_result(silent_passes=True),
        synthetic_result(),
        synthetic_result(aborted="steady state broken in baseline: ServiceDown firing"),
    ]


def test_junit_has_a_suite_per_scenario_and_a_case_per_check(tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    write_junit(out, _batch())
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("9", "1", "1")
    passing, failing, aborted = root.findall("testsuite")
    assert (passing.get("tests"), passing.get("failures"), passing.get("errors")) == ("4", "0", "0")
    assert (failing.get("tests"), failing.get("failures")) == ("4", "1")
    assert (aborted.get("tests"), aborted.get("errors")) == ("1", "1")


def test_junit_failure_carries_the_checks_detail() -> None:
    root = ET.fromstring(ET.tostring(_junit_root()))
    failure = root.find(".//testcase[@name='FeatureNullRateHigh stays silent']/failure")
    assert failure is not None
    assert failure.get("message", "").startswith("FeatureNullRateHigh fired at +12.0 s")
    assert failure.get("type") == "alert"
    error = root.find(".//testcase[@name='run']/error")
    assert error is not None and "ServiceDown firing" in error.get("message", "")


def _junit_root() -> ET.Element:
    from gameday.report import to_junit

    return to_junit(_batch())


def test_markdown_summary_has_a_verdict_table_and_failing_details() -> None:
    text = to_markdown(_batch(), reports="reports/index.html")
    assert text.startswith("## ")
    assert "3 scenario(s), 2 not passed" in text
    rows = [line for line in text.splitlines() if line.startswith("| synthetic-latency")]
    assert len(rows) == 3
    assert "pass | 4/4" in rows[0] and "ModelLatencyHigh 6.2 s" in rows[0]
    assert "fail | 3/4" in rows[1]
    assert "aborted" in rows[2]
    assert "**FeatureNullRateHigh stays silent** (alert, failed): FeatureNullRateHigh fired" in text
    assert "**Aborted:** steady state broken" in text
    assert "Runbook: https://example.org/runbooks/model-latency-high" in text
    assert "HTML reports: reports/index.html" in text


def test_markdown_cells_escape_pipes() -> None:
    result = synthetic_result(aborted="a | b")
    assert "a \\| b" in to_markdown([result])
