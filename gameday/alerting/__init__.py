"""Alertmanager's configuration read offline: routing tree, grouping, inhibition, matchers.

``RoutingTree.from_yaml(text).match(labels)`` names the receivers Alertmanager picks for an
alert; ``possible(labels)`` answers when only some labels are known; ``inhibit_rules`` and
``inhibiting(target, firing)`` say which alerts mute which. See :mod:`gameday.alerting.routing`.
"""

from __future__ import annotations

from gameday.alerting.matchers import (
    OPS,
    Matcher,
    RoutingConfigError,
    Tri,
    parse_matcher,
    parse_matchers,
)
from gameday.alerting.routing import (
    ALL_LABELS,
    AllLabels,
    InhibitRule,
    RouteMatch,
    RoutingTree,
)

__all__ = [
    "ALL_LABELS",
    "OPS",
    "AllLabels",
    "InhibitRule",
    "Matcher",
    "RouteMatch",
    "RoutingConfigError",
    "RoutingTree",
    "Tri",
    "parse_matcher",
    "parse_matchers",
]
