"""A Markdown summary of a batch, fit for a CI step summary (GitHub's ``$GITHUB_STEP_SUMMARY``).

A verdict table (one row per scenario, with each receiver's page count), then, per scenario
that did not pass, the failing checks with their details, the abort reason and the runbook
link.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from gameday.redaction import redact_text
from gameday.report.data import alert_name, paired
from gameday.report.paging import who_was_paged
from gameday.run.results import ABORTED, INCONCLUSIVE, PASS, ScenarioResult

ICONS = {PASS: "\u2705", "fail": "\u274c", ABORTED: "\u26a0\ufe0f", INCONCLUSIVE: "\u2753"}


def _cell(text: str) -> str:
    """Text safe inside a table cell: secrets masked, pipes escaped, on one line."""
    return " ".join(redact_text(text).replace("|", "\\|").split())


def _detection(result: ScenarioResult) -> str:
    found = [
        f"{alert_name(exp, c) or c.name} {c.extra['detected_after_s']:.1f} s"
        for exp, c in paired(result)
        if c.extra.get("detected_after_s") is not None
    ]
    return ", ".join(found) or "-"


def _pages(result: ScenarioResult) -> str:
    """Pages per receiver, and the alerts Alertmanager held back: ``a 1, b 0; 1 inhibited``."""
    paging = who_was_paged(result)
    if paging is None:
        return "-"
    counts = paging.counts()
    if counts is None:
        shown = "unknown (webhook sink not read)"
    else:
        shown = ", ".join(f"{receiver} {n}" for receiver, n in counts.items()) or "none"
    held = [(paging.inhibited, "inhibited"), (paging.silenced, "silenced")]
    return "; ".join([shown, *(f"{n} {how}" for n, how in held if n)])


def _row(result: ScenarioResult) -> str:
    took = result.finished_at - result.started_at
    passed = sum(c.passed for c in result.checks)
    cells = [
        _cell(result.scenario.name),
        f"{ICONS[result.verdict]} {result.verdict}",
        f"{passed}/{len(result.checks)}",
        f"{took:.1f} s",
        _cell(_detection(result)),
        _cell(_pages(result)),
    ]
    return "| " + " | ".join(cells) + " |"


def _details(result: ScenarioResult) -> list[str]:
    out = [f"### {ICONS[result.verdict]} {result.scenario.name}: {result.verdict}", ""]
    if result.reason:
        out += [f"**{result.verdict.capitalize()}:** {_cell(result.reason)}", ""]
    if not result.checks:
        out.append("- no check was made: nothing was verified")
    for check in result.failing:
        state = "failed" if check.decided else "undecided"
        out.append(f"- **{_cell(check.name)}** ({check.kind}, {state}): {_cell(check.detail)}")
    if result.scenario.runbook:
        out += ["", f"Runbook: {result.scenario.runbook}"]
    return [*out, ""]


def to_markdown(results: Sequence[ScenarioResult], reports: str | None = None) -> str:
    """The summary; ``reports`` names where the HTML reports are (e.g. a CI artifact)."""
    failed = [r for r in results if r.verdict != PASS]
    worst = [v for v in (ABORTED, INCONCLUSIVE) if any(r.verdict == v for r in results)]
    overall = worst[0] if worst else ("fail" if failed else PASS)
    lines = [
        f"## {ICONS[overall]} gameday: {len(results)} scenario(s), {len(failed)} not passed",
        "",
        "| scenario | verdict | checks passed | duration | detection | pages |",
        "|---|---|---|---|---|---|",
        *(_row(r) for r in results),
        "",
    ]
    for result in failed:
        lines += _details(result)
    if reports:
        lines.append(f"HTML reports: {reports}")
    return "\n".join(lines).rstrip() + "\n"


def write_markdown(
    path: str | Path, results: Iterable[ScenarioResult], reports: str | None = None
) -> None:
    """Write the summary to ``path`` (replaced: a step summary file is the step's own)."""
    Path(path).write_text(to_markdown(list(results), reports))
