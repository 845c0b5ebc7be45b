"""The batch relay: toxiproxy for files.

A relay moves each complete batch file from an *upstream* location to a *landing* location
(fsspec URLs), unchanged while no fault is active; data faults (null a column, drift, unit
change, corrupt, duplicate, empty, stale, delay, label flip...) act on batches on the way.
Originals are never modified and are kept in the state folder until the fault is reverted.

Start it as a process with ``gameday relay-server [--host H] [--port P] [--state DIR]
[--announce]`` (or ``python -m gameday.servers.relay``), or in-process with
:func:`running_server`. Its HTTP API is shaped like toxiproxy's (relays, faults on a relay,
``gameday_ttl_s``, populate, reset).
"""

from __future__ import annotations

from gameday.servers.relay.collection import RelayCollection
from gameday.servers.relay.model import FAULT_TYPES, TTL_KEY, VERSION
from gameday.servers.relay.server import DEFAULT_PORT, RunningServer, main, running_server

__all__ = [
    "DEFAULT_PORT",
    "FAULT_TYPES",
    "TTL_KEY",
    "VERSION",
    "RelayCollection",
    "RunningServer",
    "main",
    "running_server",
]
