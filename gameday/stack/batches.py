"""The embedded stack's batch path: producer → upstream folder → batch relay → landing → pipeline.

The producer writes Parquet batches into ``batches/upstream``; a relay server (``gameday
relay-server``, one of the stack's processes) moves each one into ``batches/landing``, where
the pipeline takes it (then to ``processed/`` or ``quarantine/``). Data faults act in the
relay, on the relay named :data:`RELAY`, exactly as they would on a user's pipeline routed
through a relay.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import requests

from gameday import _procs
from gameday.errors import StackUnavailable

RELAY = "batches"
"""The relay's name on the relay server (and in the stack's ``relays``)."""
FORMAT = "parquet"
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Folders:
    """Where the stack's batches live, under its working folder."""

    root: Path

    @property
    def upstream(self) -> Path:
        return self.root / "upstream"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    def relays(self) -> dict[str, dict[str, str]]:
        """The stack's ``relays`` endpoint: the one relay, from upstream to landing."""
        spec = {"upstream": str(self.upstream), "landing": str(self.landing), "format": FORMAT}
        return {RELAY: spec}


def folders(workdir: Path) -> Folders:
    """The batch folders of a stack working in ``workdir``."""
    return Folders(workdir / "batches")


def relay_argv(workdir: Path) -> list[str]:
    """How the stack starts its relay server (state kept in the working folder, so held
    batches survive a killed relay server: the next one started there delivers them)."""
    state = workdir / "relay-state"
    return _procs.python_module(
        "gameday.servers.relay", "--host", "127.0.0.1", "--port", "0", "--announce",
        "--state", str(state),
    )  # fmt: skip


def create_relay(url: str, where: Folders) -> None:
    """Create the stack's relay on the relay server at ``url``; StackUnavailable if refused."""
    body = {"name": RELAY, **where.relays()[RELAY]}
    try:
        reply = requests.post(f"{url}/relays", json=body, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise StackUnavailable(f"relay server {url}: {exc}") from exc
    if reply.status_code != 201:
        raise StackUnavailable(
            f"relay server {url}: cannot create relay {RELAY}: {reply.status_code} {reply.text}"
        )
