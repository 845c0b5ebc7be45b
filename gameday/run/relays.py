"""The environment's batch relays, ensured before a batch of runs.

An environment lists ``relays`` (upstream and landing locations); ``relay`` names the relay
server that holds them. With a server named, the relays are ensured on it (``POST
/populate``: identical ones are left as they are, with their faults). Without one, the batch
starts its own ``gameday relay-server`` on 127.0.0.1, keeping its state (held batches,
originals) under ``state_dir`` so that nothing held is lost if the run dies: the next relay
server started there delivers it. The environment the runs see then names that server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

from gameday import _procs
from gameday.errors import StackUnavailable
from gameday.scenario.environment import Environment

TIMEOUT_S = 10.0
START_TIMEOUT_S = 30.0


def populate(url: str, environment: Environment) -> None:
    """Ensure every relay of ``environment`` exists on the relay server at ``url``."""
    body = [
        {"name": name, "upstream": spec.upstream, "landing": spec.landing, "format": spec.format}
        for name, spec in environment.relays.items()
    ]
    try:
        reply = requests.post(f"{url.rstrip('/')}/populate", json=body, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise StackUnavailable(f"relay server {url}: {exc}") from exc
    if reply.status_code != 201:
        raise StackUnavailable(f"relay server {url}: populate answered {reply.status_code}: "
                               f"{reply.text[:300]}")  # fmt: skip


@contextlib.contextmanager
def relays_for(
    environment: Environment, state_dir: Path, event: Callable[[str], object] = print
) -> Iterator[Environment]:
    """``environment`` with its relays ensured, on its relay server or on one started here."""
    if not environment.relays:
        yield environment
        return
    if environment.relay:
        populate(environment.relay, environment)
        yield environment
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = _procs.python_module(
        "gameday.servers.relay", "--host", "127.0.0.1", "--port", "0", "--announce",
        "--state", str(state_dir),
    )  # fmt: skip
    child = _procs.start("relay-server", argv, log_path=state_dir / "relay-server.log",
                         timeout=START_TIMEOUT_S)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{child.port}"
        populate(url, environment)
        event(f"relay server started for this batch: {url} ({', '.join(environment.relays)})")
        yield environment.model_copy(update={"relay": url})
    finally:
        child.stop()
