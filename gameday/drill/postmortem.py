"""The blameless post-mortem template a drill writes (Markdown), pre-filled with its timeline.

:func:`run_events` reads the run's side of the timeline from its evidence (the bundle): fault
applied and reverted, each alert's pending / firing / resolved (Prometheus ``ALERTS``
episodes), the notifications Alertmanager sent, and when the stack recovered. The
drill adds its own events (paged, acknowledged, hypotheses, diagnosed). :func:`render` is
pure: facts in, Markdown out, with empty sections for the team to fill in.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gameday.drill.sheet import Event
from gameday.evidence.alerts import Episode, all_episodes
from gameday.evidence.model import (
    AlertsEvidence,
    FaultEvidence,
    NotifiedAlertEvidence,
    RunEvidence,
    labels_match,
)
from gameday.evidence.requests import LoadStats
from gameday.verifiers.recovery import fault_alerts

Sent = tuple[float, str, NotifiedAlertEvidence]
"""A firing notification: when it arrived, the receiver, the alert it carried."""
FIRED_AT_SLACK_S = 5.0  # without a pending sample, FiredAt lies at most this before ALERTS

ENDINGS = {
    "diagnosed": "root cause identified by the responder",
    "time up": "time limit reached before a diagnosis; the answer was then revealed",
    "gave up": "ended before a diagnosis; the answer was then revealed",
}


def run_events(evidence: RunEvidence) -> tuple[list[Event], list[str]]:
    """The run's timeline events, and a note for each kind of evidence the bundle lacks."""
    tl = evidence.timeline
    events = [Event(tl.started_at, "drill started", "run")]
    for f in tl.faults:
        if f.applied_at is not None:
            events.append(Event(f.applied_at, f"fault applied: {_describe(f)}", "fault"))
        if f.reverted_at is not None:
            events.append(Event(f.reverted_at, f"fault reverted: {f.title}", "fault"))
    notes: list[str] = []
    sent = _notified(evidence)
    events += [Event(at, f"alert notified: {a.alertname} to {receiver}", "alert")
               for at, receiver, a in sent]  # fmt: skip
    if evidence.alerts is None:
        notes.append("alert episodes unavailable: no Prometheus evidence in the bundle")
    else:
        events += _alert_events(evidence.alerts, tl.started_at, sent)
    events += _recovered(evidence)
    return events, notes


def _describe(fault: FaultEvidence) -> str:
    """``network.latency on orders-db (latency_ms=800)``, as the drill says it."""
    shown = ", ".join(f"{k}={v}" for k, v in fault.params.items())
    what = f"{fault.injector} on {fault.target}"
    return f"{what} ({shown})" if shown else what


def _notified(evidence: RunEvidence) -> list[Sent]:
    """The first firing notification of each alert instance: when, to which receiver."""
    seen: set[tuple[str, str, float | None]] = set()
    out = []
    for note in evidence.notifications.webhooks:
        for alert in note.alerts:
            key = (alert.alertname, note.receiver, alert.starts_at)
            if alert.status == "firing" and key not in seen:
                seen.add(key)
                out.append((note.received_at, note.receiver, alert))
    return out


def _alert_events(alerts: AlertsEvidence, started_at: float, sent: list[Sent]) -> list[Event]:
    """Pending, firing and resolved of every alert episode that began during the run."""
    out = []
    for e in all_episodes(alerts):
        if e.active_at < started_at or e.open_at_start:
            continue
        who = f"{e.alertname} ({_labels(e.labels)})" if _labels(e.labels) else e.alertname
        firing = _fired_at(e, sent) if e.firing_at is not None else None
        for at, state in ((e.pending_at, "pending"), (firing, "firing"),
                          (e.resolved_at, "resolved")):  # fmt: skip
            if at is not None:
                out.append(Event(at, f"alert {state}: {who}", "alert"))
    return out


def _fired_at(e: Episode, sent: list[Sent]) -> float | None:
    """Prometheus's exact FiredAt from a notification of this episode, else the first
    ``ALERTS`` sample in state firing (which is up to one evaluation late)."""
    assert e.firing_at is not None
    lower = e.pending_at if e.pending_at is not None else e.firing_at - FIRED_AT_SLACK_S
    exact = [
        a.starts_at
        for _, _, a in sent
        if a.starts_at is not None
        and lower <= a.starts_at <= e.firing_at
        and labels_match(a.labels, dict(e.labels))
    ]
    return min(exact, default=e.firing_at)


def _labels(labels: Mapping[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k not in ("alertname", "severity", "team")}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))


def _recovered(evidence: RunEvidence) -> list[Event]:
    reverted = evidence.timeline.fault_end
    if reverted is None:
        return []
    alerts = fault_alerts(evidence)
    if any(e.resolved_at is None for e in alerts):
        end = evidence.timeline.finished_at or evidence.captured_at
        return [Event(end, "not recovered yet: alerts still firing when the drill ended", "run")]
    if not alerts:
        return [Event(reverted, "recovered (no alert had fired)", "run")]
    last = max(e.resolved_at or reverted for e in alerts)
    return [Event(last, "recovered: every alert resolved", "run")]


@dataclass(frozen=True)
class Facts:
    """What the post-mortem is pre-filled with (times Unix seconds, durations seconds)."""

    scenario: str
    summary: str
    faults: Sequence[str]
    answer: str
    ended: str
    paged_by: str
    fault_at: float | None
    time_to_acknowledge_s: float | None
    time_to_diagnosis_s: float | None
    ruled_out: int
    hints: int
    baseline: LoadStats
    under_fault: LoadStats
    events: Sequence[Event]
    notes: Sequence[str] = ()
    aborted: str | None = None


def render(facts: Facts) -> str:
    """The post-mortem template as Markdown (blameless: about systems, not people)."""
    day = time.strftime("%Y-%m-%d", time.localtime(facts.fault_at or time.time()))
    parts = [
        f"# Post-mortem (blameless): {facts.scenario}, game-day drill, {day}",
        "",
        "*A blameless review: it is about how the system, its alerts, dashboards and runbooks "
        "helped or hindered the response, not about who did what. Everyone involved acted on "
        "the information they had at the time.*",
        "",
        "## Summary",
        "",
        *_summary(facts),
        "",
        "## Timeline",
        "",
        "Local times, and seconds since the fault was applied.",
        "",
        *_timeline(facts.events, facts.fault_at),
        *([""] + [f"> note: {n}" for n in facts.notes] if facts.notes else []),
        "",
        *_blank_sections(),
    ]
    return "\n".join(parts) + "\n"


def _summary(f: Facts) -> list[str]:
    paged = (
        "a report from a downstream team (no alert fired)"
        if f.paged_by == "report"
        else (f"the alert {f.paged_by}")
    )
    ended = f"drill aborted: {f.aborted}" if f.aborted else ENDINGS.get(f.ended, f.ended)
    return [
        f"- **What happened:** {' '.join(f.summary.split()) or '-'}",
        f"- **Root cause:** {'; '.join(f.faults)} (component {f.answer})",
        f"- **Detected by:** {paged if f.paged_by else 'nothing before the drill ended'}",
        f"- **Time to acknowledge:** {_secs(f.time_to_acknowledge_s)} "
        "(from the first alert firing, or from the fault when none fired)",
        f"- **Time to diagnosis:** {_secs(f.time_to_diagnosis_s)}; hypotheses ruled out on "
        f"the way: {f.ruled_out}; hints used: {f.hints}",
        f"- **Outcome:** {ended}",
        f"- **Load:** baseline {_load(f.baseline)}; under the fault {_load(f.under_fault)}",
    ]


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _load(stats: LoadStats) -> str:
    if not stats.requests:
        return "no requests"
    p95 = f"{stats.p95_ms:.0f} ms" if stats.p95_ms is not None else "-"
    return f"{stats.requests} requests, p95 {p95}, {stats.error_rate:.1%} errors"


def _timeline(events: Sequence[Event], origin: float | None) -> list[str]:
    rows = ["| time | since fault | source | event |", "|---|---|---|---|"]
    for e in sorted(events, key=lambda e: e.at):
        clock = time.strftime("%H:%M:%S", time.localtime(e.at))
        since = "" if origin is None else f"{e.at - origin:+.1f} s"
        rows.append(f"| {clock} | {since} | {e.source} | {e.what.replace('|', '/')} |")
    return rows


def _blank_sections() -> list[str]:
    return [
        "## Impact",
        "",
        "<!-- Who and what was affected, for how long and how much: users, predictions, data. -->",
        "",
        "## Contributing factors",
        "",
        "<!-- Conditions that made this possible or worse: gaps in alerts, dashboards, runbooks,",
        "     tooling or process. Systems and processes, not people. -->",
        "",
        "## What went well",
        "",
        "<!-- What helped: the alerts, signals, runbook steps and tools that pointed the way. -->",
        "",
        "## Where we got lucky",
        "",
        "<!-- What could have made this worse. -->",
        "",
        "## Action items",
        "",
        "| action | kind (prevent / detect / mitigate) | owner | due |",
        "|---|---|---|---|",
        "|  |  |  |  |",
    ]
