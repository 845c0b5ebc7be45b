"""What the relay knows about a relay's data: the last batch's schema and running column moments.

Reading a whole batch costs more than moving it, so profiling runs in a background thread per
relay, on a hard link of the batch (taken before the batch moves on) or on its bytes. When
batches come faster than they can be read the oldest waiting ones are skipped: moments are
estimates and the schema is the newest batch's anyway. :meth:`Profiler.drain` waits for the
queue to empty, so a drift fault and ``GET /schema`` see every batch delivered before them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from gameday.servers.relay.sampling import Moments, sample

_BACKLOG = 2  # batches waiting to be profiled before the oldest is skipped


@dataclass
class _Item:
    source: Path | bytes
    fmt: str
    clean: bool
    batch: str


class Profiler:
    """The schema of the newest batch and the moments of clean batches, for one relay."""

    def __init__(self, scratch: Path, name: str):
        self.scratch = scratch
        self.name = name
        self.format: str | None = None
        self.columns: dict[str, str] = {}
        self.seen = 0
        self.moments: dict[str, Moments] = {}
        self._queue: deque[_Item] = deque()
        self._busy = False
        self._closed = False
        self._names = itertools.count()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"relay-profile-{name}", daemon=True)
        self._thread.start()

    def link(self, path: str, fmt: str | None, clean: bool, batch: str) -> bool:
        """Profile the batch file at ``path`` later, through a hard link; False if none can be
        made. ``clean`` batches (no fault changed them) feed the moments."""
        if fmt is None:
            return True
        self.scratch.mkdir(parents=True, exist_ok=True)
        target = self.scratch / f"{next(self._names):012d}"
        try:
            os.link(path, target)
        except OSError:
            return False
        self._put(_Item(target, fmt, clean, batch))
        return True

    def bytes(self, data: bytes, fmt: str | None, clean: bool, batch: str) -> None:
        """Profile batch ``batch`` (its bytes, ``data``) later."""
        if fmt is not None:
            self._put(_Item(data, fmt, clean, batch))

    def drain(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` s) until every batch handed over has been read."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._queue or self._busy) and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def snapshot(self) -> dict[str, Moments]:
        """The moments so far (after :meth:`drain`), as a copy."""
        self.drain()
        with self._cond:
            return dict(self.moments)

    def close(self) -> None:
        """Stop the thread and drop whatever waits."""
        with self._cond:
            self._closed = True
            for item in self._queue:
                _discard(item)
            self._queue.clear()
            self._cond.notify_all()
        self._thread.join(5)

    def _put(self, item: _Item) -> None:
        with self._cond:
            self.seen += 1
            self._queue.append(item)
            while len(self._queue) > _BACKLOG:
                _discard(self._queue.popleft())
            self._cond.notify_all()

    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: niceness is per thread
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                item = self._queue.popleft()
                self._busy = True
            try:
                self._profile(item)
            finally:
                _discard(item)
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _profile(self, item: _Item) -> None:
        try:
            found = sample(item.source, item.fmt)
        except (pa.ArrowException, OSError, ValueError) as exc:
            print(f"relay {self.name}: batch {item.batch}: no schema: {exc}", file=sys.stderr)
            return
        with self._cond:
            self.format, self.columns = item.fmt, found.columns
            for name, moments in found.moments.items() if item.clean else ():
                self.moments[name] = self.moments.get(name, Moments()).merge(moments)


def _discard(item: _Item) -> None:
    if isinstance(item.source, Path):
        with contextlib.suppress(OSError):
            item.source.unlink()
