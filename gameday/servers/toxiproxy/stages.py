"""Toxic stages: one toxic applied to one direction of one live connection.

A direction's stages form a chain in the toxics' insertion order; each receives chunks
(``push(data, ts)``) and the end of stream (``push_eof(ts)``) and hands them to ``out``, the
next stage or the pipe's sink. ``ts`` is when the chunk left the previous stage, so latency
is measured from arrival and stacked latencies add without accumulating scheduling error.

Each stage counts, in its toxic's :class:`ToxicCounters`, the chunks and bytes it received
while active and the connection it became active on (gameday's stats endpoint).

Each stage rolls its toxicity once when created (and again when the toxic is updated); a
failed roll makes it a pass-through for this connection and direction. Stages that hold data
report it to the pipe (``hold`` / ``release``) so reading from the source pauses when too much
is buffered. ``flush`` releases what a stage holds at once: it runs when the toxic is removed
or stops applying.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from time import monotonic
from typing import Protocol, cast

from gameday.servers.toxiproxy.counters import ToxicCounters
from gameday.servers.toxiproxy.model import Toxic

# uvloop timers have millisecond resolution and may fire a fraction of a millisecond early;
# anything due within this margin is emitted rather than re-armed for a sub-ms remainder.
_EARLY_S = 0.0002
# Bandwidth pacing granularity: a chunk is released in slices worth this much time.
_PACE_SLICE_S = 0.01


class Sink(Protocol):
    """Where a stage sends its output: the next stage or the pipe's end."""

    def push(self, data: bytes, ts: float) -> None: ...

    def push_eof(self, ts: float) -> None: ...


class PipeHooks(Sink, Protocol):
    """What a stage needs from the pipe it sits in."""

    loop: asyncio.AbstractEventLoop
    ready: bool  # False until the upstream is connected: nothing has flowed either way yet

    def hold(self, nbytes: int) -> None: ...

    def release(self, nbytes: int) -> None: ...

    def reset_connection(self) -> None: ...

    def companion(self) -> PipeHooks:
        """The other direction of the same connection."""
        ...

    def attach(self, stage: Stage) -> None:
        """Run ``stage``, a helper no toxic owns, first in this direction's chain."""

    def detach(self, stage: Stage) -> None:
        """Take an attached helper out of the chain again (it flushes what it holds)."""


def _roll(toxicity: float) -> bool:
    return random.random() < toxicity


class Stage:
    """A toxic on one connection direction; the base class passes everything through."""

    def __init__(self, toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters):
        self.toxic = toxic
        self.pipe = pipe
        self.counters = counters
        self.out: Sink = pipe
        self.active = _roll(toxic.toxicity)
        self.counted = False  # this connection is in counters.connections
        self.eof = False
        self.closed = False

    @property
    def attrs(self) -> dict[str, int]:
        # toxiproxy's toxics have integer attributes only (HTTP toxics parse theirs).
        return cast(dict[str, int], self.toxic.attributes)

    def start(self) -> None:
        """Called once the stage is wired into its chain."""
        if self.active:
            self._count_connection()
            self.on_start()

    def _count_connection(self) -> None:
        if not self.counted:
            self.counted = True
            self.counters.connections += 1

    def push(self, data: bytes, ts: float) -> None:
        if self.eof:
            return
        if self.active:
            counters = self.counters
            counters.chunks += 1
            counters.bytes += len(data)
            self.on_data(data, ts)
        else:
            self.out.push(data, ts)

    def push_eof(self, ts: float) -> None:
        if self.eof:
            return
        self.eof = True
        if self.active:
            self.on_eof(ts)
        else:
            self.out.push_eof(ts)

    def update(self, toxic: Toxic) -> None:
        """Take new attributes/toxicity; re-roll toxicity; stop holding data if now inactive."""
        was_active = self.active
        self.toxic = toxic
        self.active = _roll(toxic.toxicity)
        if was_active and not self.active:
            self.flush()
        elif self.active and not was_active:
            self._count_connection()
            self.on_start()
        elif self.active:
            self.on_update()

    def remove(self) -> None:
        """The toxic was deleted: release what the stage holds to the rest of the chain."""
        self.flush()
        self.cancel()

    def cancel(self) -> None:
        """The connection is gone: stop every timer, emit nothing more."""
        self.closed = True

    def close_downstream(self, ts: float) -> None:
        """End the stream here: what comes after this stage sees EOF, later input is dropped."""
        if not self.eof:
            self.eof = True
            self.out.push_eof(ts)

    # --- what subclasses override -------------------------------------------------------
    def on_start(self) -> None:
        """The stage became active (created, or re-rolled active on update)."""

    def on_update(self) -> None:
        """An active stage got new attributes."""

    def on_data(self, data: bytes, ts: float) -> None:
        self.out.push(data, ts)

    def on_eof(self, ts: float) -> None:
        self.out.push_eof(ts)

    def flush(self) -> None:
        """Release everything held, now, in order."""


class _Timed(Stage):
    """A stage that emits each item at its due time, in order (latency, bandwidth, slicer)."""

    def __init__(self, toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters):
        super().__init__(toxic, pipe, counters)
        self.queue: deque[tuple[float, bytes | None]] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.last_due = 0.0

    def put(self, due: float, data: bytes | None) -> None:
        """Queue ``data`` (None = EOF) for ``due``; never before an item queued earlier."""
        due = max(due, self.last_due)
        self.last_due = due
        if not self.queue and due <= monotonic() + _EARLY_S:
            self._emit(due, data)
            return
        self.queue.append((due, data))
        if data:
            self.pipe.hold(len(data))
        if self.timer is None:
            self._arm()

    def on_eof(self, ts: float) -> None:
        self.put(self.last_due, None)

    def _arm(self) -> None:
        delay = self.queue[0][0] - monotonic()
        self.timer = self.pipe.loop.call_later(max(delay, 0.0), self._fire)

    def _fire(self) -> None:
        self.timer = None
        now = monotonic() + _EARLY_S
        queue = self.queue
        while queue and queue[0][0] <= now and not self.closed:
            due, data = queue.popleft()
            if data is not None:
                self.pipe.release(len(data))
            self._emit(due, data)
        if queue and not self.closed and self.timer is None:
            self._arm()

    def _emit(self, due: float, data: bytes | None) -> None:
        if data is None:
            self.out.push_eof(due)
        else:
            self.out.push(data, due)

    def flush(self) -> None:
        self._cancel_timer()
        now = monotonic()
        while self.queue and not self.closed:
            due, data = self.queue.popleft()
            if data is not None:
                self.pipe.release(len(data))
            self._emit(min(due, now), data)
        self.last_due = 0.0

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def cancel(self) -> None:
        super().cancel()
        self._cancel_timer()
        self.queue.clear()


class LatencyStage(_Timed):
    """Delays each chunk ``latency`` ± U(``jitter``) ms from its arrival, keeping order."""

    def on_data(self, data: bytes, ts: float) -> None:
        delay = float(self.attrs["latency"])
        jitter = self.attrs["jitter"]
        if jitter > 0:
            delay += random.uniform(-jitter, jitter)
        self.put(ts + delay / 1000.0, data)


class BandwidthStage(_Timed):
    """Paces data to ``rate`` KB/s (1 KB = 1000 B), releasing it in 10 ms slices."""

    def on_data(self, data: bytes, ts: float) -> None:
        rate = self.attrs["rate"] * 1000.0
        if rate <= 0:
            self.put(self.last_due, data)
            return
        step = max(1, int(rate * _PACE_SLICE_S))
        t = max(monotonic(), self.last_due)
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            t += len(piece) / rate
            self.put(t, piece)


class SlicerStage(_Timed):
    """Splits chunks into ``average_size`` ± ``size_variation`` byte writes ``delay`` µs apart."""

    def __init__(self, toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters):
        super().__init__(toxic, pipe, counters)
        self.next_free = 0.0

    def on_data(self, data: bytes, ts: float) -> None:
        average = self.attrs["average_size"]
        if average <= 0:
            self.put(self.last_due, data)
            return
        variation = max(0, min(self.attrs["size_variation"], average - 1))
        gap = max(0, self.attrs["delay"]) / 1e6
        t = max(monotonic(), self.next_free)
        start = 0
        while start < len(data):
            size = average + (random.randint(-variation, variation) if variation else 0)
            self.put(t, data[start : start + size])
            start += size
            t += gap
        self.next_free = t


class SlowCloseStage(Stage):
    """Passes data; holds the end of stream for ``delay`` ms."""

    def __init__(self, toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters):
        super().__init__(toxic, pipe, counters)
        self.timer: asyncio.TimerHandle | None = None

    def on_eof(self, ts: float) -> None:
        self.timer = self.pipe.loop.call_later(self.attrs["delay"] / 1000.0, self._release)

    def _release(self) -> None:
        self.timer = None
        if not self.closed:
            self.out.push_eof(monotonic())

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self._release()

    def cancel(self) -> None:
        super().cancel()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class TimeoutStage(Stage):
    """Drops data; closes after ``timeout`` ms without data (0 = never). Removal closes too."""

    def __init__(self, toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters):
        super().__init__(toxic, pipe, counters)
        self.timer: asyncio.TimerHandle | None = None

    def on_start(self) -> None:
        self._restart()

    on_update = on_start

    def on_data(self, data: bytes, ts: float) -> None:
        self._restart()

    def on_eof(self, ts: float) -> None:
        self._stop()
        self.out.push_eof(ts)

    def _restart(self) -> None:
        self._stop()
        timeout = self.attrs["timeout"]
        if timeout > 0:
            self.timer = self.pipe.loop.call_later(timeout / 1000.0, self._expire)

    def _expire(self) -> None:
        self.timer = None
        if not self.closed:
            self.close_downstream(monotonic())

    def _stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def flush(self) -> None:
        self._stop()

    def remove(self) -> None:
        # As in toxiproxy: removing a timeout closes the connections it was holding.
        self._stop()
        if self.active and not self.closed:
            self.close_downstream(monotonic())
        self.cancel()

    def cancel(self) -> None:
        super().cancel()
        self._stop()


class ResetPeerStage(Stage):
    """On the first chunk (or EOF), drops data and resets the connection ``timeout`` ms later."""

    def __init__(self, toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters):
        super().__init__(toxic, pipe, counters)
        self.timer: asyncio.TimerHandle | None = None
        self.triggered = False

    def on_data(self, data: bytes, ts: float) -> None:
        self._trigger()

    def on_eof(self, ts: float) -> None:
        self._trigger()

    def _trigger(self) -> None:
        if not self.triggered:
            self.triggered = True
            delay = max(0, self.attrs["timeout"]) / 1000.0
            self.timer = self.pipe.loop.call_later(delay, self._reset)

    def _reset(self) -> None:
        self.timer = None
        if not self.closed:
            self.pipe.reset_connection()

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.triggered = False

    def cancel(self) -> None:
        super().cancel()
        self.flush()


class LimitDataStage(Stage):
    """Forwards at most ``bytes`` bytes in total, then closes. The count survives updates."""

    def __init__(self, toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters):
        super().__init__(toxic, pipe, counters)
        self.sent = 0

    def on_data(self, data: bytes, ts: float) -> None:
        remaining = self.attrs["bytes"] - self.sent
        if remaining > 0:
            piece = data if len(data) <= remaining else data[:remaining]
            self.sent += len(piece)
            self.out.push(piece, ts)
        if self.sent >= self.attrs["bytes"]:
            self.close_downstream(ts)


STAGES: dict[str, type[Stage]] = {
    "latency": LatencyStage,
    "bandwidth": BandwidthStage,
    "slow_close": SlowCloseStage,
    "timeout": TimeoutStage,
    "reset_peer": ResetPeerStage,
    "slicer": SlicerStage,
    "limit_data": LimitDataStage,
    "noop": Stage,
}


def make_stage(toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters) -> Stage:
    """The stage implementing ``toxic`` on one direction of one connection, counting into
    ``counters`` (the toxic's, shared by its stages on every connection)."""
    return STAGES[toxic.type](toxic, pipe, counters)
