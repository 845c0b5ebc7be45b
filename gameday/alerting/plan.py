"""Predicted detection time, before any run: can each expected alert fire within its bound?

For every ``alert`` expectation with ``fires_within``, :func:`plan` computes from the rule
(its ``for`` and its group's evaluation interval), the scrape interval and, where a receiver
is named, the least ``group_wait`` of the routes to it, how long the alerting chain takes once
the rule's condition holds: at least ``ceil(for / eval) * eval`` (+ ``group_wait``), at most
that plus one scrape and one evaluation (+ ``group_wait``), the arithmetic the ``alert``
verifier also applies (:func:`gameday.evidence.alerts.detection_timing`). A bound under the
least time can never be met: the plan says so and ``gameday plan`` exits 1.

The condition itself may take longer to become true than the fault: a range-vector rule such
as ``rate(errors[10s]) / rate(requests[10s]) > 0.05`` needs its window to fill with enough of
the fault. :func:`plan` reports the longest range window the condition reads (through the
recording rules it uses, one evaluation each) as ``window_s``: for a step change that takes
the measured quantity to ``m`` times the threshold, a ratio or rate over a window ``W``
crosses after about ``W / m``, at most ``W`` for a fault well over the threshold. The
magnitude is not known before the run, so the window is reported beside the prediction, not
added to it; an expression that cannot be parsed is said so (``window_s`` null, a note).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import promql_parser
import yaml

from gameday.alerting.routing import RoutingTree
from gameday.evidence.alerts import detection_timing
from gameday.evidence.model import RuleEvidence
from gameday.scenario.expectations import AlertExpectation
from gameday.scenario.model import Scenario
from gameday.telemetry._time import parse_duration


@dataclass(frozen=True)
class RuleBook:
    """What Prometheus evaluates: alerting rules by name (several may share one), recording
    rules' expressions by the series they record, and the global intervals (seconds)."""

    alerts: Mapping[str, tuple[RuleEvidence, ...]]
    recorded: Mapping[str, str]
    scrape_s: float
    eval_s: float


@dataclass(frozen=True)
class Prediction:
    """When one expected alert can fire (and notify), in seconds after its condition holds."""

    alert: str
    receiver: str | None
    bound_s: float
    predicted_min_s: float | None
    predicted_max_s: float | None
    window_s: float | None
    words: str

    @property
    def feasible(self) -> bool | None:
        """Whether the bound can be met at all; None when the rule is unknown."""
        return None if self.predicted_min_s is None else self.bound_s >= self.predicted_min_s

    @property
    def tight(self) -> bool:
        """Feasible, but a late scrape and evaluation may miss it (the window comes on top)."""
        if self.predicted_max_s is None or not self.feasible:
            return False
        return self.bound_s < self.predicted_max_s

    def to_json(self) -> dict[str, object]:
        return {
            "alert": self.alert,
            "receiver": self.receiver,
            "predicted_min_s": self.predicted_min_s,
            "predicted_max_s": self.predicted_max_s,
            "window_s": self.window_s,
            "bound_s": self.bound_s,
            "feasible": self.feasible,
            "tight": self.tight,
            "why": self.words,
        }


def plan(scenario: Scenario, rules: RuleBook, routing: RoutingTree | None) -> list[Prediction]:
    """A prediction for each ``alert`` expectation of ``scenario`` that has ``fires_within``."""
    waits = routing.group_waits() if routing else {}
    return [
        _predict(exp, exp.fires_within, rules, waits)
        for exp in scenario.expect
        if isinstance(exp, AlertExpectation) and exp.fires_within is not None
    ]


def _predict(
    exp: AlertExpectation, bound: float, rules: RuleBook, waits: Mapping[str, float]
) -> Prediction:
    candidates = rules.alerts.get(exp.alert, ())
    if not candidates:
        why = f"no alerting rule named {exp.alert}: cannot tell"
        return Prediction(exp.alert, exp.receiver, bound, None, None, None, why)
    wait: float | None = None
    notes = []
    if exp.receiver:
        wait = waits.get(exp.receiver)
        if wait is None:
            notes.append(f"group_wait of {exp.receiver} unknown, taken as 0 s")
            wait = 0.0
    # Several rules of one name (one per window pair, say): the alert fires with the fastest.
    timings = [
        detection_timing(r, rules.scrape_s, r.group_interval_s or rules.eval_s, wait)
        for r in candidates
    ]
    fastest = min(range(len(timings)), key=lambda i: timings[i].floor_s)
    timing = timings[fastest]
    window, window_note = _window(candidates[fastest].expr, rules)
    if window_note:
        notes.append(window_note)
    elif window:
        notes.append(f"its condition fills a {window:g} s window (how fast depends on the fault)")
    words = "; ".join([timing.words, *notes])
    return Prediction(
        exp.alert, exp.receiver, bound, timing.floor_s, timing.ceiling_s, window, words
    )


def _window(expr: str, rules: RuleBook) -> tuple[float | None, str | None]:
    """The range the condition must fill, through recording rules; or why it is not known.

    Both sides of ``and``, ``unless``, comparisons and arithmetic are needed (the longer
    window counts); either side of ``or`` fires the alert (the shorter one counts)."""
    try:
        return _ranges(expr, rules.recorded, frozenset()), None
    except ValueError as exc:
        return None, f"window not derived: {exc}"


def _ranges(expr: str, recorded: Mapping[str, str], seen: frozenset[str]) -> float | None:
    try:
        tree = promql_parser.parse(expr)
    except Exception as exc:  # noqa: BLE001 - the bindings raise plain exceptions
        raise ValueError(f"cannot parse {expr!r}: {exc}") from None
    return _walk(tree, recorded, seen)


def _walk(node: object, recorded: Mapping[str, str], seen: frozenset[str]) -> float | None:
    if isinstance(node, promql_parser.BinaryExpr):
        sides = [w for w in (_walk(x, recorded, seen) for x in (node.lhs, node.rhs)) if w]
        if not sides:
            return None
        return min(sides) if str(node.op) == "or" and len(sides) == 2 else max(sides)
    found: list[float] = []
    if isinstance(node, (promql_parser.MatrixSelector, promql_parser.SubqueryExpr)):
        found.append(node.range.total_seconds() if node.range else 0.0)
    if isinstance(node, promql_parser.VectorSelector):
        name = node.name or ""
        if name in recorded and name not in seen:
            inner = _ranges(recorded[name], recorded, seen | {name})
            found += [inner] if inner else []
    for attr in ("expr", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None:
            inner = _walk(child, recorded, seen)
            found += [inner] if inner else []
    for child in getattr(node, "args", None) or ():
        inner = _walk(child, recorded, seen)
        found += [inner] if inner else []
    return max(found) if found else None


def rulebook_from_files(paths: Iterable[Path], scrape_s: float, eval_s: float) -> RuleBook:
    """A :class:`RuleBook` from Prometheus rule files (each group's ``interval`` kept)."""
    alerts: dict[str, list[RuleEvidence]] = {}
    recorded: dict[str, str] = {}
    for path in paths:
        doc = yaml.safe_load(path.read_text()) or {}
        for group in doc.get("groups") or []:
            interval = group.get("interval")
            group_s = parse_duration(str(interval)) if interval else None
            for rule in group.get("rules") or []:
                if "record" in rule:
                    recorded[str(rule["record"])] = str(rule["expr"])
                    continue
                for_s = parse_duration(str(rule["for"])) if rule.get("for") else 0.0
                evidence = RuleEvidence(
                    name=str(rule["alert"]),
                    group=str(group.get("name", "")),
                    file=str(path),
                    expr=str(rule["expr"]),
                    for_s=for_s,
                    labels={k: str(v) for k, v in (rule.get("labels") or {}).items()},
                    group_interval_s=group_s,
                )
                alerts.setdefault(evidence.name, []).append(evidence)
    return RuleBook({k: tuple(v) for k, v in alerts.items()}, recorded, scrape_s, eval_s)
