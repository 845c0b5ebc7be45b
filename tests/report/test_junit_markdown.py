"""JUnit XML and the Markdown step summary from synthetic results."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

from fixtures.runs import synthetic_result

from gameday.report import to_junit, to_markdown, write_junit
from gameday.run.results import ScenarioResult

NO_EFFECT = "p95 of feature-store calls unchanged (21 ms)"


def _batch() -> list[ScenarioResult]:
    return [
        synthetic_result(silent_passes=True),
        synthetic_result(),
        synthetic_result(aborted="steady state broken in baseline: ServiceDown firing"),
    ]


def _counts(element: ET.Element) -> tuple[str | None, ...]:
    return tuple(element.get(k) for k in ("tests", "failures", "errors"))


def test_junit_has_a_suite_per_scenario_and_a_case_per_check(tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    write_junit(out, _batch())
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    assert _counts(root) == ("9", "1", "1")
    passing, failing, aborted = root.findall("testsuite")
    assert _counts(passing) == ("4", "0", "0")
    assert _counts(failing) == ("4", "1", "0")
    assert _counts(aborted) == ("1", "0", "1")


def test_junit_failure_carries_the_checks_detail() -> None:
    root = to_junit(_batch())
    failure = root.find(".//testcase[@name='FeatureNullRateHigh stays silent']/failure")
    assert failure is not None
    assert failure.get("message", "").startswith("FeatureNullRateHigh fired at +12.0 s")
    assert failure.get("type") == "alert"
    assert '"firing_s": 12.0' in (failure.text or "")  # the check's evidence
    error = root.find(".//testcase[@name='aborted']/error")
    assert error is not None and "ServiceDown firing" in error.get("message", "")
    assert error.get("type") == "aborted"


def test_junit_of_a_run_without_any_check_is_a_failure() -> None:
    """Nothing verified is never a pass: a ``checks`` testcase fails."""
    unchecked = dataclasses.replace(synthetic_result(silent_passes=True), checks=[])
    assert unchecked.verdict == "fail"
    suite = to_junit([unchecked]).find("testsuite")
    assert suite is not None and _counts(suite) == ("1", "1", "0")
    failure = suite.find("testcase[@name='checks']/failure")
    assert failure is not None and "no check" in failure.get("message", "")


def test_an_inconclusive_run_is_a_junit_error_with_its_reason() -> None:
    """A fault that changed nothing is neither a pass nor a monitoring failure."""
    result = synthetic_result(silent_passes=True, no_effect=NO_EFFECT)
    assert result.verdict == "inconclusive"
    suite = to_junit([result]).find("testsuite")
    assert suite is not None and _counts(suite) == ("5", "0", "1")
    error = suite.find("testcase[@name='inconclusive']/error")
    assert error is not None and error.get("type") == "inconclusive"
    assert error.get("message") == (
        f"the fault never took effect: network.latency@feature-store: {NO_EFFECT}"
    )
    verdict = suite.find("properties/property[@name='verdict']")
    assert verdict is not None and verdict.get("value") == "inconclusive"


def test_junit_output_names_the_alerts_the_scenario_did_not_name() -> None:
    suite = to_junit([synthetic_result()]).find("testsuite")
    assert suite is not None
    out = suite.findtext("system-out") or ""
    assert "(not named by the scenario, also active: ErrorBudgetBurn)" in out


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


def test_markdown_shows_an_inconclusive_run_with_its_reason() -> None:
    result = synthetic_result(silent_passes=True, no_effect=NO_EFFECT)
    text = to_markdown([synthetic_result(silent_passes=True), result])
    assert text.startswith("## \u2753 gameday: 2 scenario(s), 1 not passed")
    [row] = [line for line in text.splitlines() if "inconclusive |" in line]
    assert row.startswith("| synthetic-latency | \u2753 inconclusive | 4/4 |")
    assert "### \u2753 synthetic-latency: inconclusive" in text
    reason = f"the fault never took effect: network.latency@feature-store: {NO_EFFECT}"
    assert f"**Inconclusive:** {reason}" in text


def test_markdown_says_when_a_run_made_no_check() -> None:
    unchecked = dataclasses.replace(synthetic_result(silent_passes=True), checks=[])
    text = to_markdown([unchecked])
    assert "| synthetic-latency | \u274c fail | 0/0 |" in text
    assert "- no check was made: nothing was verified" in text


def test_markdown_cells_escape_pipes() -> None:
    result = synthetic_result(aborted="a | b")
    assert "a \\| b" in to_markdown([result])
