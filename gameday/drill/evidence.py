"""The evidence shown with the answer, as text: root-cause shares per service as a bar chart,
and one slow or failed request's trace as a waterfall with its critical path.

The shares are the scenario's own ``root_cause`` check's when it has one; otherwise they are
analysed here the same way from the traces the run kept (:mod:`gameday.verifiers.root_cause`).
The trace is the one the HTML report would show (:func:`gameday.report.collect.slow_trace`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from gameday.analysis.critical_path import RootCauseSummary
from gameday.report.collect import slow_trace
from gameday.report.data import RootCause, ShareRow, Waterfall, root_cause
from gameday.run.results import ScenarioResult
from gameday.verifiers.root_cause import fault_and_baseline

BAR = 30
LANE = 40
LABEL = 44


def shares(result: ScenarioResult, expected: Collection[str] = ()) -> RootCause | None:
    """Blame per service among slow or failed requests, under the fault and in the baseline
    (None when no request of the fault window was slow or failed: a fault traces cannot see)."""
    own = root_cause(result)
    if own is not None:
        return own
    if not result.evidence.traces.fault_ids:
        return None
    fault, baseline, _ = fault_and_baseline(result.evidence)
    return _rows(fault, baseline, expected)


def _rows(fault: RootCauseSummary, base: RootCauseSummary, expected: Collection[str]) -> RootCause:
    f = {c.service: c.share for c in fault.services}
    b = {c.service: c.share for c in base.services}
    names = sorted({*f, *b}, key=lambda s: (-f.get(s, 0.0), s))
    rows = tuple(ShareRow(s, b.get(s, 0.0), f.get(s, 0.0), s in expected) for s in names)
    return RootCause(rows, fault.analysed, base.analysed, passed=True)


def evidence_lines(result: ScenarioResult, expected: Collection[str] = ()) -> list[str]:
    """The bar chart and the waterfall; what the stack cannot give is named instead."""
    parts: list[tuple[str, Callable[[], list[str]]]] = [
        ("root-cause shares", lambda: bar_chart(shares(result, expected))),
        ("slow trace", lambda: waterfall_text(slow_trace(result))),
    ]
    out: list[str] = []
    for what, build in parts:
        try:
            out += build()
        except Exception as exc:  # noqa: BLE001 - the answer is shown even without evidence
            out.append(f"({what} unavailable: {type(exc).__name__}: {exc})")
        out.append("")
    return out


def bar_chart(rc: RootCause | None) -> list[str]:
    """Per service: its share of blame under the fault and in the baseline, as bars."""
    if rc is None:
        return [
            "Root cause from traces: no request was slow or failed under the fault, so the",
            "traces do not show this one; the evidence is in the metrics and the alerts.",
        ]
    width = max((len(r.service) for r in rc.rows), default=8)
    out = [
        "Root cause from traces: share of slow or failed requests blaming each service",
        f"  (under the fault: {rc.analysed_fault} traces; the baseline's slowest: "
        f"{rc.analysed_baseline} traces; * = the answer)",
    ]
    for row in rc.rows:
        name = f"{row.service}{' *' if row.expected else ''}"
        out.append(f"  {name:<{width + 2}}  under the fault  {_bar(row.fault)}")
        out.append(f"  {'':<{width + 2}}  baseline         {_bar(row.baseline)}")
    return out


def _bar(share: float) -> str:
    filled = round(BAR * max(0.0, min(1.0, share)))
    return "#" * filled + "." * (BAR - filled) + f" {share:4.0%}"


def waterfall_text(wf: Waterfall | None) -> list[str]:
    """The trace's spans in tree order on one time axis: ``#`` on the critical path, ``-``
    off it; failed spans are marked ERROR."""
    if wf is None or not wf.spans:
        return ["(no trace of a slow or failed request reached the trace backend)"]
    total = max(wf.duration_ms, 1e-3)
    out = [
        f"Trace {wf.trace_id} ({wf.why}), {wf.duration_ms:.1f} ms",
        "  '#' = on the critical path, '-' = off it",
    ]
    for s in wf.spans:
        label = ("  " * min(s.depth, 8) + f"{s.service} · {s.name}")[:LABEL]
        lane = _lane(s.start_ms, s.end_ms, s.critical, total)
        error = "  ERROR" if s.error else ""
        out.append(f"  {label:<{LABEL}} |{lane}| {s.end_ms - s.start_ms:8.1f} ms{error}")
    if wf.hidden:
        out.append(f"  ... and {wf.hidden} more spans")
    return out


def _lane(start: float, end: float, critical: Sequence[tuple[float, float]], total: float) -> str:
    def cell(t: float) -> int:
        return min(LANE - 1, max(0, int(t / total * LANE)))

    cells = [" "] * LANE
    for i in range(cell(start), cell(end) + 1):
        cells[i] = "-"
    for a, b in critical:
        for i in range(cell(a), cell(b) + 1):
            cells[i] = "#"
    return "".join(cells)
