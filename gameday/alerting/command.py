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
    from gameday.alerting.plan import rulebook_from_files

    if embedded:
        from gameday.run.session import embedded_routing
        from gameday.stack.observability import rule_files
        from gameday.telemetry.backends import EVALUATION_INTERVAL_S, SCRAPE_INTERVAL_S

        book = rulebook_from_files(rule_files(), SCRAPE_INTERVAL_S, EVALUATION_INTERVAL_S)
        return book, embedded_routing().tree
    return _live(environment)


def _live(environment: Environment) -> Sources | str:
    from gameday.alerting.plan import RuleBook
    from gameday.alerting.preflight import READ_TIMEOUT_S, live_routing
    from gameday.errors import StackUnavailable
    from gameday.evidence.collect import rule_evidence
    from gameday.evidence.model import RuleEvidence
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
    routing = live_routing(environment)
    if isinstance(routing, str):
        print(f"note: group_wait not read: {routing}", file=sys.stderr)
    tree = None if isinstance(routing, str) else routing.tree
    book = RuleBook({k: tuple(v) for k, v in alerts.items()}, recorded, scrape_s, eval_s)
    return book, tree
