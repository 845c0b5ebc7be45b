"""Finding complete batches in an upstream location.

Producers write atomically (a temp name, then a rename), so dot-files and ``*.tmp`` names are
never batches. A file is complete when inotify saw it renamed in or closed after writing
(local folders on Linux), or else when its size and modification time are the same in two
polls at least one poll interval apart (remote locations, files that were there before the
relay started, filesystems inotify cannot watch).
"""

from __future__ import annotations

import contextlib
import os
import select
import time

from gameday.servers.relay.formats import is_candidate
from gameday.servers.relay.inotify import Inotify
from gameday.servers.relay.locations import Entry, Location

POLL_S = 0.1
"""Seconds between two scans of an upstream location."""


class Watcher:
    """Scans one upstream location and says which files are complete, in upstream order."""

    def __init__(self, location: Location, poll_s: float = POLL_S):
        self.location = location
        self.poll_s = poll_s
        self.inotify = Inotify.open(location.root) if location.local else None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._signalled: set[str] = set()
        self._sightings: dict[str, tuple[tuple[int, float], float]] = {}

    def wait(self, timeout: float) -> None:
        """Sleep until a file event, :meth:`wake`, or ``timeout`` seconds."""
        fds = [self._wake_r] + ([self.inotify.fileno()] if self.inotify else [])
        ready, _, _ = select.select(fds, [], [], max(0.0, timeout))
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 4096)
        if self.inotify is not None:
            self._signalled.update(self.inotify.read())

    def wake(self) -> None:
        """Make :meth:`wait` return now (from another thread)."""
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"!")

    def complete(self) -> list[Entry]:
        """The complete batch files now in the location, oldest first (then by name)."""
        now = time.monotonic()
        sightings: dict[str, tuple[tuple[int, float], float]] = {}
        ready = []
        for entry in self.location.entries():
            if not is_candidate(entry.name):
                continue
            key = (entry.size, entry.mtime)
            seen = self._sightings.get(entry.name)
            since = seen[1] if seen is not None and seen[0] == key else now
            sightings[entry.name] = (key, since)
            if entry.name in self._signalled or now - since >= self.poll_s:
                ready.append(entry)
        self._sightings = sightings
        self._signalled &= set(sightings)
        return sorted(ready, key=lambda e: (e.mtime, e.name))

    def forget(self, name: str) -> None:
        """``name`` was taken away: a new file under that name starts from scratch."""
        self._signalled.discard(name)
        self._sightings.pop(name, None)

    def close(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.inotify is not None:
            self.inotify.close()
