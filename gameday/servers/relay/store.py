"""The relay's state folder: batches it holds and originals it keeps, so nothing is ever lost.

Layout, one folder per relay (``relays/<name>-<id>/``):

- ``relay.json``: the relay (where held batches must go after a crash);
- ``pending/<seq>__<name>``: batches taken from upstream and not yet delivered (held by
  ``stale``/``delay``, or waiting behind one), ``seq`` giving upstream order;
- ``kept/<slot>/<seq>__<name>``: originals of batches a fault changed (``slot`` names the
  fault), deleted when that fault is reverted;
- ``profile/``: hard links the profiler reads and deletes.

A relay server started on a state folder first delivers every pending batch of every relay
found there to its landing, in order, and deletes the kept originals: a restart reverts every
fault. :func:`recover` does that.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sys
import uuid
from pathlib import Path
from typing import IO

from gameday.servers.relay.locations import Location, move
from gameday.servers.relay.model import RelaySpec

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class StateInUse(Exception):
    """Another running relay server owns this state folder."""


def lock_state(state: Path) -> IO[str]:
    """Own ``state`` for as long as the returned file stays open (the kernel frees the lock when
    the process dies, SIGKILL included, so a restart can always take over)."""
    handle = open(state / ".lock", "a+")  # noqa: SIM115 - held open for the server's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StateInUse(f"state folder {state} is in use by another relay server") from None
    return handle


def stored_name(seq: int, name: str) -> str:
    """A pending batch's file name: its upstream order, then its own name."""
    return f"{seq:012d}__{name}"


def original_name(stored: str) -> str:
    """The inverse of :func:`stored_name`."""
    return stored.split("__", 1)[1]


class RelayFolder:
    """The state folder of one relay."""

    def __init__(self, state: Path, spec: RelaySpec):
        safe = _SAFE.sub("_", spec.name)[:40] or "relay"
        self.root = state / "relays" / f"{safe}-{uuid.uuid4().hex[:8]}"
        (self.root / "pending").mkdir(parents=True)
        (self.root / "relay.json").write_text(json.dumps(spec.to_json()))
        self.pending = Location(str(self.root / "pending"))
        self.scratch = self.root / "profile"

    def path(self, stored: str) -> str:
        return self.pending.path(stored)

    def keep(self, stored: str, slot: int) -> None:
        """Keep the pending batch ``stored`` as an original of the fault in ``slot``."""
        folder = self.root / "kept" / str(slot)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / stored).exists():
            return  # kept already (a delivery that failed half-way is being retried)
        try:
            os.link(self.path(stored), folder / stored)
        except OSError:
            shutil.copyfile(self.path(stored), folder / stored)

    def drop_kept(self, slot: int) -> None:
        """Delete the originals kept for the fault in ``slot`` (it was reverted)."""
        shutil.rmtree(self.root / "kept" / str(slot), ignore_errors=True)

    def remove(self) -> bool:
        """Delete the folder unless it still holds batches; True if it is gone."""
        if _pending(self.root):
            return False
        shutil.rmtree(self.root, ignore_errors=True)
        return True


def _pending(root: Path) -> list[str]:
    folder = root / "pending"
    if not folder.is_dir():
        return []
    return sorted(n for n in os.listdir(folder) if not n.startswith(".") and "__" in n)


def recover(state: Path) -> int:
    """Deliver every batch held in ``state`` by a relay server that is gone, in upstream order,
    and delete kept originals; returns the batches delivered. A relay whose landing cannot
    be written keeps its folder (and says so on stderr) for the next start to try again."""
    relays = state / "relays"
    if not relays.is_dir():
        return 0
    delivered = 0
    for root in sorted(p for p in relays.iterdir() if p.is_dir()):
        try:
            delivered += _recover_relay(root)
        except (OSError, ValueError, ImportError) as exc:
            print(f"relay: cannot deliver held batches from {root}: {exc}", file=sys.stderr)
    return delivered


def _recover_relay(root: Path) -> int:
    names = _pending(root)
    if names:
        spec = json.loads((root / "relay.json").read_text())
        _deliver_all(root, spec, names)
    shutil.rmtree(root, ignore_errors=True)  # kept originals, profile links, partial copies
    return len(names)


def _deliver_all(root: Path, spec: dict[str, str], names: list[str]) -> None:
    landing = Location(str(spec["landing"]))
    landing.ensure()
    pending = Location(str(root / "pending"))
    for stored in names:
        move(pending, stored, landing, original_name(stored))
        name = original_name(stored)
        print(f"relay {spec['name']}: delivered held batch {name}", file=sys.stderr)


def holds_batches(state: Path) -> bool:
    """True if any relay folder in ``state`` still holds a batch."""
    relays = state / "relays"
    return relays.is_dir() and any(_pending(p) for p in relays.iterdir() if p.is_dir())
