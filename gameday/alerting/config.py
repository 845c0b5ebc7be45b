"""Reading an Alertmanager configuration into a :class:`~gameday.alerting.routing.RoutingTree`,
refusing what Alertmanager 0.25 refuses (its ``config/config.go`` and ``dispatch/route.go``)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence

from gameday.alerting.matchers import (
    Matcher,
    Op,
    RoutingConfigError,
    is_label_name,
    parse_matchers,
)
from gameday.alerting.routing import (
    ALL_LABELS,
    GroupBy,
    InhibitRule,
    RouteMatch,
    RoutingTree,
    _Route,
)
from gameday.scenario.yamlsafe import Document, KeyPath, dotted, unknown_key_message


def read_tree(data: object, document: Document | None) -> RoutingTree:
    """The routing tree of configuration ``data``; errors located in ``document`` if given."""
    return _Reader(document).tree(data)


# --- Reading the configuration (config/config.go) ---------------------------------------------

_TOP_KEYS = (
    "global",
    "route",
    "receivers",
    "inhibit_rules",
    "templates",
    "mute_time_intervals",
    "time_intervals",
)
_ROUTE_KEYS = (
    "receiver",
    "group_by",
    "match",
    "match_re",
    "matchers",
    "mute_time_intervals",
    "active_time_intervals",
    "continue",
    "routes",
    "group_wait",
    "group_interval",
    "repeat_interval",
)
_RULE_KEYS = (
    "source_match",
    "source_match_re",
    "source_matchers",
    "target_match",
    "target_match_re",
    "target_matchers",
    "equal",
)
_TIMERS = {"group_wait": 30.0, "group_interval": 300.0, "repeat_interval": 4 * 3600.0}
# prometheus/common model.ParseDuration: whole numbers of units, largest first.
_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_UNITS = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)


class _Reader:
    """Configuration data → :class:`RoutingTree`, refusing what Alertmanager refuses."""

    def __init__(self, document: Document | None) -> None:
        self.document = document
        self.intervals: set[str] = set()
        self.receivers: list[str] = []

    def error(self, at: KeyPath, message: str) -> RoutingConfigError:
        text = f"{dotted(at)}: {message}" if at else message
        if self.document is None:
            return RoutingConfigError(text)
        return RoutingConfigError(text, self.document.path, self.document.line(at))

    def tree(self, data: object) -> RoutingTree:
        config = self.mapping(data, (), _TOP_KEYS)
        self.read_receivers(config.get("receivers"))
        for key in ("mute_time_intervals", "time_intervals"):
            self.intervals |= set(self.names(config.get(key), (key,), "name"))
        if config.get("route") is None:
            raise self.error((), "no route provided in config")
        root = self.root(config["route"])
        raw_rules = self.items(config.get("inhibit_rules"), ("inhibit_rules",))
        rules = [self.inhibit_rule(raw, ("inhibit_rules", i)) for i, raw in enumerate(raw_rules)]
        return RoutingTree(root, self.receivers, rules)

    def read_receivers(self, data: object) -> None:
        for i, raw in enumerate(self.items(data, ("receivers",))):
            receiver = self.mapping(raw, ("receivers", i), None)
            name = self.text(receiver.get("name"), ("receivers", i, "name"))
            if not name:
                raise self.error(("receivers", i), "missing name in receiver")
            if name in self.receivers:
                message = f"notification config name {name!r} is not unique"
                raise self.error(("receivers", i, "name"), message)
            self.receivers.append(name)

    def receiver(self, raw: Mapping[str, object], at: KeyPath, parent: RouteMatch | None) -> str:
        name = self.text(raw.get("receiver"), (*at, "receiver"))
        if name and name not in self.receivers:
            message = f"undefined receiver {name!r} used in route; known: {self.receivers}"
            raise self.error((*at, "receiver"), message)
        return name or (parent.receiver if parent else "")

    def root(self, data: object) -> _Route:
        at: KeyPath = ("route",)
        raw = self.mapping(data, at, _ROUTE_KEYS)
        if not self.text(raw.get("receiver"), (*at, "receiver")):
            raise self.error(at, "root route must specify a default receiver")
        for key, message in (
            ("match", "must not have any matchers"),
            ("match_re", "must not have any matchers"),
            ("matchers", "must not have any matchers"),
            ("mute_time_intervals", "must not have any mute time intervals"),
            ("active_time_intervals", "must not have any active time intervals"),
            ("continue", "cannot have continue"),
        ):
            if raw.get(key):
                raise self.error((*at, key), f"root route {message}")
        return self.route(raw, at, None)

    def route(self, data: object, at: KeyPath, parent: RouteMatch | None) -> _Route:
        raw = self.mapping(data, at, _ROUTE_KEYS)
        matchers = self.matchers(raw, at, "")
        options = self.options(raw, at, parent, matchers)
        children = self.items(raw.get("routes"), (*at, "routes"))
        return _Route(
            options=options,
            matchers=matchers,
            continues=self.flag(raw.get("continue"), (*at, "continue")),
            routes=tuple(
                self.route(child, (*at, "routes", i), options) for i, child in enumerate(children)
            ),
        )

    def options(
        self,
        raw: Mapping[str, object],
        at: KeyPath,
        parent: RouteMatch | None,
        matchers: Sequence[Matcher],
    ) -> RouteMatch:
        """NewRoute in dispatch/route.go: each option set here or inherited from the parent."""
        timers = {
            key: self.timer(raw, at, key, getattr(parent, f"{key}_s") if parent else default)
            for key, default in _TIMERS.items()
        }
        shown = f" {{{', '.join(str(m) for m in matchers)}}}" if matchers else ""
        return RouteMatch(
            receiver=self.receiver(raw, at, parent),
            path=f"{parent.path} > routes[{at[-1]}]{shown}" if parent else "route",
            group_by=self.group_by(raw.get("group_by"), (*at, "group_by"), parent),
            group_wait_s=timers["group_wait"],
            group_interval_s=timers["group_interval"],
            repeat_interval_s=timers["repeat_interval"],
            mute_time_intervals=self.interval_names(raw, at, "mute_time_intervals"),
            active_time_intervals=self.interval_names(raw, at, "active_time_intervals"),
        )

    def timer(self, raw: Mapping[str, object], at: KeyPath, key: str, inherited: float) -> float:
        if raw.get(key) is None:
            return inherited
        seconds = self.duration(raw[key], (*at, key))
        if seconds == 0 and key != "group_wait":
            raise self.error((*at, key), f"{key} cannot be zero")
        return seconds

    def group_by(self, data: object, at: KeyPath, parent: RouteMatch | None) -> GroupBy:
        names = self.names(data, at)
        for i, name in enumerate(names):
            if name != "..." and not is_label_name(name):
                raise self.error((*at, i), f"invalid label name {name!r} in group_by list")
            if name in names[:i]:
                raise self.error((*at, i), f"duplicated label {name!r} in group_by")
        if "..." in names and len(names) > 1:
            message = "cannot have wildcard group_by (`...`) and other labels at the same time"
            raise self.error(at, message)
        if names == ["..."]:
            return ALL_LABELS
        # An empty list inherits, as a missing one does (Alertmanager's GroupBy stays nil).
        return tuple(names) if names else (parent.group_by if parent else ())

    def interval_names(self, raw: Mapping[str, object], at: KeyPath, key: str) -> tuple[str, ...]:
        names = self.names(raw.get(key), (*at, key))
        for i, name in enumerate(names):
            if name not in self.intervals:
                raise self.error((*at, key, i), f"undefined time interval {name!r} used in route")
        return tuple(names)

    def inhibit_rule(self, data: object, at: KeyPath) -> InhibitRule:
        raw = self.mapping(data, at, _RULE_KEYS)
        equal = self.names(raw.get("equal"), (*at, "equal"))
        for i, name in enumerate(equal):
            if not is_label_name(name):
                raise self.error((*at, "equal", i), f"{name!r} is not a valid label name")
        return InhibitRule(
            source=self.matchers(raw, at, "source_"),
            target=self.matchers(raw, at, "target_"),
            equal=tuple(equal),
            where=dotted(at),
        )

    def matchers(self, raw: Mapping[str, object], at: KeyPath, prefix: str) -> tuple[Matcher, ...]:
        """``match``, ``match_re`` and ``matchers`` (each with ``prefix``), in that order."""
        found: list[Matcher] = []
        legacy: tuple[tuple[str, Op], ...] = (("match", "="), ("match_re", "=~"))
        for kind, op in legacy:
            key = prefix + kind
            for name, value in self.mapping(raw.get(key), (*at, key), None).items():
                where = (*at, key, name)
                if not is_label_name(name):
                    raise self.error(where, f"invalid label name {name!r}")
                with self.located(where):
                    found.append(Matcher(name, op, self.text(value, where)))
        key = prefix + "matchers"
        for i, item in enumerate(self.items(raw.get(key), (*at, key))):
            with self.located((*at, key, i)):
                found.extend(parse_matchers(self.text(item, (*at, key, i))))
        return tuple(found)

    @contextlib.contextmanager
    def located(self, at: KeyPath) -> Iterator[None]:
        """Say where a matcher that does not parse was written."""
        try:
            yield
        except RoutingConfigError as exc:
            if exc.path is not None:  # already located
                raise
            raise self.error(at, exc.message) from None

    # Values, as yaml.v2 would decode them into Alertmanager's config structs.

    def mapping(
        self, data: object, at: KeyPath, allowed: Sequence[str] | None
    ) -> Mapping[str, object]:
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            raise self.error(at, f"expected a mapping; got {_kind(data)}")
        for key in data:
            if allowed is not None and key not in allowed:
                raise self.error((*at, key), unknown_key_message(str(key), allowed))
        return data

    def items(self, data: object, at: KeyPath) -> list[object]:
        if data is None:
            return []
        if not isinstance(data, list):
            raise self.error(at, f"expected a list; got {_kind(data)}")
        return data

    def text(self, data: object, at: KeyPath) -> str:
        if data is None:
            return ""
        if isinstance(data, bool):
            return "true" if data else "false"
        if isinstance(data, str | int | float):
            return str(data)
        raise self.error(at, f"expected text; got {_kind(data)}")

    def names(self, data: object, at: KeyPath, key: str | None = None) -> list[str]:
        """A list of texts, or of mappings' ``key`` (the names of time intervals)."""
        out: list[str] = []
        for i, item in enumerate(self.items(data, at)):
            if key is None:
                out.append(self.text(item, (*at, i)))
            else:
                value = self.mapping(item, (*at, i), None).get(key)
                out.append(self.text(value, (*at, i, key)))
        return out

    def flag(self, data: object, at: KeyPath) -> bool:
        if data is None or isinstance(data, bool):
            return bool(data)
        raise self.error(at, f"expected true or false; got {_kind(data)}")

    def duration(self, data: object, at: KeyPath) -> float:
        text = self.text(data, at)
        if text == "0":
            return 0.0
        found = _DURATION.fullmatch(text)
        if not text or found is None:
            raise self.error(at, f"not a valid duration string: {text!r} (e.g. 30s, 5m, 1h30m)")
        return sum(int(n) * unit for n, unit in zip(found.groups(), _UNITS, strict=True) if n)


def _kind(data: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}
    return names.get(type(data), type(data).__name__)
