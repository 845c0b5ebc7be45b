"""``gameday plan``: each expected alert's predicted detection time against its bound.

Exit 0 when every bound can be met, 1 when one cannot, 3 when one cannot be told (no rule of
that name, or the environment's Prometheus did not answer), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gameday.alerting.plan import Prediction, RuleBook
    from gameday.alerting.routing import RoutingTree
    from gameday.scenario.environment import Environment

EXIT_OK, EXIT_UNMEETABLE, EXIT_UNKNOWN = 0, 1, 3
Sources = tuple["RuleBook", "RoutingTree | None"]  # rules and intervals, routing if read


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan", help="predict when each expected alert can fire, and flag bounds it cannot meet"
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    p.add_argument("--env", metavar="FILE", help="read rules and routing from this environment")
    p.add_argument("--json", metavar="FILE", help="write one JSON object per alert expectation")
    p.set_defaults(handler=plan_command)


def plan_command(args: argparse.Namespace) -> int:
    from gameday.alerting.plan import plan
    from gameday.run.command import load

    scenarios, environment = load(args.paths, args.env)
    found = _sources(environment, embedded=not args.env)
    if isinstance(found, str):
        print(f"cannot plan: {found}", file=sys.stderr)
        return EXIT_UNKNOWN
    rules, routing = found
    rows: list[dict[str, object]] = []
    for scenario in scenarios:
        predictions = plan(scenario, rules, routing)
        print(f"{scenario.name}:")
        if not predictions:
            print("  no alert expectation with fires_within")
        for p in predictions:
            print(f"  {_line(p)}")
            rows.append({"scenario": scenario.name, **p.to_json()})
    if args.json:
        Path(args.json).write_text("".join(json.dumps(r) + "\n" for r in rows))
    if any(r["feasible"] is False for r in rows):
        return EXIT_UNMEETABLE
    return EXIT_UNKNOWN if any(r["feasible"] is None for r in rows) else EXIT_OK


def _line(p: Prediction) -> str:
    to = f" at {p.receiver}" if p.receiver else ""
    if p.predicted_min_s is None or p.predicted_max_s is None:
        return f"?    {p.alert}{to}: {p.words}"
    verdict = "ok   " if p.feasible and not p.tight else "tight" if p.feasible else "NEVER"
    window = f", window {p.window_s:g} s" if p.window_s else ""
    return (
        f"{verdict} {p.alert}{to}: fires {p.predicted_min_s:g} to {p.predicted_max_s:g} s after "
        f"its condition holds{window}; bound {p.bound_s:g} s ({p.words})"
    )


def _sources(environment: Environment, *, embedded: bool) -> Sources | str:
    """The rules, intervals and routing: the embedded stack's own files, or the environment's
    Prometheus and Alertmanager; or why they cannot be read."""
    if embedded:
        from gameday.run.session import embedded_routing, embedded_rulebook

        return embedded_rulebook(), embedded_routing().tree
    return _live(environment)


def _live(environment: Environment) -> Sources | str:
    from gameday.alerting.preflight import live_routing, live_rulebook

    book = live_rulebook(environment)
    if isinstance(book, str):
        return book
    routing = live_routing(environment, book)
    if isinstance(routing, str):
        print(f"note: group_wait not read: {routing}", file=sys.stderr)
        return book, None
    return book, routing.tree
