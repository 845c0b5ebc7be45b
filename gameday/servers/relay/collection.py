"""Every relay of a server, by name, and the server's state folder.

Operations here are what the API does, with the API's errors (:class:`ApiError`). The relays
themselves are kept in ``relays.json`` in the state folder: a server started again on the
folder (a sidecar's container restarted) first delivers what the previous one held, then
opens the same relays, so the pipeline's batches keep flowing without anyone populating it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from gameday.servers.api import ApiError, bad_body
from gameday.servers.relay.model import FaultSpec, RelaySpec, not_found, parse_relay
from gameday.servers.relay.relay import Relay
from gameday.servers.relay.store import RelayFolder, holds_batches, lock_state, recover

_REGISTRY = "relays.json"


class RelayCollection:
    """The relays of one server and its state folder (a fresh temp folder when none is given).

    Create it, call :meth:`recover` before serving (it delivers what a killed server held),
    and :meth:`close` at the end (every fault reverted, held batches delivered). Raises
    :class:`~gameday.servers.relay.store.StateInUse` if another server owns the folder.
    """

    def __init__(self, state: Path | None = None):
        self.temporary = state is None
        self.state = Path(tempfile.mkdtemp(prefix="gameday-relay-")) if state is None else state
        self.state.mkdir(parents=True, exist_ok=True)
        self._lock = lock_state(self.state)
        self.relays: dict[str, Relay] = {}
        self.lock = threading.RLock()

    def recover(self) -> int:
        """Deliver every batch a previous server on this state folder held, then open the
        relays it had (``relays.json``); returns the batches delivered."""
        delivered = recover(self.state)
        for item in self._saved():
            try:
                spec = parse_relay(item)
                if spec.name not in self.relays:
                    self.relays[spec.name] = self._open(spec)
            except ApiError as exc:  # a location gone meanwhile: the others still open
                print(f"relay: cannot reopen {item.get('name')!r}: {exc.message}", file=sys.stderr)
        return delivered

    def _saved(self) -> list[dict[str, Any]]:
        try:
            items = json.loads((self.state / _REGISTRY).read_text())
        except (OSError, ValueError):
            return []
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def _save(self) -> None:
        """Write the relays to ``relays.json`` (atomically), for the next server here."""
        data = json.dumps([r.spec.to_json() for r in self.relays.values()], indent=1)
        tmp = self.state / f".{_REGISTRY}.tmp"
        tmp.write_text(data)
        os.replace(tmp, self.state / _REGISTRY)

    def get(self, name: str) -> Relay:
        relay = self.relays.get(name)
        if relay is None:
            raise not_found("relay")
        return relay

    def create(self, spec: RelaySpec) -> Relay:
        """A new relay (409 if the name is taken, 500 if a location cannot be used)."""
        with self.lock:
            if spec.name in self.relays:
                raise ApiError("relay already exists", 409)
            relay = self._open(spec)
            self.relays[spec.name] = relay
            self._save()
            return relay

    def populate(self, body: Any) -> list[Relay]:
        """Ensure every relay of ``body`` (a JSON array) exists; all are validated first.

        An identical existing relay is left as it is (faults included); a differing one is
        replaced (its held batches are released first).
        """
        specs = _populate_specs(body)
        with self.lock:
            out = []
            for spec in specs:
                current = self.relays.get(spec.name)
                if current is not None and current.spec == spec:
                    out.append(current)
                    continue
                if current is not None:
                    self.delete(spec.name)
                relay = self._open(spec)
                self.relays[spec.name] = relay
                out.append(relay)
            self._save()
            return out

    def delete(self, name: str) -> None:
        """Remove a relay after releasing what it holds."""
        with self.lock:
            relay = self.get(name)
            del self.relays[name]
            self._save()
        relay.close()

    def add_fault(self, relay: str, spec: FaultSpec) -> dict[str, Any]:
        return self.get(relay).add_fault(spec).to_json()

    def reset(self) -> None:
        """Revert every fault of every relay (held batches released)."""
        with self.lock:
            relays = list(self.relays.values())
        for relay in relays:
            relay.revert_all()

    def close(self) -> None:
        """Close every relay; a temporary state folder is removed unless it holds batches."""
        with self.lock:
            relays = list(self.relays.values())
            self.relays.clear()
        for relay in relays:
            relay.close()
        if self.temporary and not holds_batches(self.state):
            shutil.rmtree(self.state, ignore_errors=True)
        self._lock.close()

    def _open(self, spec: RelaySpec) -> Relay:
        folder = RelayFolder(self.state, spec)
        try:
            return Relay(spec, folder)
        except (OSError, ValueError, ImportError) as exc:
            folder.remove()
            raise ApiError(f"cannot open relay {spec.name}: {exc}", 500) from exc


def _populate_specs(body: Any) -> list[RelaySpec]:
    if not isinstance(body, list):
        raise bad_body("expected a JSON array of relays")
    specs: list[RelaySpec] = []
    for number, item in enumerate(body, start=1):
        where = f" at relay {number}"
        if not isinstance(item, dict):
            raise bad_body("expected an object" + where)
        try:
            spec = parse_relay(item)
        except ApiError as exc:
            raise ApiError(exc.message + where, exc.status) from exc
        if any(s.name == spec.name for s in specs):
            raise bad_body(f"duplicate relay name {spec.name!r}{where}")
        specs.append(spec)
    return specs
