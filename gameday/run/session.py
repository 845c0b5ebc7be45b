"""Where a batch of runs happens: an environment file, or the embedded stack started here.

``gameday run`` starts the embedded reference stack once for the whole batch when no
``--env`` is given, and stops it (every process, every temporary file) afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gameday.scenario.environment import Environment, load_environment

if TYPE_CHECKING:
    from gameday.alerting.plan import RuleBook
    from gameday.alerting.preflight import Routing


@contextlib.contextmanager
def environment(
    env_file: str | Path | None, console_event: Callable[[str], object] = print
) -> Iterator[Environment]:
    """The environment to run in: ``env_file`` if given, else a fresh embedded stack."""
    if env_file is not None:
        yield load_environment(env_file)
        return
    from gameday.stack.launcher import Stack

    console_event("starting the embedded reference stack ...")
    with Stack() as stack:
        console_event(
            f"reference stack up: model server {stack.endpoints['model_server']}, "
            f"Prometheus {stack.endpoints['prometheus']}"
        )
        yield Environment.from_endpoints(stack.endpoints, source="<embedded stack>")


def embedded_rulebook() -> RuleBook:
    """The embedded stack's alert pack and the intervals of the Prometheus it starts."""
    from gameday.alerting.plan import rulebook_from_files
    from gameday.stack.observability import rule_files
    from gameday.telemetry.backends import EVALUATION_INTERVAL_S, SCRAPE_INTERVAL_S

    return rulebook_from_files(rule_files(), SCRAPE_INTERVAL_S, EVALUATION_INTERVAL_S)


def embedded_routing() -> Routing:
    """The embedded stack's Alertmanager routing and alert pack, read offline."""
    from gameday.alerting.preflight import Routing, rule_labels
    from gameday.alerting.routing import RoutingTree
    from gameday.stack.observability import alertmanager_config

    tree = RoutingTree.from_config(alertmanager_config("http://127.0.0.1:9"))
    source = "the embedded stack's Alertmanager configuration"
    return Routing(tree, source, rule_labels(embedded_rulebook().alerts))


def embedded_template() -> Environment:
    """The embedded stack's environment before it runs: its targets, with placeholder loopback
    URLs, so scenarios can be validated before anything starts."""
    from gameday.stack.launcher import template_endpoints

    return Environment.from_endpoints(template_endpoints(), source="<embedded stack>")
