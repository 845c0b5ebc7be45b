"""The HTML report as a browser shows it: headless Chromium's DOM and a screenshot."""

from __future__ import annotations

import re
from pathlib import Path

from fixtures.runs import synthetic_alerts, synthetic_result, synthetic_trace

from gameday.report import assemble, render_html
from gameday.report.data import waterfall


def test_browser_shows_verdict_charts_and_one_row_per_check(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = assemble(
        synthetic_result(),
        synthetic_alerts(),
        waterfall(synthetic_trace(), "slowest request analysed by the root-cause check"),
    )
    page = tmp_path / "synthetic-latency.html"
    page.write_text(render_html(data))
    dom = browser.dom(page)
    assert re.search(r'id="verdict"[^>]*>FAIL<', dom)
    charts = re.findall(r'<svg [^>]*class="chart (\S+)"', dom)
    assert charts == ["timeline", "root-cause", "waterfall"]
    assert len(re.findall(r'<tr class="check ', dom)) == len(data.checks) == 4
    shot = browser.screenshot(page, tmp_path / "synthetic-latency.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
