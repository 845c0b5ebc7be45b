"""The report's charts as inline SVG: the run's timeline, who was paged, root-cause shares,
one trace.

Each function takes plain report values and returns one ``<svg>`` element as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gameday.report.data import (
    AlertRow,
    Bucket,
    Detection,
    ReportData,
    RootCause,
    Waterfall,
    WaterfallSpan,
    Window,
)
from gameday.report.paging import HeldAlert, PageMark, Paging, ReceiverRow
from gameday.report.svg import (
    Scale,
    fmt,
    line,
    nice_ticks,
    polyline,
    rect,
    svg,
    text,
    truncate,
    y_axis,
)

P50, P95, ERR = "#60a5fa", "#1d4ed8", "#dc2626"
FAULT_FILL, PENDING, FIRING = "#fee2e2", "#fbbf24", "#dc2626"
OK, BAD, MUTED, INK, GREY = "#16a34a", "#dc2626", "#6b7280", "#111827", "#9ca3af"
PAGE_FILL, NOTIFIED, REPEAT, HELD, PAGING_WINDOW = (
    "#fecaca",
    "#b91c1c",
    "#f87171",
    "#d1d5db",
    "#eff6ff",
)
SERVICE_COLOURS = ("#93c5fd", "#fcd34d", "#a7f3d0", "#f9a8d4", "#c4b5fd", "#fdba74", "#99f6e4")

W, LEFT, RIGHT = 1100, 220, 28
LAT_H, ERR_H, GAP, ROW = 190, 80, 36, 26
HALO = {"stroke": "#fff", "stroke_width": 4, "paint_order": "stroke"}  # text readable on lines


@dataclass(frozen=True)
class _Frame:
    """Where the timeline's panels sit (pixels) and the shared time scale."""

    x: Scale
    lat: tuple[float, float]
    err: tuple[float, float]
    alerts: tuple[float, float]

    @property
    def bottom(self) -> float:
        return self.alerts[1]


def timeline(data: ReportData) -> str:
    """Latency p50/p95 and error rate per second, fault windows shaded, alert episodes as bars,
    and each measured detection marked; one time axis (seconds since the run started)."""
    end = max(data.duration_s, len(data.buckets), 1.0)
    lat0 = 34 + 16 * max(1, len(data.faults))  # phase names, then one line per fault
    err0 = lat0 + LAT_H + GAP
    alert0 = err0 + ERR_H + GAP
    f = _Frame(
        Scale(0, end, LEFT, W - RIGHT),
        (lat0, lat0 + LAT_H),
        (err0, err0 + ERR_H),
        (alert0, alert0 + ROW * max(1, len(data.alerts))),
    )
    body = [
        *_backdrop(f, data.phases, data.faults, end),
        *_latency(f, data.buckets),
        *_errors(f, data.buckets),
        *_alerts(f, data.alerts, end),
        *_time_axis(f.x, f.bottom + 6, end),
        *_detections(f, data.detections),
    ]
    label = f"timeline of {data.scenario}: latency, error rate and alerts per second"
    return svg(W, f.bottom + 40, body, label, "timeline")


def _backdrop(
    f: _Frame, phases: Sequence[Window], faults: Sequence[Window], end: float
) -> list[str]:
    top, bottom = f.lat[0], f.bottom
    out = []
    for i, w in enumerate(faults):
        x0, x1 = f.x(w.start), f.x(w.end if w.end is not None else end)
        out.append(rect(x0, top, x1 - x0, bottom - top, w.label, fill=FAULT_FILL, class_="fault"))
        out.append(line(x0, 38 + 16 * i, x0, top, stroke=BAD, stroke_width=1.5))
        anchor, dx = ("end", -4) if x0 > W - 420 else ("start", 4)
        label = truncate(f"fault: {w.label}", 80)
        out.append(text(x0 + dx, 46 + 16 * i, label, fill=BAD, font_size=11, text_anchor=anchor))
    for w in phases:
        x0, x1 = f.x(w.start), f.x(w.end if w.end is not None else end)
        out.append(line(x0, 20, x0, bottom, stroke="#9ca3af", stroke_dasharray="3 3"))
        out.append(
            text((x0 + x1) / 2, 16, w.label, text_anchor="middle", fill=INK, font_weight=600)
        )
    return out


def _series(
    f: _Frame, y: Scale, buckets: Sequence[Bucket], key: str
) -> list[list[tuple[float, float]]]:
    """Polyline runs of one figure; a second without requests breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for b in buckets:
        v = getattr(b, key)
        if v is None:
            runs.append([])
        else:
            runs[-1].append((f.x(b.t + 0.5), y(v)))
    return [r for r in runs if r]


def _latency(f: _Frame, buckets: Sequence[Bucket]) -> list[str]:
    top, bottom = f.lat
    peak = max((b.p95_ms or 0.0 for b in buckets), default=0.0)
    ticks = nice_ticks(peak * 1.05 or 10.0, 4)
    y = Scale(0, ticks[-1], bottom, top)
    out = _title(top, "Latency (ms)", "p50 and p95 per second")
    out += y_axis(y, ticks, LEFT, W - RIGHT, "")
    for run in _series(f, y, buckets, "p50_ms"):
        out.append(polyline(run, stroke=P50, stroke_width=1.5, class_="p50"))
    for run in _series(f, y, buckets, "p95_ms"):
        out.append(polyline(run, stroke=P95, stroke_width=2.2, class_="p95"))
    return out


def _errors(f: _Frame, buckets: Sequence[Bucket]) -> list[str]:
    top, bottom = f.err
    peak = max((b.error_rate for b in buckets if b.requests), default=0.0)
    ticks = nice_ticks(max(peak * 100 * 1.05, 5.0), 2)
    y = Scale(0, ticks[-1], bottom, top)
    out = _title(top, "Error rate (%)", "failed requests per second")
    out += y_axis(y, ticks, LEFT, W - RIGHT, "%")
    for b in buckets:
        if b.failures:  # one bar per second: the buckets are seconds, not samples of a curve
            x0, h = f.x(b.t), bottom - y(b.error_rate * 100)
            hover = f"+{b.t:.0f} s: {b.failures} of {b.requests} failed ({b.error_rate:.1%})"
            bar = rect(x0, bottom - h, f.x(b.t + 1) - x0, h, hover, fill=ERR, class_="errors")
            out.append(bar)
    return out


def _title(top: float, title: str, sub: str) -> list[str]:
    return [
        text(12, top + 12, title, fill=INK, font_weight=700, font_size=13),
        text(12, top + 28, sub, fill=MUTED, font_size=11),
    ]


def _alerts(f: _Frame, rows: Sequence[AlertRow], end: float) -> list[str]:
    top = f.alerts[0]
    out = [text(12, top - 8, "Alerts", fill=INK, font_weight=700, font_size=13)]
    if not rows:
        none = "no alert was pending or firing during the run"
        out.append(text(LEFT + 8, top + 17, none, fill=MUTED))
    for i, row in enumerate(rows):
        y = top + i * ROW
        out.append(line(LEFT, y + ROW, W - RIGHT, y + ROW, stroke="#f3f4f6"))
        out.append(_alert_label(row, y))
        for s in row.spans:
            stop = s.end if s.end is not None else end
            out.extend(_episode(f.x, y, s.start, s.firing, stop, f"{row.alert} {s.labels}"))
    return out


def _alert_label(row: AlertRow, y: float) -> str:
    tag = {"fires": " (expected)", "silent": " (silent)"}.get(row.expected, "")
    fired = any(s.firing is not None for s in row.spans)
    style = {
        "fill": BAD if row.expected == "silent" and fired else INK,
        "font_weight": 600 if row.expected else 400,
    }
    label = truncate(row.alert, 24) + tag
    return text(LEFT - 8, y + 17, label, text_anchor="end", font_size=11, **style)


def _episode(
    x: Scale, y: float, start: float, firing: float | None, end: float, who: str
) -> list[str]:
    stop = firing if firing is not None else end
    hover = f"{who}: pending +{start:.1f} s"
    out = [rect(x(start), y + 5, x(stop) - x(start), ROW - 10, hover, fill=PENDING,
                class_="pending")]  # fmt: skip
    if firing is not None:
        hover = f"{who}: firing +{firing:.1f} s, resolved +{end:.1f} s"
        width = x(end) - x(firing)
        out.append(rect(x(firing), y + 5, width, ROW - 10, hover, fill=FIRING, class_="firing"))
    return out


def _time_axis(x: Scale, y: float, end: float) -> list[str]:
    out = [line(LEFT, y, W - RIGHT, y, stroke="#9ca3af")]
    for t in nice_ticks(end, 10):
        if t <= end:
            out.append(line(x(t), y, x(t), y + 5, stroke="#9ca3af"))
            out.append(text(x(t), y + 18, f"{fmt(t)} s", text_anchor="middle", fill=MUTED))
    return out


def _detections(f: _Frame, found: Sequence[Detection]) -> list[str]:
    out = []
    for i, d in enumerate(found):
        x, colour = f.x(d.at), OK if d.passed else BAD
        dashed = {"stroke": colour, "stroke_width": 2, "stroke_dasharray": "6 3"}
        out.append(line(x, f.lat[0], x, f.bottom, class_="detection", **dashed))
        anchor, dx = ("end", -6) if x > W - 320 else ("start", 6)
        label = f"{d.alert} detected after {d.after_s:.1f} s"
        if d.predicted:
            label += f" (predicted {d.predicted[0]:g}-{d.predicted[1]:g} s)"
        y = f.lat[1] - 14 - 18 * i
        out.append(text(x + dx, y, label, text_anchor=anchor, fill=colour, font_weight=700, **HALO))
    return out


def paging_chart(p: Paging, duration: float) -> str:
    """Who was paged, on the run's time axis: a row per receiver, each notification group a bar
    of its own from its first firing notification (dark mark) to its resolved one, repeats as
    ticks; then a row per alert Alertmanager held back. Pages are counted in the shaded
    window."""
    end = max(duration, 1.0)
    x = Scale(0, end, LEFT, W - RIGHT)
    lanes = [max(1, len(r.pages)) for r in p.receivers]  # one lane per notification group
    top, rows_h = 30, ROW * max(1, sum(lanes))
    held0 = top + rows_h + 30  # room for the "Held back" title
    bottom = held0 + ROW * len(p.held) if p.held else top + rows_h
    w0, w1 = x(p.window[0]), x(p.window[1])
    counted = "pages are counted here: fault and recovery"
    body = [
        rect(w0, top, w1 - w0, rows_h, counted, fill=PAGING_WINDOW, class_="paging-window"),
        text(12, top - 10, "Receivers", fill=INK, font_weight=700, font_size=13),
    ]
    if not p.receivers:
        none = "no receiver got a notification during the run"
        body.append(text(LEFT + 8, top + 17, none, fill=MUTED, class_="not-paged"))
    for i, row in enumerate(p.receivers):
        body += _receiver(x, top + ROW * sum(lanes[:i]), row, end)
    if p.held:
        body.append(text(12, held0 - 10, "Held back", fill=INK, font_weight=700, font_size=13))
    for i, held in enumerate(p.held):
        body += _held(x, held0 + i * ROW, held)
    body += _time_axis(x, bottom + 6, end)
    label = "who was paged: notification groups per receiver, and alerts held back"
    return svg(W, bottom + 40, body, label, "paging")


def _row_label(y: float, label: str, lanes: int = 1, **style: object) -> list[str]:
    bottom = y + ROW * lanes
    return [
        line(LEFT, bottom, W - RIGHT, bottom, stroke="#f3f4f6"),
        text(LEFT - 8, y + 17, label, text_anchor="end", font_size=11, **style),
    ]


def _bar(x: Scale, y: float, start: float, end: float, hover: str, **kw: object) -> str:
    return rect(x(start), y + 6, x(end) - x(start), ROW - 12, hover, **kw)


def _tick(x: Scale, y: float, t: float, hover: str, width: float, **kw: object) -> str:
    return rect(x(t) - width / 2, y + 2, width, ROW - 4, hover, **kw)


def _on_bar(x: float, y: float, label: str) -> str:
    anchor, dx = ("end", -6) if x > W - 320 else ("start", 6)
    return text(x + dx, y + 17, label, text_anchor=anchor, fill=INK, font_size=11, **HALO)


def _receiver(x: Scale, y: float, row: ReceiverRow, end: float) -> list[str]:
    tag = f" ({row.expected})" if row.expected else ""
    weight = 600 if row.expected else 400
    label = truncate(row.receiver, 22) + tag
    out = _row_label(y, label, max(1, len(row.pages)), fill=INK, font_weight=weight)
    if not row.pages:
        out.append(text(LEFT + 8, y + 17, "not paged", fill=MUTED, class_="not-paged"))
    for i, page in enumerate(row.pages):
        out += _page(x, y + i * ROW, row.receiver, page, end)
    return out


def _page(x: Scale, y: float, receiver: str, page: PageMark, end: float) -> list[str]:
    stop = page.resolved if page.resolved is not None else end
    hover = f"{receiver}, group {page.group_key}: {page.summary}"
    paged = f"{receiver} paged at +{page.first:.1f} s"
    out = [
        _bar(x, y, page.first, stop, hover, fill=PAGE_FILL, class_="page"),
        _tick(x, y, page.first, paged, 3, fill=NOTIFIED, class_="notified"),
    ]
    out += [
        _tick(x, y, t, f"repeat +{t:.1f} s", 2, fill=REPEAT, class_="repeat") for t in page.repeats
    ]
    if page.resolved is not None:
        resolved = f"resolved +{page.resolved:.1f} s"
        out.append(_tick(x, y, page.resolved, resolved, 3, fill=OK, class_="resolved"))
    out.append(_on_bar(x(page.first), y, truncate(", ".join(page.alerts) or "no alert", 48)))
    return out


def _held(x: Scale, y: float, held: HeldAlert) -> list[str]:
    hover = f"{held.alert} {held.labels}: {held.reason}, +{held.start:.1f} s to +{held.end:.1f} s"
    out = _row_label(y, truncate(held.alert, 30), fill=MUTED)
    out.append(_bar(x, y, held.start, held.end, hover, fill=HELD, class_=f"held {held.how}"))
    out.append(_on_bar(x(held.start), y, truncate(held.reason, 60)))
    return out


def root_cause_chart(rc: RootCause) -> str:
    """Per service: its share of blame among slow traces in the baseline vs under the fault."""
    left, per = 190, 44
    x = Scale(0, 1, left, W - 90)
    body = [
        rect(left, 6, 12, 12, fill=GREY),
        text(left + 18, 16, f"baseline's slowest ({rc.analysed_baseline} traces)", fill=INK),
        rect(left + 260, 6, 12, 12, fill=P95),
        text(left + 278, 16, f"fault window's slow/failed ({rc.analysed_fault} traces)", fill=INK),
    ]
    for i, row in enumerate(rc.rows):
        y = 34 + i * per
        name = truncate(f"{row.service} (expected)" if row.expected else row.service, 28)
        weight = 700 if row.expected else 400
        body.append(text(left - 10, y + 18, name, text_anchor="end", fill=INK, font_weight=weight))
        fault_colour = (OK if rc.passed else BAD) if row.expected else P95
        body += _share_bar(x, y, row.service, row.baseline, GREY, "baseline")
        body += _share_bar(x, y + 16, row.service, row.fault, fault_colour, "fault")
    height = 34 + per * max(1, len(rc.rows)) + 6
    label = "root cause: share of slow traces blaming each service"
    return svg(W, height, body, label, "root-cause")


def _share_bar(x: Scale, y: float, service: str, share: float, colour: str, what: str) -> list[str]:
    hover = f"{service}: {share:.0%} ({what})"
    return [
        rect(x.a, y, x(share) - x.a, 14, hover, fill=colour, class_=f"share {what}"),
        text(x(share) + 6, y + 11, f"{share:.0%}", fill=MUTED, font_size=11),
    ]


def waterfall_chart(wf: Waterfall) -> str:
    """The trace's spans as bars on its time axis; critical-path stretches drawn dark on top."""
    label_w, right, row, top = 330, 80, 22, 34
    x = Scale(0, max(wf.duration_ms, 1e-3), label_w, W - right)
    colours = service_colours(wf.spans)
    body = list(_ms_axis(x, wf.duration_ms, top))
    for i, s in enumerate(wf.spans):
        body.extend(_span_row(x, top + 6 + i * row, s, colours[s.service]))
    height = top + 6 + row * max(1, len(wf.spans)) + 10
    return svg(W, height, body, f"trace {wf.trace_id} as a waterfall", "waterfall")


def service_colours(spans: Sequence[WaterfallSpan]) -> dict[str, str]:
    """A colour per service of a waterfall (stable: services in name order)."""
    names = sorted({s.service for s in spans})
    return {n: SERVICE_COLOURS[i % len(SERVICE_COLOURS)] for i, n in enumerate(names)}


def _ms_axis(x: Scale, total: float, top: float) -> list[str]:
    out = []
    for t in nice_ticks(total or 1.0, 8):
        if t <= total:
            out.append(line(x(t), top - 4, x(t), 10_000, stroke="#f3f4f6"))
            out.append(text(x(t), top - 10, f"{fmt(t)} ms", text_anchor="middle", fill=MUTED))
    return out


def _span_row(x: Scale, y: float, s: WaterfallSpan, colour: str) -> list[str]:
    who, took = f"{s.service} \u00b7 {s.name}", s.end_ms - s.start_ms
    hover = f"{who}: {took:.1f} ms from +{s.start_ms:.1f} ms" + (" (error)" if s.error else "")
    indent = min(s.depth, 8)
    label = truncate(who, 44 - 2 * indent)
    edge = {"stroke": BAD, "stroke_width": 2} if s.error else {}
    kind = "span critical-span" if s.critical else "span"
    out = [
        text(10 + 14 * indent, y + 13, label, fill=BAD if s.error else INK, font_size=11),
        rect(x(s.start_ms), y + 2, x(s.end_ms) - x(s.start_ms), 16, hover, fill=colour,
             class_=kind, **edge),
    ]  # fmt: skip
    for a, b in s.critical:
        hover = f"critical path: {b - a:.1f} ms"
        out.append(rect(x(a), y + 7, x(b) - x(a), 6, hover, fill=INK, class_="critical"))
    out.append(text(x(s.end_ms) + 5, y + 14, f"{took:.1f} ms", fill=MUTED, font_size=10))
    return out
