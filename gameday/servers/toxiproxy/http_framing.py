"""HTTP/1.1 framing for toxic stages: a stage that sees whole messages instead of chunks.

:class:`HttpStage` runs h11 over the bytes of its direction (requests on the upstream
stream, responses on the downstream one) and asks its subclass, at each message's head,
what to do with the message (:class:`Plan`): stream its bytes on as they come (untouched,
nothing buffered), hold it whole and then send either the original bytes or a replacement
(``finish``), or drop it (something else was sent in its place). Keep-alive, pipelining,
chunked bodies and ``1xx`` responses keep their framing; what goes out unchanged goes out
byte for byte, as it came.

h11 frames one message at a time and needs both sides of a conversation: each message gets a
fresh parser, and before each response the stage "sends" the request the response answers
(its method noted on the way up by a :class:`RequestTap` on the other direction, so a
response to HEAD has no body and one to CONNECT switches protocols).

A stage that joins a live connection cannot know where a message starts: it passes bytes
on until a chunk begins like a message (``HTTP/`` for responses, ``METHOD `` for requests)
and frames from there. Bytes that are not HTTP/1.1 (malformed, or after a protocol switch)
pass through unchanged for the rest of the connection. A stage removed (or made inactive)
while it holds part of a message releases those bytes unchanged; one removed while dropping
a replaced message closes the connection instead, since what remains of the message can no
longer be framed.
"""

from __future__ import annotations

import re
from collections import deque
from enum import Enum
from time import monotonic

import h11

from gameday.servers.toxiproxy.counters import ToxicCounters
from gameday.servers.toxiproxy.model import Toxic
from gameday.servers.toxiproxy.stages import PipeHooks, Stage

Head = h11.Request | h11.Response
Fields = list[tuple[bytes, bytes]]

_MAX_HELD = 16 << 20  # a body bigger than this is streamed on untouched (and counted passed)
_REQUEST_START = re.compile(rb"[A-Z]{1,20}(?: |$)")
_RESPONSE_START = b"HTTP/"
_FRAMING = (b"content-length", b"transfer-encoding", b"trailer")
_FAKE_HOST = [("Host", "gameday")]


class Plan(Enum):
    """What an :class:`HttpStage` does with one message."""

    STREAM = "stream"  # forward its bytes as they arrive
    HOLD = "hold"  # keep it whole; ``finish`` decides what goes out
    DROP = "drop"  # swallow its bytes (a replacement was sent instead)


class HttpStage(Stage):
    """A toxic stage over HTTP/1.1 messages; subclasses override ``begin`` and ``finish``."""

    def __init__(self, toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters):
        super().__init__(toxic, pipe, counters)
        self.requests = toxic.stream == "upstream"  # which kind of message this stream carries
        self.parser: h11.Connection | None = None  # None: not framing (not in step, or broken)
        self.broken = False  # not HTTP/1.1 any more: pass the rest through
        self.buf = bytearray()  # bytes given to the parser and not yet sent on or dropped
        self.plan = Plan.STREAM
        self.head: Head | None = None
        self.body = bytearray()
        self.method = b"GET"  # the method of the request the current response answers
        self.methods: deque[bytes] = deque()  # methods of requests not answered yet (tap's)
        self.tap: RequestTap | None = None

    # --- what subclasses override ---------------------------------------------------------
    def begin(self, head: Head, ts: float) -> Plan:
        """A message's head arrived: what to do with the message."""
        return Plan.STREAM

    def finish(self, head: Head, body: bytes, trailers: Fields) -> bytes | None:
        """A held message is complete: the bytes to send instead (empty: the subclass sent
        something itself), or None for the original."""
        return None

    def overflow(self, ts: float) -> Plan:
        """A held message grew too big to hold: by default it streams on untouched."""
        self.counters.passed += 1
        return Plan.STREAM

    def emit(self, data: bytes, ts: float) -> None:
        """Send bytes on (a subclass may delay them)."""
        self.out.push(data, ts)

    def emit_eof(self, ts: float) -> None:
        self.out.push_eof(ts)

    # --- Stage --------------------------------------------------------------------------------
    def on_start(self) -> None:
        # Created before the upstream connected: the stream starts here, at a message start.
        self._restart(framing=not self.pipe.ready)
        if not self.requests and self.tap is None:
            companion = self.pipe.companion()
            self.tap = RequestTap(companion, self.methods)
            companion.attach(self.tap)

    def on_data(self, data: bytes, ts: float) -> None:
        if self.parser is None and not self._step_in(data):
            self.emit(data, ts)
            return
        assert self.parser is not None
        self.buf += data
        self.parser.receive_data(data)
        self._drain(ts)

    def on_eof(self, ts: float) -> None:
        if self.parser is not None:
            self.parser.receive_data(b"")
            self._drain(ts)
        if self.buf and self.plan is not Plan.DROP:
            self.emit(bytes(self.buf), ts)
        self.buf.clear()
        self.emit_eof(ts)

    def flush(self) -> None:
        now = monotonic()
        dropping = self.plan is Plan.DROP
        if self.buf and not dropping:
            self.emit(bytes(self.buf), now)
        self._restart(framing=False)
        self._untap()
        if dropping:
            self._close(now)

    # --- framing ------------------------------------------------------------------------------
    def _restart(self, framing: bool) -> None:
        role = h11.SERVER if self.requests else h11.CLIENT
        self.parser = h11.Connection(role) if framing else None
        self.broken = False
        self.buf = bytearray()
        self._next_message()

    def _next_message(self) -> None:
        self.plan = Plan.STREAM
        self.head = None
        self.body = bytearray()

    def _step_in(self, data: bytes) -> bool:
        """Start framing at ``data`` if it looks like the start of a message."""
        if self.requests:
            starts = _REQUEST_START.match(data) is not None
        else:
            starts = _RESPONSE_START.startswith(data[: len(_RESPONSE_START)])
        if self.broken or not starts:
            return False
        self._restart(framing=True)
        return True

    def _drain(self, ts: float) -> None:
        try:
            while (parser := self.parser) is not None:
                self._prime(parser)
                event = parser.next_event()
                if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                    break
                if event is h11.PAUSED:  # the connection switched protocols
                    self._give_up(ts, malformed=False)
                    return
                self._on_event(event, ts)
        except h11.ProtocolError:
            self._give_up(ts, malformed=True)
            return
        self._settle(ts)

    def _prime(self, parser: h11.Connection) -> None:
        """Before a response: "send" the request it answers, so h11 frames it right."""
        if self.requests or parser.our_state is not h11.IDLE or not self.buf:
            return
        self.method = self.methods.popleft() if self.methods else b"GET"
        parser.send(h11.Request(method=self.method, target="/", headers=_FAKE_HOST))
        parser.send(h11.EndOfMessage())

    def _on_event(self, event: object, ts: float) -> None:
        if isinstance(event, h11.Request | h11.Response):
            self.head = event
            self.plan = self.begin(event, ts)
        elif isinstance(event, h11.InformationalResponse):
            self._settle(ts)  # a 1xx goes on as it came, ahead of the final response
        elif isinstance(event, h11.Data):
            if self.plan is Plan.HOLD:
                self.body += event.data
                if len(self.body) > _MAX_HELD:
                    self.body = bytearray()
                    self.plan = self.overflow(ts)
        elif isinstance(event, h11.EndOfMessage):
            self._complete(event, ts)

    def _complete(self, end: h11.EndOfMessage, ts: float) -> None:
        parser = self.parser
        assert parser is not None
        raw = self._take(parser)
        if self.plan is Plan.HOLD and self.head is not None:
            replacement = self.finish(self.head, bytes(self.body), list(end.headers.raw_items()))
            if replacement is None:
                self.emit(raw, ts)
            elif replacement:
                self.emit(replacement, ts)
        elif self.plan is Plan.STREAM:
            self.emit(raw, ts)
        self._next_message()
        if parser.their_state is h11.MIGHT_SWITCH_PROTOCOL:  # CONNECT or Upgrade
            self._give_up(ts, malformed=False)
        else:
            self.parser = renewed(parser)

    def _take(self, parser: h11.Connection) -> bytes:
        """The bytes the parser has consumed, out of the buffer."""
        consumed = len(self.buf) - len(parser.trailing_data[0])
        if consumed == len(self.buf):
            taken, self.buf = bytes(self.buf), bytearray()
            return taken
        taken = bytes(self.buf[:consumed])
        del self.buf[:consumed]
        return taken

    def _settle(self, ts: float) -> None:
        """Send on (or drop) what the parser consumed of a message that is not held."""
        if self.plan is not Plan.HOLD and self.parser is not None:
            taken = self._take(self.parser)
            if taken and self.plan is Plan.STREAM:
                self.emit(taken, ts)

    def _give_up(self, ts: float, malformed: bool) -> None:
        """Not HTTP/1.1 (any more): what is held goes on unchanged, and so does the rest."""
        if malformed and self.head is None:
            self.counters.messages += 1
            self.counters.passed += 1
        elif malformed and self.plan is Plan.HOLD:
            self.counters.passed += 1
        dropping, held = self.plan is Plan.DROP, bytes(self.buf)
        self._restart(framing=False)
        self.broken = True
        if dropping:
            self._close(ts)
        elif held:
            self.emit(held, ts)

    def _close(self, ts: float) -> None:
        """End the stream here (the rest of a dropped message cannot be framed)."""
        if not self.eof:
            self.eof = True
            self.emit_eof(ts)

    def _untap(self) -> None:
        if self.tap is not None:
            self.pipe.companion().detach(self.tap)
            self.tap = None
        self.methods.clear()


def renewed(parser: h11.Connection) -> h11.Connection:
    """A fresh parser for the next message, fed what ``parser`` has not read yet.

    Cheaper than h11's own cycle, which wants a reply sent to every message it reads.
    """
    rest, closed = parser.trailing_data
    fresh = h11.Connection(parser.our_role)
    if rest:
        fresh.receive_data(rest)
    if closed:
        fresh.receive_data(b"")
    return fresh


_TAP_TOXIC = Toxic("", "noop", "upstream", 1.0)


class RequestTap(Stage):
    """Notes the method of each request on its way to the server, for the HTTP stage on the
    responses (it owns the tap; no toxic does). Passes every byte on first, unchanged."""

    def __init__(self, pipe: PipeHooks, methods: deque[bytes]):
        super().__init__(_TAP_TOXIC, pipe, ToxicCounters())
        self.methods = methods
        self.parser: h11.Connection | None = None if pipe.ready else h11.Connection(h11.SERVER)
        self.broken = False

    def on_data(self, data: bytes, ts: float) -> None:
        self.out.push(data, ts)
        if self.parser is None:
            if self.broken or _REQUEST_START.match(data) is None:
                return
            self.parser = h11.Connection(h11.SERVER)
        try:
            self.parser.receive_data(data)
            self._read()
        except h11.ProtocolError:
            self.parser, self.broken = None, True

    def _read(self) -> None:
        while (parser := self.parser) is not None:
            event = parser.next_event()
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                return
            if isinstance(event, h11.Request):
                self.methods.append(event.method)
            elif isinstance(event, h11.EndOfMessage):
                switching = parser.their_state is h11.MIGHT_SWITCH_PROTOCOL
                self.parser = None if switching else renewed(parser)
                self.broken = switching


# --- messages -----------------------------------------------------------------------------------


def fields_of(head: Head) -> dict[bytes, bytes]:
    """``head``'s header fields by lower-case name, a repeated one's values joined by commas."""
    fields: dict[bytes, bytes] = {}
    for name, value in head.headers.raw_items():
        key = name.lower()
        fields[key] = fields[key] + b", " + value if key in fields else value
    return fields


def serialise(head: Head, body: bytes, trailers: Fields) -> bytes:
    """``head`` with ``body``, framed by a Content-Length; trailer fields join the headers."""
    if isinstance(head, h11.Request):
        start = b"%s %s HTTP/%s\r\n" % (head.method, head.target, head.http_version)
    else:
        start = b"HTTP/%s %d %s\r\n" % (head.http_version, head.status_code, head.reason)
    fields = [*head.headers.raw_items(), *trailers]
    lines = [name + b": " + value for name, value in fields if name.lower() not in _FRAMING]
    lines.append(b"Content-Length: %d" % len(body))
    return start + b"\r\n".join(lines) + b"\r\n\r\n" + body
