"""Mutants: wrong expectations a recorded run must refute, to show every verifier can fail.

A verdict that passes whatever the scenario says is worth nothing. From a scenario and the
evidence of one of its real runs, :func:`mutants` derives scenarios that expect something the
run did *not* show: an expected alert swapped for one that never fired, a bound under the
rule's own minimum or under the measured detection, another receiver, other labels, a
``silent`` alert the fault did fire, another culprit for root cause, a recovery faster than
measured, a tighter SLO, more quarantined batches than there were, the opposite model-version
change, a page count off by one, the wrong inhibitor, an alert grouped with others that never
reached the receiver, fewer groups than there were. :func:`kill_report` judges each mutant
against the same evidence: a mutant is *killed* when its mutated check fails (passing is a
verifier that cannot tell). The original must pass for the comparison to mean anything.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from gameday.evidence.alerts import all_episodes, detection_timing, episodes
from gameday.evidence.model import RunEvidence
from gameday.evidence.requests import from_columns, summarize
from gameday.registry import Registry
from gameday.scenario.expectations import Expectation
from gameday.scenario.model import Scenario, scenario_from_document
from gameday.scenario.yamlsafe import Document
from gameday.verifiers.base import Check, Verifier
from gameday.verifiers.data_quality import bad_batches
from gameday.verifiers.pages import pages
from gameday.verifiers.recovery import fault_alerts

Item = dict[str, Any]
NOBODY = "gameday-mutant"
NO_ALERT = "GamedayMutantAlert"  # an alert name no rule has


@dataclass(frozen=True)
class Mutant:
    """One wrong scenario: ``index`` is the expectation that was changed or added."""

    kind: str  # the verifier kind whose check must fail
    how: str
    scenario: Scenario
    index: int


@dataclass(frozen=True)
class Outcome:
    """A mutant judged: ``killed`` when its mutated check did not pass."""

    mutant: Mutant
    check: Check

    @property
    def killed(self) -> bool:
        return not self.check.passed


@dataclass
class KillReport:
    """Mutants per verifier kind, and how many the verdicts killed."""

    outcomes: list[Outcome] = field(default_factory=list)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """``kind -> (killed, total)``."""
        out: dict[str, tuple[int, int]] = {}
        for o in self.outcomes:
            killed, total = out.get(o.mutant.kind, (0, 0))
            out[o.mutant.kind] = (killed + o.killed, total + 1)
        return dict(sorted(out.items()))

    @property
    def survivors(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.killed]


def mutants(
    scenario: Scenario,
    evidence: RunEvidence,
    verifiers: Registry[Verifier[Expectation]] | None = None,
) -> list[Mutant]:
    """Every mutant of ``scenario`` this run's evidence can refute."""
    document = _document(evidence)
    out: list[Mutant] = []
    for index, item in enumerate(document.get("expect", [])):
        for how, new_item in _mutations(item, evidence):
            out.append(_build(scenario, document, index, how, new_item, verifiers))
    for how, new_item in _fired_yet_silent(document, evidence):
        out.append(_build(scenario, document, None, how, new_item, verifiers))
    return out


def kill_report(
    scenario: Scenario,
    evidence: RunEvidence,
    judge: Callable[[Scenario, RunEvidence], list[Check]],
) -> KillReport:
    """Judge every mutant of ``scenario`` on ``evidence`` with ``judge``."""
    report = KillReport()
    for mutant in mutants(scenario, evidence):
        checks = judge(mutant.scenario, evidence)
        report.outcomes.append(Outcome(mutant, checks[mutant.index]))
    return report


def _document(evidence: RunEvidence) -> dict[str, Any]:
    return copy.deepcopy(dict(evidence.scenario))


def _build(
    scenario: Scenario,
    document: Mapping[str, Any],
    index: int | None,
    how: str,
    item: Item,
    verifiers: Registry[Verifier[Expectation]] | None,
) -> Mutant:
    data = copy.deepcopy(dict(document))
    expect = list(data.get("expect", []))
    if index is None:
        expect.append(item)
        index = len(expect) - 1
    else:
        expect[index] = item
    data["expect"] = expect
    where = f"<mutant of {scenario.name}: {how}>"
    mutated = scenario_from_document(Document(where, data), verifiers=verifiers)
    kind = next(k for k in _KINDS if k in item)
    return Mutant(kind, how, mutated, index)


_KINDS = (
    "alert", "root_cause", "recovered", "slo", "data_quality", "model", "pages", "inhibited",
    "grouped",
)  # fmt: skip


def _mutations(item: Item, evidence: RunEvidence) -> Iterator[tuple[str, Item]]:
    if "alert" in item:
        yield from _alert_mutations(item, evidence)
    elif "root_cause" in item:
        yield from _culprit_mutations(item["root_cause"], evidence)
    elif "recovered" in item:
        yield from _recovery_mutations(item["recovered"], evidence)
    elif "slo" in item:
        yield from _slo_mutations(item["slo"], evidence)
    elif "data_quality" in item:
        yield from _data_mutations(item["data_quality"], evidence)
    elif "pages" in item:
        yield from _pages_mutations(item["pages"], evidence)
    elif "inhibited" in item:
        yield from _inhibitor_mutations(item["inhibited"], evidence)
    elif "grouped" in item:
        yield from _grouped_mutations(item["grouped"], evidence)
    elif "model" in item:
        flipped = not item["model"]["version_changed"]
        yield (
            f"model version_changed: {str(flipped).lower()}",
            {"model": {"version_changed": flipped}},
        )


# --- alerts -------------------------------------------------------------------------------------


def _alert_mutations(item: Item, evidence: RunEvidence) -> Iterator[tuple[str, Item]]:
    alerts = evidence.alerts
    if alerts is None:
        return
    name = item["alert"]
    if item.get("silent"):
        bound = evidence.timeline.planned.fault
        flipped: Item = {"alert": name, "fires_within": bound}
        if item.get("labels"):  # the same series: another series of the alert may well fire
            flipped["labels"] = item["labels"]
        yield f"{name} expected to fire", flipped
        return
    quiet = _quiet_alerts(evidence) - {name}
    unnamed = sorted(quiet - set(evidence.named_alerts))  # another family's alert, preferably
    choices = unnamed or sorted(quiet)
    other = choices[0] if choices else None
    if other:
        swapped = {"alert": other, "fires_within": item["fires_within"]}
        yield f"{name} swapped for {other}, which never fired", swapped
    rule = alerts.rules.get(name)
    if rule is not None:
        timing = detection_timing(rule, alerts.scrape_interval_s, alerts.evaluation_interval_s)
        if timing.floor_s > 0.2:
            low = round(timing.floor_s / 2, 3)
            yield f"{name} bound {low} s under the rule's minimum", {**item, "fires_within": low}
    detected = _detection(name, item.get("labels") or {}, evidence)
    if detected is not None and detected > 0.2:
        low = round(detected / 2, 3)
        yield f"{name} bound {low} s under its measured detection", {**item, "fires_within": low}
    if item.get("receiver"):
        receivers = _receivers(evidence) - {item["receiver"]}
        other_receiver = min(receivers) if receivers else NOBODY
        yield f"{name} routed to {other_receiver}", {**item, "receiver": other_receiver}
    labels = item.get("labels") or {}
    if labels:
        key = sorted(labels)[0]
        yield f"{name} with {key}={NOBODY}", {**item, "labels": {**labels, key: NOBODY}}


def _detection(name: str, labels: Mapping[str, str], evidence: RunEvidence) -> float | None:
    """Seconds from the fault to the first firing sample of ``name`` under it."""
    start, alerts = evidence.timeline.fault_start, evidence.alerts
    if start is None or alerts is None:
        return None
    firing = [
        e.firing_at - start
        for e in episodes(alerts, name, labels)
        if e.firing_at is not None and e.active_at >= start
    ]
    return min(firing, default=None)


def _quiet_alerts(evidence: RunEvidence) -> set[str]:
    """Alerting rules that never became active during the run."""
    assert evidence.alerts is not None
    active = {s.alertname for s in evidence.alerts.series}
    return set(evidence.alerts.rules) - active


def _receivers(evidence: RunEvidence) -> set[str]:
    n = evidence.notifications
    return (
        {w.receiver for w in n.webhooks}
        | set(n.group_wait_s)
        | {r for s in n.sightings for r in s.receivers}
    )


def _fired_yet_silent(
    document: Mapping[str, Any], evidence: RunEvidence
) -> Iterator[tuple[str, Item]]:
    """A ``silent`` expectation for every alert that the fault fired (once per alert)."""
    start = evidence.timeline.fault_start
    if evidence.alerts is None or start is None:
        return
    end = evidence.timeline.finished_at or evidence.captured_at
    fired = sorted(
        {
            e.alertname
            for e in all_episodes(evidence.alerts)
            if e.firing_at is not None and start <= e.active_at <= end
        }
    )
    for name in fired:
        yield f"{name} expected silent, but the fault fired it", {"alert": name, "silent": True}


# --- root cause, recovery, SLO, data ------------------------------------------------------------


def _culprit_mutations(spec: Item, evidence: RunEvidence) -> Iterator[tuple[str, Item]]:
    services = sorted(
        {s.service for spans in evidence.traces.traces.values() if spans for s in spans}
        - {spec["service"]}
    )
    other = services[0] if services else NOBODY
    mutated = {k: v for k, v in spec.items() if k != "span"}
    yield (
        f"culprit {other} instead of {spec['service']}",
        {"root_cause": {**mutated, "service": other}},
    )


def _recovery_mutations(spec: Item, evidence: RunEvidence) -> Iterator[tuple[str, Item]]:
    reverted = evidence.timeline.fault_end
    if reverted is None:
        return
    slowest = max(
        ((e.resolved_at or reverted) - reverted for e in fault_alerts(evidence)), default=0.0
    )
    if slowest > 0.2:
        within = round(slowest / 2, 3)
        yield f"recovered within {within} s", {"recovered": {**spec, "within": within}}


def _slo_mutations(spec: Item, evidence: RunEvidence) -> Iterator[tuple[str, Item]]:
    window = evidence.timeline.window(spec.get("phase", "run"))
    stats = summarize(from_columns(evidence.load.requests), *window) if window else None
    if stats is None or not stats.requests:
        return
    if stats.p95_ms is not None and stats.p95_ms > 1:
        bound = round(stats.p95_ms / 2, 3)
        tight = {k: v for k, v in spec.items() if k != "error_rate_below"}
        yield f"p95 below {bound} ms", {"slo": {**tight, "p95_below_ms": bound}}
    if stats.error_rate > 0:
        rate = round(stats.error_rate / 2, 6)
        tight = {k: v for k, v in spec.items() if k != "p95_below_ms"}
        yield f"error rate below {rate}", {"slo": {**tight, "error_rate_below": rate}}


def _data_mutations(spec: Item, evidence: RunEvidence) -> Iterator[tuple[str, Item]]:
    bad = bad_batches(evidence.timeline.faults)
    if not bad:
        return
    need = len(bad) + 1
    mutated = {k: v for k, v in spec.items() if k != "corrupt_rows_stored"}
    yield (
        f"{need} bad batches quarantined",
        {"data_quality": {**mutated, "bad_batches_quarantined": need}},
    )
    stored = sum(b.written for b in evidence.data.stored.values())
    if stored > 0:
        yield "no corrupt row stored", {"data_quality": {"corrupt_rows_stored": stored - 1}}


# --- pages, inhibition, grouping ----------------------------------------------------------------


def _pages_mutations(spec: Item, evidence: RunEvidence) -> Iterator[tuple[str, Item]]:
    if not evidence.notifications.has_webhooks:
        return  # from the API alone the count is a range: off by one may still be inside it
    receiver = spec["receiver"]
    count = len(pages(evidence, receiver))
    yield (
        f"{receiver} paged exactly {count + 1} times",
        {"pages": {"receiver": receiver, "exactly": count + 1}},
    )
    if count > 0:
        yield (
            f"{receiver} paged exactly {count - 1} times",
            {"pages": {"receiver": receiver, "exactly": count - 1}},
        )


def _inhibitor_mutations(spec: Item, evidence: RunEvidence) -> Iterator[tuple[str, Item]]:
    real = {
        n for s in evidence.notifications.statuses if s.alertname == spec["alert"]
        for n in s.inhibited_by_names
    }  # fmt: skip
    names = evidence.alerts.names() if evidence.alerts else []
    others = [n for n in names if n not in real | {spec["alert"], spec["by"]}]
    other = others[0] if others else NO_ALERT
    yield f"inhibited by {other} instead of {spec['by']}", {"inhibited": {**spec, "by": other}}


def _grouped_mutations(spec: Item, evidence: RunEvidence) -> Iterator[tuple[str, Item]]:
    yield (
        f"{NO_ALERT} grouped with {', '.join(spec['alerts'])}",
        {"grouped": {**spec, "alerts": [*spec["alerts"], NO_ALERT]}},
    )
    wanted = set(spec["alerts"])
    groups = [p for p in pages(evidence, spec["receiver"]) if wanted & set(p.alerts)]
    if len(groups) > 1:
        fewer = len(groups) - 1
        yield f"at most {fewer} groups", {"grouped": {**spec, "max_groups": fewer}}
