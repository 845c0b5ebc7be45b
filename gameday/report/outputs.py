"""Everything ``gameday run`` (and ``gameday report``) writes besides the terminal summary.

:meth:`Outputs.add` takes each scenario's result as it finishes; the HTML report is made from
the result's evidence alone, so it can as well be made from a bundle long after. Every file
is rewritten after each scenario, so an interrupted batch still leaves reports, JUnit XML and
a summary of what did run. A file that cannot be written is reported as a warning; it never
changes the verdicts or the exit code.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.report.collect import collect
from gameday.report.history import History
from gameday.report.html import render_html, render_index
from gameday.report.junit import write_junit
from gameday.report.markdown import write_markdown
from gameday.run.results import ScenarioResult


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


@dataclass
class Outputs:
    """The batch's output files; ``None`` leaves one out."""

    report_dir: Path | None = None
    junit: Path | None = None
    markdown: Path | None = None
    history: Path | None = None
    warn: Callable[[str], None] = _warn
    results: list[ScenarioResult] = field(default_factory=list)
    _index: list[dict[str, Any]] = field(default_factory=list)

    def add(self, result: ScenarioResult) -> None:
        """Take one finished scenario: report it, rewrite the batch files, record history."""
        self.results.append(result)
        if self.report_dir is not None:
            self._attempt("HTML report", lambda: self._report(result))
        if self.junit is not None:
            self._attempt("JUnit XML", self._write_junit)
        if self.markdown is not None:
            self._attempt("Markdown summary", self._write_markdown)
        if self.history is not None:
            self._attempt("history", lambda: self._record(result))

    def _attempt(self, what: str, write: Callable[[], None]) -> None:
        try:
            write()
        except (OSError, sqlite3.Error) as exc:
            self.warn(f"could not write the {what}: {exc}")

    def _report(self, result: ScenarioResult) -> None:
        assert self.report_dir is not None
        self.report_dir.mkdir(parents=True, exist_ok=True)
        data = collect(result)
        name = f"{result.scenario.name}.html"
        if any(e["href"] == name for e in self._index):  # the same scenario again: keep both
            name = f"{result.scenario.name}-{len(self._index) + 1}.html"
        _write(self.report_dir / name, render_html(data))
        for note in data.notes:
            self.warn(f"report of {result.scenario.name}: {note}")
        self._index.append(
            {
                "scenario": result.scenario.name,
                "verdict": result.verdict,
                "duration_s": data.duration_s,
                "passed": sum(c.passed for c in result.checks),
                "checks": len(result.checks),
                "href": name,
            }
        )
        _write(self.report_dir / "index.html", render_index(self._index))

    def _write_junit(self) -> None:
        assert self.junit is not None
        write_junit(self.junit, self.results)

    def _write_markdown(self) -> None:
        assert self.markdown is not None
        where = str(self.report_dir / "index.html") if self.report_dir else None
        write_markdown(self.markdown, self.results, where)

    def _record(self, result: ScenarioResult) -> None:
        assert self.history is not None
        with History(self.history) as history:
            history.record(result)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
