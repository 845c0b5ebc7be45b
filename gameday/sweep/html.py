"""The sweep's page for people: thresholds, the blind spot, and one impact curve per measure
(magnitude on x, harm on y; probes an alert noticed filled, silent ones hollow, each
alert's threshold a dashed line). Self-contained like the run report: inline CSS and SVG.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from html import escape
from pathlib import Path

from gameday.report.html import CSS
from gameday.report.svg import Scale, line, nice_ticks, svg, text
from gameday.sweep.param import Span
from gameday.sweep.probe import Probe
from gameday.sweep.result import SweepResult

W, H, LEFT, RIGHT, TOP, BOTTOM = 760.0, 260.0, 70.0, 20.0, 24.0, 40.0
DETECTED, SILENT, BLIND = "#b91c1c", "#2563eb", "#b45309"
EXTRA_CSS = """
svg .probe.detected { fill:#b91c1c; } svg .probe.silent { fill:#fff; stroke:#2563eb;
  stroke-width:2; } svg .probe.blind { stroke:#b45309; stroke-width:3; }
.confidence-low { color:#b91c1c; font-weight:600; } .confidence-medium { color:#b45309; }
"""


def render(result: SweepResult, folder: Path) -> str:
    """The page, with links to the probes' run folders relative to ``folder``."""
    spot = result.blind_spot
    sections = [_header(result), _thresholds(result), _blind(result)]
    measures = _measures(result.probes)
    sections += [_curve(result, m, spot.probe if spot else None) for m in measures]
    sections.append(_probes(result, folder))
    title = f"sweep of {result.scenario} over {result.param.path}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}{EXTRA_CSS}</style></head>"
        f"<body><main>{''.join(sections)}</main></body></html>\n"
    )


def _header(r: SweepResult) -> str:
    facts = [
        ("param", r.param.path),
        ("range", f"{r.span.start:g} \u2192 {r.span.stop:g} ({r.span.scale})"),
        ("probes", f"{len(r.probes)}" + (f" of {r.budget}" if r.budget else "")),
        ("wall time", f"{r.wall_s / 60:.1f} min"),
    ]
    items = "".join(f"<li><b>{escape(k)}</b>{escape(v)}</li>" for k, v in facts)
    return (
        f"<header class='run'><div><h1>Sweep: {escape(r.scenario)}</h1>"
        "<p class='summary'>Each probe is a real run at one magnitude, with its own baseline, "
        "evidence and revert. A threshold is the mildest magnitude at which the alert fired "
        f"within its bound.</p><ul class='facts'>{items}</ul></div></header>"
    )


def _thresholds(r: SweepResult) -> str:
    rows = []
    for alert, t in r.thresholds.items():
        value = f"{t.magnitude:g}" if t.magnitude is not None else "never fired"
        rows.append(
            f"<tr class='threshold'><td class='name'>{escape(alert)}</td><td>{escape(value)}</td>"
            f"<td class='confidence-{t.confidence}'>{t.confidence}</td>"
            f"<td>{escape(t.note)}</td></tr>"
        )
    head = "<tr><th>alert</th><th>threshold</th><th>confidence</th><th>evidence</th></tr>"
    return f"<section><h2>Detection thresholds</h2><table>{head}{''.join(rows)}</table></section>"


def _blind(r: SweepResult) -> str:
    spot = r.blind_spot
    if spot is None:
        body = "No probe went unnoticed (or none could be told apart from noise)."
    else:
        harms = "".join(
            f"<li>{escape(name)}: {_num(m.harm)} {escape(m.unit)}</li>"
            for name, m in spot.probe.impact.items()
        )
        body = (
            f"At <b>{escape(r.param.name)} = {spot.probe.magnitude:g}</b> (probe "
            f"{spot.probe.index}) no expected alert fired within its bound and no other alert "
            f"fired, while the model's delivery changed by:<ul>{harms}</ul>"
        )
    return f"<section class='blind-spot'><h2>Blind spot</h2><p>{body}</p></section>"


def _num(value: float | None) -> str:
    return "not measured" if value is None else f"{value:+.4g}"


def _measures(probes: Sequence[Probe]) -> list[str]:
    names: list[str] = []
    for p in probes:
        names += [n for n in p.impact if n not in names]
    return [n for n in names if any(p.impact[n].harm is not None for p in probes if n in p.impact)]


def _x_scale(span: Span) -> tuple[Scale, bool]:
    lo, hi = sorted((span.start, span.stop))
    log = span.scale == "log" and lo > 0
    if log:
        return Scale(math.log10(lo), math.log10(hi), LEFT, W - RIGHT), True
    return Scale(lo, hi, LEFT, W - RIGHT), False


def _curve(r: SweepResult, measure: str, blind: Probe | None) -> str:
    x, log = _x_scale(r.span)

    def xpos(m: float) -> float:
        return x(math.log10(m) if log else m)

    points = [(p, p.impact[measure]) for p in r.probes if measure in p.impact]
    values = [m.harm for _, m in points if m.harm is not None]
    ticks = _y_ticks(min([*values, 0.0]), max([*values, 0.0]))
    y = Scale(ticks[0], ticks[-1], H - BOTTOM, TOP)
    body = [line(LEFT, y(0.0), W - RIGHT, y(0.0), stroke="#9ca3af")]
    for v in ticks:
        body.append(line(LEFT, y(v), W - RIGHT, y(v), stroke="#e5e7eb"))
        body.append(text(LEFT - 6, y(v) + 4, f"{v:.3g}", text_anchor="end", fill="#6b7280"))
    body += [
        text(xpos(t), H - BOTTOM + 16, f"{t:g}", text_anchor="middle", fill="#6b7280")
        for t in _x_ticks(r.span)
    ]
    body.append(text((LEFT + W) / 2, H - 6, r.param.name, text_anchor="middle"))
    for alert, t in r.thresholds.items():
        if t.magnitude is not None:
            xx = xpos(t.magnitude)
            body.append(line(xx, TOP, xx, H - BOTTOM, stroke=DETECTED, stroke_dasharray="4 3"))
            body.append(text(xx + 4, TOP + 10, alert, fill=DETECTED, font_size=11))
    for probe, m in points:
        if m.harm is None:
            continue
        kind = "detected" if probe.detected else "silent"
        extra = " blind" if probe is blind else ""
        hover = f"probe {probe.index}: {r.param.name}={probe.magnitude:g}, {measure} {m.harm:+.4g}"
        body.append(
            f"<circle class='probe {kind}{extra}' cx='{xpos(probe.magnitude):.1f}' "
            f"cy='{y(m.harm):.1f}' r='6'><title>{escape(hover)}</title></circle>"
        )
    unit = next((m.unit for _, m in points if m.unit), "")
    label = f"{measure} harm{f' ({unit})' if unit else ''} against {r.param.name}"
    legend = (
        "<div class='legend'><span style='--c:#b91c1c'>noticed (an alert fired)</span>"
        "<span style='--c:#fff;--b:2px solid #2563eb'>nothing fired</span>"
        "<span style='--c:#fff;--b:3px solid #b45309'>blind spot</span></div>"
    )
    chart = svg(W, H, body, label, "sweep-curve")
    return f"<section class='curve'><h3>{escape(label)}</h3>{chart}{legend}</section>"


def _y_ticks(low: float, high: float) -> list[float]:
    """Round ticks covering ``[low, high]`` (which includes 0)."""
    span = high - low
    step = nice_ticks(span if span > 1e-9 else 1.0)[1]  # a flat curve gets a unit axis
    first = math.floor(low / step + 1e-9)
    count = math.ceil(high / step - 1e-9) - first
    return [round((first + i) * step, 12) for i in range(max(count, 1) + 1)]


def _x_ticks(span: Span) -> list[float]:
    lo, hi = sorted((span.start, span.stop))
    if span.scale == "log" and lo > 0:
        out = [
            10.0**k * m
            for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
            for m in (1, 2, 5)
        ]
        return [v for v in out if lo <= v <= hi] or [lo, hi]
    return [lo + (hi - lo) * i / 4 for i in range(5)]


def _probes(r: SweepResult, folder: Path) -> str:
    rows = []
    for p in r.probes:
        fired = "<br>".join(
            f"{escape(name)}: "
            + ({True: "fired", False: "silent", None: "cannot tell"}[a.fired])
            + (f" after {a.detected_after_s:.1f} s" if a.detected_after_s is not None else "")
            + (" (near its bound)" if a.marginal else "")
            for name, a in p.alerts.items()
        )
        others = escape(", ".join(p.others)) or "<span class='muted'>none</span>"
        impact = "<br>".join(f"{escape(n)} {_num(m.harm)}" for n, m in p.impact.items())
        link = escape(os.path.relpath(p.run_dir, folder)) if p.run_dir else ""
        rows.append(
            f"<tr class='probe-row'><td>{p.index}</td><td>{p.magnitude:g}</td><td>{fired}</td>"
            f"<td>{others}</td><td>{impact}</td><td>{escape(p.verdict)}</td>"
            f"<td><a href='{link}/{escape(r.scenario)}.html'>{link}</a></td></tr>"
        )
    head = (
        "<tr><th>#</th><th>magnitude</th><th>expected alerts</th><th>other alerts</th>"
        "<th>impact (harm)</th><th>verdict</th><th>run</th></tr>"
    )
    return f"<section><h2>Probes</h2><table>{head}{''.join(rows)}</table></section>"
