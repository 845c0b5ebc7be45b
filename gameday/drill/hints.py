"""Hints for a trainee who is stuck: the runbooks of what fired, then where a slow request
spent its time along its critical path.

Each hint is a list of lines, built when it is given (from what the stack shows then).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from gameday.analysis.critical_path import critical_path
from gameday.drill.pager import label_text
from gameday.evidence.requests import Record
from gameday.telemetry.prometheus import PrometheusAlert
from gameday.telemetry.spans import SPAN_KIND_CLIENT, Trace
from gameday.telemetry.traces import TraceClient

RECENT_S = 30.0  # the trace hint looks at requests of the last half minute
SPAN_ARRIVAL_S = 1.5  # spans are exported in batches: a just-finished request's may be late
TRACE_TRIES = 3
BAR_WIDTH = 24
ALL_RUNBOOKS = "docs/runbooks.md (what to look at first, for every alert of the stack)"


def runbook_hint(fired: Iterable[PrometheusAlert], fallback: str | None) -> list[str]:
    """The runbook of every alert that fired; without any, ``fallback`` (a runbook URL)."""
    seen: dict[str, PrometheusAlert] = {}
    for alert in fired:
        seen.setdefault(alert.name, alert)
    if not seen:
        where = fallback or ALL_RUNBOOKS
        return ["Hint: no alert fired. The runbook to start from:", f"    {where}"]
    out = ["Hint: read the runbooks of the alerts that fired:"]
    for name, alert in sorted(seen.items()):
        out.append(f"    {name} ({label_text(alert)})")
        out.append(f"        {alert.annotations.get('runbook_url') or ALL_RUNBOOKS}")
    return out


def trace_hint(requests: Sequence[Record], client: TraceClient | None) -> list[str]:
    """Where the slowest (or a failed) recent request spent its time, along its critical path."""
    if client is None:
        return ["Hint: (no trace backend in this environment, so no trace to look at)"]
    for record in _candidates(requests)[:TRACE_TRIES]:
        assert record.trace_id is not None
        trace = client.get_trace(record.trace_id)
        if trace is not None and trace.spans:
            status = "ok" if record.ok else f"failed, status {record.status}"
            head = (
                f"Hint: the critical path of the slowest recent request "
                f"(trace {record.trace_id}, {record.ms:.0f} ms, {status}):"
            )
            return [head, *breakdown(trace)]
    return ["Hint: no trace of a recent request has reached the trace backend yet"]


def _candidates(requests: Sequence[Record], now: float | None = None) -> list[Record]:
    now = time.time() if now is None else now
    recent = [
        r
        for r in requests
        if r.trace_id and now - RECENT_S <= r.t and r.end <= now - SPAN_ARRIVAL_S
    ]
    return sorted(recent, key=lambda r: (r.ok, -r.ms))  # failed first, then the slowest


def breakdown(trace: Trace) -> list[str]:
    """Critical-path time per (service, span), largest first, with a bar; CLIENT spans say
    which service they call (their time is on the wire or inside that service)."""
    peers = {
        s.span_id: str(s.attributes.get("peer.service", ""))
        for s in trace.spans
        if s.kind == SPAN_KIND_CLIENT
    }
    totals: dict[tuple[str, str], float] = {}
    for seg in critical_path(trace):
        name = seg.name
        if seg.span_id in peers:
            name += f" (client call to {peers[seg.span_id] or 'another service'})"
        totals[(seg.service, name)] = totals.get((seg.service, name), 0.0) + seg.duration_ns / 1e6
    total = sum(totals.values()) or 1.0
    rows = sorted(totals.items(), key=lambda kv: -kv[1])
    width = max((len(f"{s}  {n}") for (s, n), _ in rows), default=0)
    return [
        f"    {f'{s}  {n}':<{width}}  {ms:8.1f} ms  {ms / total:4.0%}  "
        + "#" * round(BAR_WIDTH * ms / total)
        for (s, n), ms in rows
    ]
