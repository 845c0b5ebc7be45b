"""``gameday run --report --junit --markdown --history`` on the real stack: every file, checked."""

from __future__ import annotations

import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fixtures.browser import Browser
from fixtures.cli import GamedayCli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCENARIO = """\
name: report-latency
summary: Feature-store latency, short, to check every output file of a run.
runbook: https://example.org/runbooks/model-latency-high
load: {users: 10, spawn_rate: 10}
timeline: {baseline: 6s, fault: 40s, recovery: 30s}
faults:
  - injector: network.latency
    target: feature-store
    params: {latency_ms: 600}
expect:
  - alert: ModelLatencyHigh
    fires_within: 30s
  - root_cause: {service: feature-store}
  - recovered: {within: 30s}
"""


def test_a_run_writes_report_junit_summary_and_history(
    gameday_cli: GamedayCli, endpoints_file: Path, tmp_path: Path, browser: Browser
) -> None:
    scenario = tmp_path / "report-latency.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    proc = gameday_cli(
        "run", str(scenario), "--env", str(endpoints_file), "--workdir", str(tmp_path / "runs"),
        "--journal", str(tmp_path / "journal"), "--report", str(out / "html"),
        "--junit", str(out / "junit.xml"), "--markdown", str(out / "summary.md"),
        "--history", str(out / "history.sqlite"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr

    page = out / "html" / "report-latency.html"
    html = page.read_text()
    assert 'id="verdict">PASS<' in html
    assert html.count('<tr class="check ') == 3
    assert 'class="detection"' in html and 'class="firing"' in html  # from Prometheus
    assert 'class="chart waterfall"' in html  # a trace from the trace backend
    assert 'href="report-latency.html"' in (out / "html" / "index.html").read_text()

    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "0", "0")
    assert "| report-latency | \u2705 pass | 3/3 |" in (out / "summary.md").read_text()

    with sqlite3.connect(out / "history.sqlite") as db:
        rows = db.execute("SELECT alert, detected_after_s FROM checks WHERE alert IS NOT NULL")
        [(alert, detected)] = rows.fetchall()
    assert alert == "ModelLatencyHigh" and 0 < detected <= 30

    dom = browser.dom(page)
    assert re.search(r'id="verdict"[^>]*>PASS<', dom)
    browser.screenshot(page, tmp_path / "report-latency.png")

    # The run's bundle alone makes the same report again (gameday report RUN_DIR).
    [run_dir] = (tmp_path / "runs").iterdir()
    again = gameday_cli("report", str(run_dir), "--out", str(tmp_path / "again"), timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    rebuilt = (tmp_path / "again" / "report-latency.html").read_text()
    assert 'id="verdict">PASS<' in rebuilt and rebuilt.count('<tr class="check ') == 3
    assert 'class="detection"' in rebuilt and 'class="firing"' in rebuilt
    assert _trace_shown(rebuilt) == _trace_shown(html) is not None


def _trace_shown(page: str) -> str | None:
    """The id of the trace the report's waterfall shows."""
    found = re.search(r"Trace <code>([0-9a-f]+)</code>", page)
    return found.group(1) if found else None
