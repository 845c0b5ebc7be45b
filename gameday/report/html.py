"""The HTML report of one run, and the index of a batch: self-contained pages.

Everything is inline (CSS, SVG charts; no script, no font or CDN), so a report opens from a
CI artifact or an e-mail attachment without a network. Expandable parts use ``<details>``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from html import escape
from typing import Any

from gameday.report.charts import (
    ERR,
    FAULT_FILL,
    FIRING,
    HELD,
    INK,
    NOTIFIED,
    OK,
    P50,
    P95,
    PAGE_FILL,
    PAGING_WINDOW,
    PENDING,
    REPEAT,
    paging_chart,
    root_cause_chart,
    service_colours,
    timeline,
    waterfall_chart,
)
from gameday.report.data import ReportData
from gameday.report.paging import Paging, ReceiverRow
from gameday.verifiers.base import Check

CSS = """
:root { --ink:#111827; --muted:#6b7280; --line:#e5e7eb; --ok:#15803d; --bad:#b91c1c;
  --warn:#b45309; --bg:#f9fafb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif; }
main { max-width:1180px; margin:0 auto; padding:24px 28px 48px; }
header.run { display:flex; gap:20px; align-items:flex-start; justify-content:space-between; }
h1 { font-size:26px; margin:0 0 4px; } h2 { font-size:18px; margin:0 0 12px; }
h3 { font-size:15px; margin:18px 0 8px; }
.summary { color:var(--muted); margin:0 0 8px; max-width:760px; }
.verdict { font-weight:800; font-size:22px; letter-spacing:.06em; padding:10px 22px;
  border-radius:10px; color:#fff; white-space:nowrap; }
.verdict.pass { background:var(--ok); } .verdict.fail { background:var(--bad); }
.verdict.aborted, .verdict.inconclusive { background:var(--warn); }
.facts { display:flex; flex-wrap:wrap; gap:10px; margin:14px 0 0; padding:0; list-style:none; }
.facts li { background:#fff; border:1px solid var(--line); border-radius:8px; padding:6px 12px; }
.facts b { display:block; font-size:11px; color:var(--muted); text-transform:uppercase;
  letter-spacing:.05em; font-weight:600; }
section { background:#fff; border:1px solid var(--line); border-radius:12px; padding:18px 20px;
  margin:18px 0; }
.reason { border-color:#fcd34d; background:#fffbeb; }
table.receivers { margin-top:14px; } table.receivers td:first-child { white-space:nowrap; }
.not-read { border:1px solid #fcd34d; background:#fffbeb; border-radius:8px; padding:8px 12px; }
.runbook a { font-weight:600; }
.chart { width:100%; height:auto; display:block; }
.legend { display:flex; flex-wrap:wrap; gap:16px; color:var(--muted); font-size:13px;
  margin-top:8px; }
.legend span::before { content:""; display:inline-block; width:14px; height:10px;
  margin-right:6px; vertical-align:middle; background:var(--c); border:var(--b, 0); }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; vertical-align:top; padding:8px 10px;
  border-bottom:1px solid var(--line); }
th { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.05em; }
.badge { display:inline-block; min-width:54px; text-align:center; font-size:12px; font-weight:700;
  border-radius:6px; padding:2px 8px; color:#fff; }
.badge.pass { background:var(--ok); } .badge.fail { background:var(--bad); }
.badge.undecided, .badge.aborted, .badge.inconclusive { background:var(--warn); }
tr.check.failed td { background:#fef2f2; }
td.kind { color:var(--muted); white-space:nowrap; font-size:13px; }
td .name { font-weight:600; } td .detail { color:#374151; margin-top:2px; }
details summary { cursor:pointer; color:#1d4ed8; font-size:13px; margin-top:4px; }
pre { background:#f3f4f6; border-radius:8px; padding:10px 12px; overflow:auto; font-size:12px;
  max-height:360px; }
.muted { color:var(--muted); } code { font-size:13px; }
footer { color:var(--muted); font-size:12px; margin-top:24px; }
"""


def render_html(data: ReportData) -> str:
    """The complete, self-contained HTML page of one run's report."""
    sections = [
        _header(data),
        _reason(data),
        _timeline(data),
        _paging(data),
        _checks(data.checks),
        _root_cause(data),
        _trace(data),
        _faults(data),
    ]
    body = "".join(s for s in sections if s) + _footer(data)
    return _page(f"{data.scenario}: {data.verdict.upper()} \u2014 gameday report", body)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _header(d: ReportData) -> str:
    load = d.load
    facts = [
        ("started", _when(d.started_at)),
        ("duration", f"{d.duration_s:.1f} s"),
        ("requests", f"{load.requests:,}"),
        ("error rate", f"{load.error_rate:.2%}"),
        ("p50 / p95", f"{_ms(load.p50_ms)} / {_ms(load.p95_ms)}"),
        ("checks passed", f"{sum(c.passed for c in d.checks)} of {len(d.checks)}"),
    ]
    items = "".join(f"<li><b>{escape(k)}</b>{escape(v)}</li>" for k, v in facts)
    runbook = (
        f'<p class="runbook">Runbook: <a href="{escape(d.runbook)}">{escape(d.runbook)}</a></p>'
        if d.runbook
        else ""
    )
    return (
        f'<header class="run"><div><h1>{escape(d.scenario)}</h1>'
        f'<p class="summary">{escape(d.summary)}</p>{runbook}'
        f'<ul class="facts">{items}</ul></div>'
        f'<div class="verdict {escape(d.verdict)}" id="verdict">{escape(d.verdict.upper())}</div>'
        "</header>"
    )


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f} ms"


def _reason(d: ReportData) -> str:
    if not d.reason:
        return ""
    heading = escape(d.verdict.capitalize())  # aborted, or inconclusive
    return f'<section class="reason"><h2>{heading}</h2><p>{escape(d.reason)}</p></section>'


def _legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(f'<span style="--c:{c}">{escape(label)}</span>' for label, c in items)
    return f'<div class="legend">{spans}</div>'


def _timeline(d: ReportData) -> str:
    legend = _legend(
        [
            ("p50 latency", P50),
            ("p95 latency", P95),
            ("error rate", ERR),
            ("fault active", FAULT_FILL),
            ("alert pending", PENDING),
            ("alert firing", FIRING),
            ("detection: in bound", "#16a34a"),
            ("detection: too late", "#dc2626"),
        ]
    )
    note = (
        '<p class="muted">Alerts marked <b>(expected)</b> must fire within their bound; '
        "<b>(silent)</b> ones must never fire. Hover a bar for exact times.</p>"
    )
    return f"<section><h2>Timeline</h2>{timeline(d)}{legend}{note}</section>"


def _paging(d: ReportData) -> str:
    if d.paging is None:
        return ""
    parts = _pages(d.paging, d.duration_s) + _held(d.paging)
    return f'<section class="paging"><h2>Who was paged</h2>{parts}</section>'


def _pages(p: Paging, duration_s: float) -> str:
    if not p.webhooks_read:
        return (
            '<p class="not-read"><b>Who was paged cannot be told:</b> gameday&#39;s webhook sink '
            "was not read during this run, so no notification is known. This is not "
            "&ldquo;nobody was paged&rdquo;; the pages checks say what Alertmanager&#39;s API "
            "showed, if it was read.</p>"
        )
    note = (
        '<p class="muted">Each bar is a page: a notification group one receiver got, from its '
        "first firing notification to its resolved one, ticks marking repeats. Pages are "
        "counted from the fault&#39;s start to the recovery&#39;s end (shaded), as the "
        "<code>pages</code> expectation counts them. Hover a bar for its group and times.</p>"
    )
    legend = _legend(
        [
            ("paged (first notification)", NOTIFIED),
            ("notification group, until resolved", PAGE_FILL),
            ("repeat", REPEAT),
            ("resolved", OK),
            ("held back by Alertmanager", HELD),
            ("pages counted (fault and recovery)", PAGING_WINDOW),
        ]
    )
    return f"{note}{paging_chart(p, duration_s)}{legend}{_receivers(p.receivers)}"


def _receivers(rows: Sequence[ReceiverRow]) -> str:
    if not rows:
        return ""
    body = "".join(
        f'<tr class="receiver"><td><span class="name">{escape(r.receiver)}</span>'
        + (f'<div class="muted">expected: {escape(r.expected)}</div>' if r.expected else "")
        + f"</td><td>{len(r.pages)}</td><td>{_groups(r)}</td></tr>"
        for r in rows
    )
    head = "<tr><th>receiver</th><th>pages</th><th>notification groups</th></tr>"
    return f'<table class="receivers">{head}{body}</table>'


def _groups(row: ReceiverRow) -> str:
    if not row.pages:
        return '<span class="muted not-paged">not paged during fault and recovery</span>'
    return "".join(
        f'<div class="group">{escape(p.summary)} '
        f'<span class="muted">(group <code>{escape(p.group_key)}</code>)</span></div>'
        for p in row.pages
    )


def _held(p: Paging) -> str:
    if not p.statuses_polled:
        return (
            '<p class="muted">Alertmanager&#39;s API was not polled during this run: which '
            "alerts it inhibited or silenced cannot be told.</p>"
        )
    if not p.held:
        return '<p class="muted">Alertmanager held back no alert (none inhibited or silenced).</p>'
    rows = "".join(
        f'<tr class="held {h.how}"><td>{escape(h.alert)}</td><td>{escape(h.labels)}</td>'
        f"<td>{escape(h.reason)}</td><td>+{h.start:.1f} s</td><td>+{h.end:.1f} s</td></tr>"
        for h in p.held
    )
    head = "".join(f"<th>{h}</th>" for h in ("alert", "labels", "held back", "from", "until"))
    return f'<h3>Held back by Alertmanager</h3><table class="held"><tr>{head}</tr>{rows}</table>'


def _checks(checks: Sequence[Check]) -> str:
    if not checks:
        return '<section><h2>Checks</h2><p class="muted">No check was verified.</p></section>'
    rows = "".join(_check_row(c) for c in checks)
    head = "<tr><th>result</th><th>kind</th><th>check and evidence</th></tr>"
    return f'<section><h2>Checks</h2><table class="checks">{head}{rows}</table></section>'


def _check_row(c: Check) -> str:
    state = "pass" if c.passed else ("fail" if c.decided else "undecided")
    label = {"pass": "PASS", "fail": "FAIL", "undecided": "UNDECIDED"}[state]
    evidence = json.dumps({**c.evidence, **c.extra}, indent=2, default=str, sort_keys=True)
    return (
        f'<tr class="check {"passed" if c.passed else "failed"}">'
        f'<td><span class="badge {state}">{label}</span></td>'
        f'<td class="kind">{escape(c.kind)}</td>'
        f'<td><div class="name">{escape(c.name)}</div><div class="detail">{escape(c.detail)}</div>'
        f"<details><summary>evidence</summary><pre>{escape(evidence)}</pre></details></td></tr>"
    )


def _root_cause(d: ReportData) -> str:
    if d.root_cause is None or not d.root_cause.rows:
        return ""
    note = (
        "Share of the analysed traces whose critical path blames each service: the baseline's "
        "slowest requests against the fault window's slow or failed ones."
    )
    chart = root_cause_chart(d.root_cause)
    return f'<section><h2>Root cause</h2><p class="muted">{note}</p>{chart}</section>'


def _trace(d: ReportData) -> str:
    wf = d.waterfall
    if wf is None:
        return ""
    hidden = f" ({wf.hidden} more spans not shown)" if wf.hidden else ""
    caption = (
        f'<p class="muted">Trace <code>{escape(wf.trace_id)}</code>, {escape(wf.why)}; '
        f"{len(wf.spans)} spans over {wf.duration_ms:,.1f} ms{escape(hidden)}.</p>"
    )
    colours = service_colours(wf.spans)
    legend = _legend([*colours.items(), ("critical path", INK), ("span in error", "#fff")])
    legend = legend.replace('--c:#fff"', '--c:#fff;--b:2px solid #dc2626"')
    return f"<section><h2>Slow trace</h2>{caption}{waterfall_chart(wf)}{legend}</section>"


def _faults(d: ReportData) -> str:
    if not d.faults:
        return ""
    rows = "".join(
        f"<tr><td>{escape(w.label)}</td><td>+{w.start:.1f} s</td>"
        f"<td>{'still applied' if w.end is None else f'+{w.end:.1f} s'}</td></tr>"
        for w in d.faults
    )
    head = "<tr><th>fault</th><th>applied</th><th>reverted</th></tr>"
    return f"<section><h2>Faults</h2><table>{head}{rows}</table></section>"


def _footer(d: ReportData) -> str:
    unnamed = (
        [f"Also active during the run, not named by the scenario: {', '.join(d.unnamed)}"]
        if d.unnamed
        else []
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in [*unnamed, *d.notes])
    source = f" from <code>{escape(d.source)}</code>" if d.source else ""
    made = _when(time.time())
    listed = f"<ul>{notes}</ul>" if notes else ""
    return f"<footer>{listed}Scenario{source}. Report made by gameday at {made}.</footer>"


def render_index(entries: Sequence[dict[str, Any]]) -> str:
    """The batch's index page: one row per scenario (``scenario``, ``verdict``, ``duration_s``,
    ``passed``, ``checks``, ``href``), linking each report."""
    rows = "".join(
        f'<tr class="scenario"><td><a href="{escape(e["href"])}">{escape(e["scenario"])}</a></td>'
        f'<td><span class="badge {escape(e["verdict"])}">{escape(e["verdict"].upper())}</span></td>'
        f"<td>{e['passed']} of {e['checks']}</td><td>{e['duration_s']:.1f} s</td></tr>"
        for e in entries
    )
    failed = sum(e["verdict"] != "pass" for e in entries)
    # the worst verdict first, as the Markdown summary ranks them
    worst = [v for v in ("aborted", "inconclusive") if any(e["verdict"] == v for e in entries)]
    verdict = "pass" if not failed else (worst[0] if worst else "fail")
    head = "<tr><th>scenario</th><th>verdict</th><th>checks passed</th><th>duration</th></tr>"
    summary = f"{len(entries)} scenario(s), {failed} not passed"
    body = (
        f'<header class="run"><div><h1>gameday reports</h1><p class="summary">{summary}</p></div>'
        f'<div class="verdict {verdict}" id="verdict">{verdict.upper()}</div></header>'
        f"<section><table>{head}{rows}</table></section>"
    )
    return _page(f"gameday: {summary}", body)
