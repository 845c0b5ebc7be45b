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


def embedded_routing() -> Routing:
    """The embedded stack's Alertmanager routing and alert pack, read offline."""
    from gameday.alerting.preflight import Routing, rules_from_files
    from gameday.alerting.routing import RoutingTree
    from gameday.stack.observability import alertmanager_config, rule_files

    tree = RoutingTree.from_config(alertmanager_config("http://127.0.0.1:9"))
    source = "the embedded stack's Alertmanager configuration"
    return Routing(tree, source, rules_from_files(rule_files()))


def embedded_template() -> Environment:
    """The embedded stack's environment before it runs: its targets, with placeholder loopback
    URLs, so scenarios can be validated before anything starts."""
    from gameday.stack.launcher import template_endpoints

    return Environment.from_endpoints(template_endpoints(), source="<embedded stack>")
