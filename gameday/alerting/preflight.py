"""Routing checked before a run: can the expected pages happen under this Alertmanager?

``gameday validate`` reads the Alertmanager configuration the environment points at
(``/api/v2/status`` of its ``alertmanager``; the embedded stack's own configuration without
``--env``) and the alerting rules' static labels (``/api/v1/rules`` of its ``prometheus``; the
alert pack's files without ``--env``), then checks every scenario's paging expectations with
:mod:`gameday.alerting.routing`:

- ``alert`` with ``receiver``: the routing tree can send the alert there (its name, its
  rule's static labels and the expectation's labels are known; any other label may have any
  value);
- ``pages`` and ``grouped``: the receiver exists; each alert of ``grouped`` can reach it, and no
  route to it separates them into different groups by a ``group_by`` label whose known values
  differ (such as ``alertname`` with ``group_by: ['...']``);
- ``inhibited``: some inhibition rule can let ``by`` mute ``alert``.

A failure names the routes the alert can take, so the fix is plain. Where an answer depends
on a label only the series will carry, the check passes: it refuses only the impossible.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from gameday.alerting.matchers import RoutingConfigError, Tri
from gameday.alerting.plan import RuleBook
from gameday.alerting.routing import ALL_LABELS, RouteMatch, RoutingTree
from gameday.errors import StackUnavailable
from gameday.evidence.model import RuleEvidence
from gameday.scenario.environment import Environment
from gameday.scenario.expectations import (
    AlertExpectation,
    Expectation,
    GroupedExpectation,
    InhibitedExpectation,
    PagesExpectation,
)
from gameday.scenario.model import Scenario

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Routing:
    """What the checks read: the routing tree, each alert's static labels by alert name (one
    entry per rule of that name; templated values left out), and where both came from."""

    tree: RoutingTree
    source: str
    rule_labels: Mapping[str, tuple[Labels, ...]] = field(default_factory=dict)

    def variants(self, alert: str, labels: Labels) -> list[dict[str, str]]:
        """The labels known of ``alert`` for each rule of that name, with ``labels`` on top."""
        rules = self.rule_labels.get(alert) or ({},)
        return [{**rule, **labels, "alertname": alert} for rule in rules]


def static_labels(labels: Mapping[str, object]) -> dict[str, str]:
    """A rule's labels whose values are known before it fires (no ``{{ }}`` template)."""
    return {k: str(v) for k, v in labels.items() if "{{" not in str(v)}


def rule_labels(rules: Mapping[str, Sequence[RuleEvidence]]) -> dict[str, tuple[Labels, ...]]:
    """Static labels of each alerting rule, by alert name (one entry per rule)."""
    return {name: tuple(static_labels(r.labels) for r in found) for name, found in rules.items()}


READ_TIMEOUT_S = 5.0


def live_rulebook(environment: Environment) -> RuleBook | str:
    """The rules (alerting and recording) and intervals of the environment's Prometheus
    (``/api/v1/rules``, ``/api/v1/status/config``); or why they cannot be read."""
    from gameday.evidence.collect import rule_evidence
    from gameday.telemetry.prometheus import PrometheusClient

    if not environment.prometheus:
        return "the environment names no prometheus"
    prom = PrometheusClient(environment.prometheus, timeout=READ_TIMEOUT_S)
    try:
        scrape_s, eval_s = prom.scrape_interval(), prom.evaluation_interval()
        loaded = prom.rules()
    except StackUnavailable as exc:
        return f"Prometheus at {environment.prometheus} did not answer: {exc}"
    alerts: dict[str, list[RuleEvidence]] = {}
    for rule in loaded:
        if rule.type == "alerting":
            alerts.setdefault(rule.name, []).append(rule_evidence(rule))
    recorded = {r.name: r.query for r in loaded if r.type == "recording"}
    return RuleBook({k: tuple(v) for k, v in alerts.items()}, recorded, scrape_s, eval_s)


def live_routing(environment: Environment, rules: RuleBook | str | None = None) -> Routing | str:
    """The routing of the environment's Alertmanager (``/api/v2/status``) with the static labels
    of its Prometheus's alerting rules (``rules``, else read with :func:`live_rulebook`; without
    them only an alert's name and the expectation's labels are known); or why not."""
    from gameday.telemetry.alertmanager import AlertmanagerClient

    url = environment.alertmanager
    if not url:
        return "the environment names no alertmanager"
    where = f"Alertmanager at {url}"
    try:
        status = AlertmanagerClient(url, timeout=READ_TIMEOUT_S).status()
        original = str((status.get("config") or {}).get("original") or "")
        tree = RoutingTree.from_yaml(original, f"{url}/api/v2/status config.original")
    except StackUnavailable as exc:
        return f"{where} did not answer: {exc}"
    except RoutingConfigError as exc:
        return f"gameday cannot read the configuration of {where}: {exc}"
    book = rules if rules is not None else live_rulebook(environment)
    labels = rule_labels(book.alerts) if isinstance(book, RuleBook) else {}
    return Routing(tree, f"the configuration of {where}", labels)


def problems(scenario: Scenario, routing: Routing) -> list[str]:
    """Each paging expectation of ``scenario`` the routing cannot satisfy, as ``file:line: ...``."""
    out = []
    for exp in scenario.expect:
        where = str(exp.location) if exp.location else scenario.name
        out += [f"{where}: {message}" for message in _problems(exp, routing)]
    return out


def _problems(exp: Expectation, routing: Routing) -> Iterator[str]:
    tree = routing.tree
    if isinstance(exp, AlertExpectation) and exp.receiver and not exp.silent:
        yield from _unknown_receiver(exp.receiver, routing)
        if exp.receiver in tree.receivers:
            yield from _unreachable(exp.alert, exp.labels, exp.receiver, routing)
    elif isinstance(exp, PagesExpectation):
        yield from _unknown_receiver(exp.receiver, routing)
    elif isinstance(exp, GroupedExpectation):
        yield from _unknown_receiver(exp.receiver, routing)
        if exp.receiver in tree.receivers:
            for alert in exp.alerts:
                yield from _unreachable(alert, {}, exp.receiver, routing)
            yield from _split(exp, routing)
    elif isinstance(exp, InhibitedExpectation):
        yield from _no_inhibition(exp, routing)


def _unknown_receiver(receiver: str, routing: Routing) -> Iterator[str]:
    if receiver not in routing.tree.receivers:
        known = ", ".join(routing.tree.receivers)
        yield f"receiver {receiver!r} is not in {routing.source} (receivers: {known})"


def _to(receiver: str, routes: Sequence[RouteMatch]) -> list[RouteMatch]:
    return [r for r in routes if r.receiver == receiver]


def _unreachable(alert: str, labels: Labels, receiver: str, routing: Routing) -> Iterator[str]:
    variants = routing.variants(alert, labels)
    routes = [routing.tree.possible(v) for v in variants]
    if any(_to(receiver, r) for r in routes):
        return
    taken = sorted({f"{r.receiver} ({r.path})" for rs in routes for r in rs})
    yield (
        f"{alert} can never reach {receiver!r} under {routing.source}: with labels "
        f"{_shown(variants[0])} it goes to {'; '.join(taken)}"
    )


def _split(exp: GroupedExpectation, routing: Routing) -> Iterator[str]:
    """Alerts that every route to the receiver puts in different groups."""
    first, *others = exp.alerts
    for other in others:
        pairs = [(a, b) for a in routing.variants(first, {}) for b in routing.variants(other, {})]
        reasons = [_apart(a, b, exp.receiver, routing.tree) for a, b in pairs]
        if reasons and all(reasons):
            yield f"{first} and {other} never share a notification group: {reasons[0]}"


def _apart(a: Labels, b: Labels, receiver: str, tree: RoutingTree) -> str | None:
    """Why ``a`` and ``b`` can never be in one group at ``receiver``; None if they may be."""
    routes = _to(receiver, tree.possible(a)) + _to(receiver, tree.possible(b))
    why = []
    for route in routes:
        names = set(a) & set(b) if route.group_by is ALL_LABELS else set(route.group_by)
        differ = sorted(n for n in names if n in a and n in b and a[n] != b[n])
        if not differ:
            return None
        group_by = "['...']" if route.group_by is ALL_LABELS else list(route.group_by)
        why.append(f"{route.path} groups by {group_by} and their {', '.join(differ)} differ")
    return why[0] if why else None


def _no_inhibition(exp: InhibitedExpectation, routing: Routing) -> Iterator[str]:
    tree = routing.tree
    targets = routing.variants(exp.alert, exp.labels)
    sources = routing.variants(exp.by, {})
    answers = [tree.could_inhibit(s, t) for s in sources for t in targets]
    if all(a is Tri.NO for a in answers):
        count = len(tree.inhibit_rules)
        yield (
            f"no inhibition rule of {routing.source} can let {exp.by} mute {exp.alert} "
            f"({count} rule{'s' if count != 1 else ''}; labels known: {_shown(targets[0])} "
            f"muted by {_shown(sources[0])})"
        )


def _shown(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


__all__ = ["Routing", "RoutingConfigError", "problems", "rule_labels", "static_labels"]
