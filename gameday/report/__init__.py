"""Reports of runs, from their evidence alone: HTML with a timeline, JUnit XML for CI, a
Markdown summary, and :class:`Outputs`, which writes all of them for ``gameday run``."""

from __future__ import annotations

from gameday.report.collect import collect
from gameday.report.data import ReportData, assemble
from gameday.report.html import render_html, render_index
from gameday.report.junit import to_junit, write_junit
from gameday.report.markdown import to_markdown, write_markdown
from gameday.report.outputs import Outputs

__all__ = [
    "Outputs",
    "ReportData",
    "assemble",
    "collect",
    "render_html",
    "render_index",
    "to_junit",
    "to_markdown",
    "write_junit",
    "write_markdown",
]
