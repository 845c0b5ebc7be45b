"""The HTML report as a browser shows it: headless Chromium's DOM and a screenshot."""

from __future__ import annotations

import re
from pathlib import Path

from fixtures.browser import Browser
from fixtures.runs import synthetic_result

from gameday.report import collect, render_html


def test_browser_shows_verdict_charts_and_one_row_per_check(
    browser: Browser, tmp_path: Path
) -> None:
    data = collect(synthetic_result())
    page = tmp_path / "synthetic-latency.html"
    page.write_text(render_html(data))
    dom = browser.dom(page)
    assert re.search(r'id="verdict"[^>]*>FAIL<', dom)
    charts = re.findall(r'<svg [^>]*class="chart (\S+)"', dom)
    assert charts == ["timeline", "paging", "root-cause", "waterfall"]
    # who was paged: ml-oncall, once, for ModelLatencyHigh 26.6 s into the run
    assert re.search(
        r'<tr class="receiver"><td><span class="name">ml-oncall</span></td><td>1<', dom
    )
    assert "ModelLatencyHigh: first +26.6 s, 0 repeats" in dom
    assert len(re.findall(r'<tr class="check ', dom)) == len(data.checks) == 4
    assert "not named by the scenario: ErrorBudgetBurn" in dom
    shot = browser.screenshot(page, tmp_path / "synthetic-latency.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
