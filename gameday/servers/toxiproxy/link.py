"""The data plane of one proxied connection: two sockets, two directions, two toxic chains.

Each accepted client gets a :class:`Connection`: while the upstream is dialled, what the client
sends is kept (and reading pauses); then two :class:`Pipe` objects carry bytes client → server
(``upstream``) and server → client (``downstream``), each socket being a :class:`Side`.

Fast path: a direction without toxics forwards each read straight to the peer transport
(``data_received`` → ``write``), and flow control is the transports' own: when the peer's write
buffer passes its high-water mark, reading from the source pauses until it drains. With
toxics, reads enter the direction's chain of stages; bytes the stages hold count against a
bound too, so a slow or delaying chain never buffers without limit.

Counting (gameday's stats endpoint): each socket counts the bytes read from it, one addition
per chunk on either path; a connection's counts join its proxy's totals when it ends.

End of stream: EOF (or an error) on one side travels through that direction's chain; when it
reaches the end, the destination socket is closed and EOF enters the other direction, so held
data still arrives before the second socket closes (as toxiproxy closes both sides).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
from collections.abc import Callable, Iterable
from time import monotonic
from typing import Protocol, cast

from gameday.servers.toxiproxy.counters import ToxicCounters
from gameday.servers.toxiproxy.model import Toxic, split_host_port
from gameday.servers.toxiproxy.stages import Stage
from gameday.servers.toxiproxy.toxics import make_stage

_HOLD_HIGH = 1 << 20  # bytes held by a direction's toxics before reading from its source pauses
_HOLD_LOW = 256 << 10  # ... and resumes
# Transport write buffer high-water mark (low = a quarter). Measured with
# bench/proxy_overhead.py: bigger buffers lose bulk throughput (the working set leaves cache).
_WRITE_HIGH = 64 << 10
_DIAL_TIMEOUT_S = 30.0
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def _discard(data: bytes) -> None:
    """Fast-path write target once the destination is gone."""


class ProxyHooks(Protocol):
    """What a connection needs from its proxy."""

    upstream: str
    links: set[Connection]

    def toxics_for(self, stream: str) -> Iterable[Toxic]: ...

    def toxic_counters(self, name: str) -> ToxicCounters: ...

    def retire(self, conn: Connection) -> None: ...


class Side(asyncio.Protocol):
    """One socket of a proxied connection: the accepted client, or the dialled upstream."""

    # Slots: the data plane reads and writes these on every chunk.
    __slots__ = ("conn", "head", "incoming", "lost", "outgoing", "received", "transport", "write")

    def __init__(self, conn: Connection):
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.head: Stage | None = None  # first stage of the outgoing chain; None: fast path
        self.write: Callable[[bytes], None] = _discard  # fast path: the peer transport's write
        self.outgoing: Pipe
        self.incoming: Pipe
        self.lost = False
        self.received = 0  # bytes read from this socket

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)
        self.conn.side_made(self)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        head = self.head
        if head is None:
            self.write(data)
        else:
            head.push(data, monotonic())

    def replay(self, data: bytes) -> None:
        """Forward ``data`` read (and counted) before the path was ready."""
        if self.head is None:
            self.write(data)
        else:
            self.head.push(data, monotonic())

    def eof_received(self) -> bool:
        self.conn.side_eof(self)
        return True  # keep the socket open: the other direction may still deliver to it

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.conn.side_lost(self)

    def pause_writing(self) -> None:
        self.incoming.set_dest_full(True)

    def resume_writing(self) -> None:
        self.incoming.set_dest_full(False)


class Pipe:
    """One direction of a connection: ``src`` reads → toxic stages → ``dst`` writes.

    The pipe is also the sink at the end of its chain and the hooks its stages use.
    """

    def __init__(self, conn: Connection, src: Side, dst: Side):
        self.conn = conn
        self.loop = conn.loop
        self.src = src
        self.dst = dst
        self.stages: list[Stage] = []
        self.held = 0
        self.ready = False  # the destination is connected
        self.eof = False  # EOF entered the chain
        self.finished = False  # EOF left the chain
        self._dest_full = False
        self._hold_full = False
        self._paused = False

    # --- the sink at the end of the chain ----------------------------------------------
    def push(self, data: bytes, ts: float) -> None:
        if not self.finished and not self.dst.lost and self.dst.transport is not None:
            self.dst.transport.write(data)

    def push_eof(self, ts: float) -> None:
        if not self.finished:
            self.finished = True
            self.src.write = _discard
            self.conn.pipe_finished(self)

    # --- hooks for stages --------------------------------------------------------------
    def hold(self, nbytes: int) -> None:
        self.held += nbytes
        if not self._hold_full and self.held > _HOLD_HIGH:
            self._hold_full = True
            self.sync_reading()

    def release(self, nbytes: int) -> None:
        self.held -= nbytes
        if self._hold_full and self.held <= _HOLD_LOW:
            self._hold_full = False
            self.sync_reading()

    def reset_connection(self) -> None:
        self.conn.reset()

    def companion(self) -> Pipe:
        return self.conn.down if self is self.conn.up else self.conn.up

    def attach(self, stage: Stage) -> None:
        self.stages.insert(0, stage)
        self.rewire()
        stage.start()

    def detach(self, stage: Stage) -> None:
        if stage in self.stages:
            self.stages.remove(stage)
            self.rewire()
            stage.remove()

    # --- flow control ------------------------------------------------------------------
    def set_dest_full(self, full: bool) -> None:
        self._dest_full = full
        self.sync_reading()

    def sync_reading(self) -> None:
        """Pause or resume reading from ``src`` to match readiness and buffer levels."""
        transport = self.src.transport
        if transport is None or self.src.lost or transport.is_closing():
            return
        pause = not self.ready or self._dest_full or self._hold_full
        if pause != self._paused:
            self._paused = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()

    # --- chain and end of stream ---------------------------------------------------------
    def feed_eof(self) -> None:
        """The source ended (or must be treated as ended): send EOF through the chain."""
        if self.eof:
            return
        self.eof = True
        head = self.src.head
        self.src.head = None
        self.src.write = _discard
        (head or self).push_eof(monotonic())

    def add_stage(self, toxic: Toxic) -> None:
        stage = make_stage(toxic, self, self.conn.proxy.toxic_counters(toxic.name))
        self.stages.append(stage)
        self.rewire()
        stage.start()

    def update_stage(self, toxic: Toxic) -> None:
        for stage in self.stages:
            if stage.toxic.name == toxic.name:
                stage.update(toxic)
                return

    def remove_stage(self, name: str) -> None:
        for i, stage in enumerate(self.stages):
            if stage.toxic.name == name:
                del self.stages[i]
                self.rewire()
                stage.remove()  # releases held data into what followed it
                return

    def rewire(self) -> None:
        """Link the stages in order, the last to this sink, the first to the source."""
        stages = self.stages
        for stage, following in itertools.pairwise(stages):
            stage.out = following
        if stages:
            stages[-1].out = self
        if self.ready and not self.eof:
            self.src.head = stages[0] if stages else None

    def kill(self) -> None:
        """Stop everything without delivering anything more."""
        self.eof = self.finished = True
        self.src.head = None
        self.src.write = _discard
        for stage in self.stages:
            stage.cancel()


class Connection:
    """A client connection through a proxy: dials the upstream and runs both directions."""

    def __init__(self, proxy: ProxyHooks, loop: asyncio.AbstractEventLoop):
        self.proxy = proxy
        self.loop = loop
        self.client = Side(self)
        self.server = Side(self)
        self.up = Pipe(self, self.client, self.server)
        self.down = Pipe(self, self.server, self.client)
        self.client.outgoing = self.server.incoming = self.up
        self.server.outgoing = self.client.incoming = self.down
        self.dial: asyncio.Task[None] | None = None
        self.done = False
        self.early: list[bytes] = []  # what the client sent while the upstream was dialled
        self.early_eof = False

    def pipe(self, stream: str) -> Pipe:
        return self.up if stream == "upstream" else self.down

    # --- lifecycle ---------------------------------------------------------------------
    def side_made(self, side: Side) -> None:
        assert side.transport is not None
        _tune(side.transport)
        if side is self.client:
            self._accepted()
        else:
            self._upstream_connected()

    def _accepted(self) -> None:
        self.client.write = self._stash
        self.proxy.links.add(self)
        for stream in ("upstream", "downstream"):
            for toxic in self.proxy.toxics_for(stream):
                self.pipe(stream).add_stage(toxic)
        self.dial = self.loop.create_task(self._dial())

    async def _dial(self) -> None:
        try:
            host, port = split_host_port(self.proxy.upstream)
            connect = self.loop.create_connection(lambda: self.server, host, port)
            await asyncio.wait_for(connect, _DIAL_TIMEOUT_S)
        except (OSError, ValueError, TimeoutError):
            # As toxiproxy: a failed dial closes the client, which sees EOF.
            self.up.kill()
            self.down.kill()
            if self.client.transport is not None:
                self.client.transport.close()
            self._finish()

    def _stash(self, data: bytes) -> None:
        # uvloop starts reading after connection_made whatever it did, so the first bytes
        # may arrive before the upstream is connected: keep them and stop reading.
        self.early.append(data)
        self.up.sync_reading()

    def side_eof(self, side: Side) -> None:
        if side.outgoing.ready:
            side.outgoing.feed_eof()
        else:
            self.early_eof = True

    def _upstream_connected(self) -> None:
        client, server = self.client.transport, self.server.transport
        assert client is not None
        assert server is not None
        if self.done:
            server.abort()
            return
        self.client.write, self.server.write = server.write, client.write
        for pipe in (self.up, self.down):
            pipe.ready = True
            pipe.rewire()
        early, self.early = self.early, []
        for chunk in early:
            self.client.replay(chunk)
        if self.early_eof:
            self.up.feed_eof()
        self.up.sync_reading()
        self.down.sync_reading()

    def pipe_finished(self, pipe: Pipe) -> None:
        """EOF left ``pipe``'s chain: close its destination, send EOF the other way."""
        transport = pipe.dst.transport
        if transport is not None and not pipe.dst.lost:
            transport.close()  # flushes what is buffered, then FIN
        (self.down if pipe is self.up else self.up).feed_eof()
        if self.up.finished and self.down.finished:
            self._finish()

    def side_lost(self, side: Side) -> None:
        side.incoming.src.write = _discard
        if side is self.client and self.dial is not None and not self.dial.done():
            self.dial.cancel()
            self.up.kill()
            self.down.kill()
            self._finish()
            return
        side.outgoing.feed_eof()

    def _finish(self) -> None:
        if not self.done:
            self.done = True
            self.up.kill()
            self.down.kill()
            self.proxy.retire(self)

    def abort(self) -> None:
        """Close both sockets at once, dropping anything in flight (proxy disabled or deleted)."""
        self._finish()
        if self.dial is not None:
            self.dial.cancel()
        for side in (self.client, self.server):
            if side.transport is not None:
                side.transport.abort()

    def reset(self) -> None:
        """Close both sockets with a TCP RST (SO_LINGER 0), as toxiproxy's reset_peer does."""
        for side in (self.client, self.server):
            _set_linger(side.transport, _LINGER_RST)
        self.abort()


def _tune(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport.set_write_buffer_limits(high=_WRITE_HIGH)


def _set_linger(transport: asyncio.Transport | None, value: bytes) -> None:
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, value)
