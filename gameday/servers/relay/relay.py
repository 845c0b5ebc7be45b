"""One relay: moves each complete batch from upstream to landing, through its active faults.

A worker thread per relay scans upstream (woken at once by inotify on local folders) and moves
each complete batch on, in upstream order:

- with no fault that would act on it and nothing queued, straight to landing (one ``rename``
  between local folders on one filesystem; otherwise an atomic copy, then a delete);
- otherwise into the state folder's queue first. A ``stale`` or ``delay`` fault holds it
  there; every batch behind a held one waits its turn, so landing sees upstream order. On
  its way out the content faults active at that moment act on it; a changed batch is written
  to landing atomically and its original kept until the fault is reverted.

The API thread and the worker share :attr:`Relay.lock`.
"""

from __future__ import annotations

import itertools
import math
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gameday.servers.api import ApiError
from gameday.servers.relay.faults import ActiveFault, Work
from gameday.servers.relay.formats import duplicate_name, format_of
from gameday.servers.relay.intake import POLL_S, Watcher
from gameday.servers.relay.locations import Entry, Location, move
from gameday.servers.relay.model import FaultSpec, RelaySpec, not_found
from gameday.servers.relay.profile import Profiler
from gameday.servers.relay.store import RelayFolder, stored_name


@dataclass
class Held:
    """A batch in the relay's queue: its upstream order, names, and who holds it until when."""

    seq: int
    name: str
    stored: str
    size: int
    holders: dict[str, float]  # holding fault → monotonic time it lets go (inf: on revert)
    held_by: list[ActiveFault] = field(default_factory=list)

    def due(self, now: float) -> bool:
        return all(until <= now for until in self.holders.values())

    def leaves_at(self) -> float:
        return max(self.holders.values(), default=0.0)


class Relay:
    """A running relay: its spec, faults, queue of held batches, counters and worker thread."""

    def __init__(self, spec: RelaySpec, folder: RelayFolder):
        self.spec = spec
        self.folder = folder
        self.upstream = Location(spec.upstream)
        self.landing = Location(spec.landing)
        self.upstream.ensure()
        self.landing.ensure()
        self.faults: dict[str, ActiveFault] = {}
        self.queue: deque[Held] = deque()
        self.lock = threading.RLock()
        self.profiler = Profiler(folder.scratch, spec.name)
        self.watcher = Watcher(self.upstream)
        self.batches = 0
        self.bytes = 0
        self.last_batch_at: float | None = None
        self._seq = itertools.count(1)
        self._slots = itertools.count(1)
        self._failures: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"relay-{spec.name}", daemon=True)
        self._thread.start()

    # --- the API's side ------------------------------------------------------------------------
    def add_fault(self, spec: FaultSpec) -> ActiveFault:
        """Activate a fault (409 if the name is taken); it acts from the next batch on."""
        reference = self.profiler.snapshot()  # moments of the clean batches seen so far
        with self.lock:
            if spec.name in self.faults:
                raise ApiError("fault already exists", 409)
            fault = ActiveFault(spec, reference, next(self._slots))
            self.faults[spec.name] = fault
        self.watcher.wake()
        return fault

    def get_fault(self, name: str) -> ActiveFault:
        fault = self.faults.get(name)
        if fault is None:
            raise not_found("fault")
        return fault

    def remove_fault(self, name: str) -> dict[str, Any]:
        """Revert a fault: release what it holds (in order), drop its kept originals; its JSON."""
        with self.lock:
            fault = self.get_fault(name)
            self._revert([fault])
            return fault.to_json()

    def revert_all(self) -> None:
        """Revert every fault at once (held batches leave unchanged, in order)."""
        with self.lock:
            self._revert(list(self.faults.values()))

    def close(self) -> bool:
        """Stop the worker, revert every fault; True if the state folder could be removed."""
        self._stop.set()
        self.watcher.wake()
        self._thread.join(10)
        self.revert_all()
        self.profiler.close()
        self.watcher.close()
        return self.folder.remove()

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {**self.spec.to_json(), "faults": [f.to_json() for f in self.faults.values()]}

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "batches": self.batches,
                "bytes": self.bytes,
                "held": len(self.queue),
                "last_batch_at": self.last_batch_at,
            }

    def schema(self) -> dict[str, Any]:
        self.profiler.drain()
        profiler = self.profiler
        return {
            "format": profiler.format or self.spec.format,
            "columns": dict(profiler.columns),
            "batches_seen": profiler.seen,
        }

    # --- reverting ---------------------------------------------------------------------------
    def _revert(self, faults: list[ActiveFault]) -> None:
        for fault in faults:
            self.faults.pop(fault.name, None)
        for held in self.queue:
            for fault in faults:
                held.holders.pop(fault.name, None)
        self._release_due(time.monotonic())
        for fault in faults:
            self.folder.drop_kept(fault.slot)

    def _expire(self, now: float) -> None:
        expired = [f for f in self.faults.values() if f.expires_at <= now]
        for fault in expired:
            print(f"relay {self.spec.name}: fault {fault.name} expired (TTL)", file=sys.stderr)
        if expired:
            self._revert(expired)

    # --- the worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self.watcher.wait(self._timeout())
            if self._stop.is_set():
                return
            with self.lock:
                self._tick()

    def _timeout(self) -> float:
        now = time.monotonic()
        with self.lock:
            wake = [now + POLL_S] + [f.expires_at for f in self.faults.values()]
            if self.queue:
                wake.append(self.queue[0].leaves_at())
        return max(0.001, min(w for w in wake if not math.isinf(w)) - now)

    def _tick(self) -> None:
        now = time.monotonic()
        self._expire(now)
        self._guard(f"upstream {self.spec.upstream}", self._take_new, now)
        self._release_due(now)

    def _take_new(self, now: float) -> None:
        for entry in self.watcher.complete():
            self._guard(f"batch {entry.name}", self._intake, entry, now)

    def _guard(self, what: str, step: Any, *args: Any) -> bool:
        """Run one step (on ``what``); a failure is logged once, and retried on the next tick."""
        try:
            step(*args)
        except Exception as exc:  # noqa: BLE001 - one bad batch must not stop the relay
            message = f"{type(exc).__name__}: {exc}"
            if self._failures.get(what) != message:
                print(f"relay {self.spec.name}: {what}: {message}", file=sys.stderr)
                self._failures[what] = message
            return False
        self._failures.pop(what, None)
        return True

    def _intake(self, entry: Entry, now: float) -> None:
        fmt = format_of(entry.name, self.spec.format)
        acting = [f for f in self.faults.values() if f.applies(fmt)]
        if not self.queue and not acting:
            self._pass(entry, fmt)
            return
        holding = [f for f in acting if f.spec.holds]
        seq = next(self._seq)
        stored = stored_name(seq, entry.name)
        move(self.upstream, entry.name, self.folder.pending, stored)
        self.watcher.forget(entry.name)
        for fault in holding:
            fault.hold(entry.name)
        until = {f.name: f.due(now) for f in holding}
        self.queue.append(Held(seq, entry.name, stored, entry.size, until, holding))

    def _pass(self, entry: Entry, fmt: str | None) -> None:
        """No fault acts and nothing waits: move the batch to landing as it is."""
        self._move_clean(self.upstream, entry.name, entry.name, fmt)
        self.watcher.forget(entry.name)
        self._delivered(entry.size)

    def _move_clean(self, src: Location, name: str, batch: str, fmt: str | None) -> None:
        """Move an unchanged batch to landing, handing it to the profiler on the way: a hard
        link in the state folder when the filesystems allow (no copy, no read), else bytes."""
        if src.local and self.profiler.link(src.path(name), fmt, True, batch):
            move(src, name, self.landing, batch)
        elif src.local and self.landing.local:
            move(src, name, self.landing, batch)
            if not self.profiler.link(self.landing.path(batch), fmt, True, batch):
                self._profile_landed(batch, fmt)
        else:
            data = src.read(name)
            self.landing.write(batch, data)
            src.delete(name)
            self.profiler.bytes(data, fmt, True, batch)

    def _profile_landed(self, batch: str, fmt: str | None) -> None:
        try:
            data = self.landing.read(batch)
        except OSError:
            return  # the pipeline took it already: this batch goes unprofiled
        self.profiler.bytes(data, fmt, True, batch)

    def _release_due(self, now: float) -> None:
        while self.queue and self.queue[0].due(now):
            held = self.queue[0]
            if not self._guard(f"batch {held.name}", self._deliver, held):
                return  # landing refused it: retry on the next tick, order kept
            self.queue.popleft()

    def _deliver(self, held: Held) -> None:
        fmt = format_of(held.name, self.spec.format)
        acting = [f for f in self.faults.values() if not f.spec.holds and f.applies(fmt)]
        work = Work(held.name, fmt, self.folder.pending.read(held.stored)) if acting else None
        if work is not None:
            for fault in acting:
                fault.act(work)
        if work is None or not work.touched:
            self._move_clean(self.folder.pending, held.stored, held.name, fmt)
        else:
            self._deliver_changed(held, work)
        for fault in held.held_by:
            fault.release()
        self._delivered(held.size)

    def _deliver_changed(self, held: Held, work: Work) -> None:
        for fault in work.touched:  # before landing sees the change: the original is safe
            self.folder.keep(held.stored, fault.slot)
        output = work.output()
        self.landing.write(held.name, output)
        if work.duplicate:
            self.landing.write(duplicate_name(held.name), output)
        self.profiler.bytes(work.data, work.fmt, False, held.name)  # schema of the original
        self.folder.pending.delete(held.stored)

    def _delivered(self, size: int) -> None:
        self.batches += 1
        self.bytes += size
        self.last_batch_at = time.time()
