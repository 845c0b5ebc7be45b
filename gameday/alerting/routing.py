"""Alertmanager's routing tree and inhibition rules, read offline as Alertmanager 0.25 reads them.

``gameday validate --env`` uses this to check, before a run, that an expectation is possible
under the Alertmanager configuration the environment points at: which receivers the routing
tree picks for an alert (:meth:`RoutingTree.match`), how that route groups alerts
(:meth:`RouteMatch.group_key`), and whether an inhibition rule mutes one alert because of
another (:meth:`InhibitRule.inhibits`). Each mirrors Alertmanager's code (``dispatch/route.go``,
``inhibit/inhibit.go``, ``config/config.go``); ``tests/alerting`` checks the answers against a
real Alertmanager 0.25 on a few hundred generated alerts.

At validate time only some labels of an alert are known (its name, a rule's static labels, an
expectation's labels), not those of the series behind it. :meth:`RoutingTree.possible` and
:meth:`InhibitRule.could_inhibit` answer in three values (:class:`Tri`): a matcher on a label
whose value is unknown *maybe* matches. The answers are sound, not always tight: "never" and
"certain" are never wrong, but "maybe" can hide a sure answer when two matchers test the same
unknown label (``env="prod"`` on one route, ``env!="prod"`` on the next).

Where gameday's reading differs from Alertmanager's:

- Regexes are Go's RE2 run by Python's ``re`` (see :mod:`gameday.alerting.goregex`): a few
  Go-only constructs are refused as unreadable, and ``(?i)`` folds ASCII case only.
- Matchers are the classic syntax of 0.25; the UTF-8 matchers of 0.27+ are not read.
- Time intervals (``time_intervals``, ``mute_time_intervals``, ``active_time_intervals``) are
  checked to exist but not evaluated: :class:`RouteMatch` names them, so a caller can say "muted
  at some times". Silences are run-time state and are not considered.
- Receivers are read for their names; their integrations, ``global`` and ``templates`` are not
  validated, and unknown keys are refused only in the route, inhibition rules and top level.
- YAML 1.1: a label value written ``yes`` or ``0x10`` reaches Alertmanager as that text but
  reaches gameday as ``true`` / ``16``: quote such values.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal

from gameday.alerting.matchers import (
    Labels,
    Matcher,
    Tri,
)
from gameday.scenario.yamlsafe import load_text


class AllLabels(enum.Enum):
    """The type of :data:`ALL_LABELS`, ``group_by: ['...']``: group by every label."""

    MARKER = "..."


ALL_LABELS: Final = AllLabels.MARKER
GroupBy = tuple[str, ...] | Literal[AllLabels.MARKER]


@dataclass(frozen=True)
class RouteMatch:
    """A route the routing tree picks for an alert, with the options it inherited.

    ``path`` reads ``route > routes[1] {team="ranking"} > routes[0]``. ``group_by`` is a tuple
    of label names or :data:`ALL_LABELS`. ``certain`` is False only in answers of
    :meth:`RoutingTree.possible`, for a route the alert may or may not take. Time intervals are
    named, not evaluated.
    """

    receiver: str
    path: str
    group_by: GroupBy
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    certain: bool = True

    def group_key(self, labels: Labels) -> tuple[tuple[str, str], ...]:
        """The labels naming the alert's group on this route: those of ``group_by`` it has."""
        return tuple(
            sorted(
                (name, value)
                for name, value in labels.items()
                if value and (self.group_by is ALL_LABELS or name in self.group_by)
            )
        )

    def same_group(self, first: Labels, second: Labels) -> bool:
        """Whether two alerts taking this route are notified in one group."""
        return self.group_key(first) == self.group_key(second)


@dataclass(frozen=True)
class _Route:
    """A node of the tree: its matchers, ``continue``, children, and resolved options."""

    options: RouteMatch
    matchers: tuple[Matcher, ...]
    continues: bool
    routes: tuple[_Route, ...]

    def match(self, labels: Labels) -> list[RouteMatch]:
        """dispatch/route.go ``Route.Match``, line for line."""
        if not all(m.matches(labels) for m in self.matchers):
            return []
        found: list[RouteMatch] = []
        for child in self.routes:
            matches = child.match(labels)
            found.extend(matches)
            if matches and not child.continues:
                break
        return found or [self.options]

    def possible(self, labels: Labels, known: Collection[str]) -> Iterator[tuple[RouteMatch, Tri]]:
        """``Match`` in three values, given that this route matched: each route the alert may
        take below it (or itself), with how sure that is."""
        stopped = Tri.NO  # whether an earlier child without continue matched
        for child in self.routes:
            matches = child.evaluate(labels, known)
            reached = ~stopped & matches
            if reached is not Tri.NO:
                for options, answer in child.possible(labels, known):
                    yield options, reached & answer
            if not child.continues:
                stopped |= matches
        # Some child is taken exactly when some child matches (the first that matches is
        # reached): said this way, Kleene logic keeps "certainly one of them" certain.
        itself = ~Tri.any_of(child.evaluate(labels, known) for child in self.routes)
        if itself is not Tri.NO:
            yield self.options, itself

    def evaluate(self, labels: Labels, known: Collection[str]) -> Tri:
        return Tri.all_of(m.evaluate(labels, known) for m in self.matchers)

    def walk(self) -> Iterator[_Route]:
        yield self
        for child in self.routes:
            yield from child.walk()


@dataclass(frozen=True)
class InhibitRule:
    """An inhibition rule: a firing *source* alert mutes *target* alerts (inhibit/inhibit.go).

    ``where`` names it in the configuration (``inhibit_rules[0]``).
    """

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]
    where: str = "inhibit_rules"

    def inhibits(self, source: Labels, target: Labels) -> bool:
        """Whether the firing alert ``source`` mutes ``target`` under this rule.

        As Alertmanager: the target matchers match ``target``, the source matchers match
        ``source``, each ``equal`` label has the same value in both (missing equals missing),
        and the pair is not two-sided: when ``target`` matches the source matchers too, a
        source that also matches the target matchers does not mute it. So no alert mutes
        itself, and two alerts matching both sides do not mute each other.
        """
        return (
            _matches(self.target, target)
            and _matches(self.source, source)
            and all(source.get(n, "") == target.get(n, "") for n in self.equal)
            and not (_matches(self.source, target) and _matches(self.target, source))
        )

    def could_inhibit(
        self,
        source: Labels,
        target: Labels,
        source_known: Collection[str] = (),
        target_known: Collection[str] = (),
    ) -> Tri:
        """:meth:`inhibits` when only some labels are known: ``NO`` means never.

        A label is known when it is in the labels given, or in ``*_known`` (then absent).
        """

        def side(matchers: tuple[Matcher, ...], labels: Labels, known: Collection[str]) -> Tri:
            return Tri.all_of(m.evaluate(labels, known) for m in matchers)

        equal = Tri.all_of(
            _same(_value(source, source_known, n), _value(target, target_known, n))
            for n in self.equal
        )
        two_sided = side(self.source, target, target_known) & side(
            self.target, source, source_known
        )
        return (
            side(self.target, target, target_known)
            & side(self.source, source, source_known)
            & equal
            & ~two_sided
        )


def _matches(matchers: Iterable[Matcher], labels: Labels) -> bool:
    return all(m.matches(labels) for m in matchers)


def _value(labels: Labels, known: Collection[str], name: str) -> str | None:
    return labels.get(name, "") if name in labels or name in known else None


def _same(first: str | None, second: str | None) -> Tri:
    return Tri.MAYBE if first is None or second is None else Tri.of(first == second)


class RoutingTree:
    """An Alertmanager configuration's routing tree, receivers and inhibition rules.

    Build it with :meth:`from_config` (the parsed ``alertmanager.yml``) or :meth:`from_yaml`.
    """

    def __init__(
        self, root: _Route, receivers: Sequence[str], inhibit_rules: Sequence[InhibitRule]
    ) -> None:
        self._root = root
        self.receivers: tuple[str, ...] = tuple(receivers)
        self.inhibit_rules: tuple[InhibitRule, ...] = tuple(inhibit_rules)

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> RoutingTree:
        """Read parsed configuration; :class:`RoutingConfigError` where Alertmanager refuses it."""
        from gameday.alerting.config import read_tree

        return read_tree(config, None)

    @classmethod
    def from_yaml(cls, text: str, path: str | Path = "alertmanager.yml") -> RoutingTree:
        """Read configuration text; errors carry ``path`` and the line of the offending key."""
        from gameday.alerting.config import read_tree

        document = load_text(text, path)
        return read_tree(document.data, document)

    def match(self, labels: Labels) -> list[RouteMatch]:
        """The routes Alertmanager picks for an alert with ``labels``, in its order.

        Depth-first; a route's first matching child ends the search unless it has ``continue``;
        a route none of whose children match is itself the match. Receivers may repeat.
        """
        return self._root.match(labels)

    def possible(self, labels: Labels, known: Collection[str] = ()) -> list[RouteMatch]:
        """The routes an alert could take when only some of its labels are known.

        Known labels: those in ``labels``, and the names in ``known`` (absent when not in
        ``labels``); a matcher on any other label maybe matches. A route is ``certain`` when the
        alert takes it whatever the unknown labels are; a route, or a receiver, not listed is
        never taken. A child that maybe matches does not end the search as a sure match does.
        """
        root = self._root.evaluate(labels, known)  # YES: the root has no matchers
        return [
            replace(options, certain=(root & answer) is Tri.YES)
            for options, answer in self._root.possible(labels, known)
        ]

    @property
    def routes(self) -> list[RouteMatch]:
        """Every route of the tree, depth-first, with its resolved options."""
        return [node.options for node in self._root.walk()]

    def group_waits(self) -> dict[str, float]:
        """The least ``group_wait`` of the routes leading to each receiver: the soonest its
        first notification of a new group can be sent."""
        out: dict[str, float] = {}
        for route in self.routes:
            out[route.receiver] = min(
                out.get(route.receiver, route.group_wait_s), route.group_wait_s
            )
        return out

    def inhibiting(self, target: Labels, firing: Iterable[Labels]) -> list[Labels]:
        """The alerts among ``firing`` that mute ``target`` under some rule, in ``firing`` order.

        Alertmanager mutes ``target`` when this is not empty, and reports one of them.
        """
        rules = self.inhibit_rules
        return [source for source in firing if any(r.inhibits(source, target) for r in rules)]

    def could_inhibit(
        self,
        source: Labels,
        target: Labels,
        source_known: Collection[str] = (),
        target_known: Collection[str] = (),
    ) -> Tri:
        """Whether some rule could let ``source`` mute ``target`` (see ``InhibitRule``)."""
        return Tri.any_of(
            rule.could_inhibit(source, target, source_known, target_known)
            for rule in self.inhibit_rules
        )
