"""The HTTP payload toxics on a connection: ``http_json`` and ``http_status`` stages.

Both frame messages with :class:`~gameday.servers.toxiproxy.http_framing.HttpStage` and pick
messages with their own random generator (one per connection and direction, seeded from the
system), each message independently with probability ``share``.

``http_json`` holds a picked message whole, decodes its body and edits it; a changed message
goes on re-serialised (the edited part as compact JSON, UTF-8) with a Content-Length (a
chunked one loses its chunking, its trailer fields join the headers). Only messages that
can carry JSON are candidates: a body with a JSON media type (``application/json``,
``*/*+json``) or no Content-Type at all, and no Content-Encoding other than ``identity``.
Anything else (another type, a compressed body, a message without a body, a request that
expects ``100 Continue``, a body that is not UTF-8 JSON) goes on byte for byte and is
counted ``passed``; candidates the share skips are streamed on, never buffered.

``http_status`` holds a picked response until it is complete, drops it and sends instead
one with the status and ``{"error": "injected by gameday", "status": N}``, framed by a
Content-Length and keeping the real response's HTTP version and Connection header (``close``
when the real body ran to the end of the connection), ``delay_ms`` after the real head
arrived or when the real response ends, whichever is later. Holding the real response (up to
16 MiB; a bigger one is replaced at once and the rest of it dropped) means a toxic removed
mid-response lets the real one through whole; the price is that a long streamed response
(server-sent events, say) is answered when it ends, not at its head. ``status`` 0 lets
the picked response through ``delay_ms`` late instead. A delay holds back what follows on
the connection too, so order is kept.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import deque
from http import HTTPStatus
from time import monotonic

import h11

from gameday.servers.toxiproxy.counters import ToxicCounters
from gameday.servers.toxiproxy.http_framing import (
    Fields,
    Head,
    HttpStage,
    Plan,
    fields_of,
    serialise,
)
from gameday.servers.toxiproxy.http_toxics import HTTP_JSON, HTTP_STATUS, json_rule, status_rule
from gameday.servers.toxiproxy.jsonpath import edit_text
from gameday.servers.toxiproxy.model import Toxic
from gameday.servers.toxiproxy.stages import PipeHooks, Stage

_EARLY_S = 0.0002  # as stages.py: a timer due within this margin fires now


class HttpJsonStage(HttpStage):
    """``http_json``: edits the field at ``path`` of a share of JSON messages."""

    def __init__(self, toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters):
        super().__init__(toxic, pipe, counters)
        self.rule = json_rule(toxic.attributes)
        self.rng = random.Random()

    def on_update(self) -> None:
        self.rule = json_rule(self.toxic.attributes)

    def begin(self, head: Head, ts: float) -> Plan:
        self.counters.messages += 1
        if not _may_be_json(head, self.method):
            self.counters.passed += 1
            return Plan.STREAM
        return Plan.HOLD if self.rng.random() < self.rule.share else Plan.STREAM

    def finish(self, head: Head, body: bytes, trailers: Fields) -> bytes | None:
        try:
            edited = edit_text(body.decode("utf-8"), self.rule.edit)
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep
            self.counters.passed += 1
            return None
        if edited is None:
            return None
        self.counters.changed += 1
        return serialise(head, edited.encode(), trailers)


def _may_be_json(head: Head, method: bytes) -> bool:
    fields = fields_of(head)
    if not _has_body(head, fields, method) or b"expect" in fields:
        # A client waiting for "100 Continue" would wait for ever on a held request head.
        return False
    encoding = fields.get(b"content-encoding", b"").strip().lower()
    if encoding not in (b"", b"identity"):
        return False
    kind = fields.get(b"content-type")
    if kind is None:
        return True
    media = kind.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _has_body(head: Head, fields: dict[bytes, bytes], method: bytes) -> bool:
    if isinstance(head, h11.Response) and (method == b"HEAD" or head.status_code in (204, 304)):
        return False
    if b"transfer-encoding" in fields:
        return True
    if b"content-length" in fields:
        return fields[b"content-length"].strip() != b"0"
    # Without framing fields a request has no body; a response's runs to the close.
    return isinstance(head, h11.Response)


class HttpStatusStage(HttpStage):
    """``http_status``: answers a share of requests with ``status`` (or only delays them)."""

    def __init__(self, toxic: Toxic, pipe: PipeHooks, counters: ToxicCounters):
        super().__init__(toxic, pipe, counters)
        self.rule = status_rule(toxic.attributes)
        self.rng = random.Random()
        self.queue: deque[tuple[float, bytes | None]] = deque()  # delayed output, None = EOF
        self.timer: asyncio.TimerHandle | None = None
        self.due = 0.0  # when the held response's replacement may go out

    def on_update(self) -> None:
        self.rule = status_rule(self.toxic.attributes)

    def begin(self, head: Head, ts: float) -> Plan:
        self.counters.messages += 1
        rule = self.rule
        if not isinstance(head, h11.Response) or self.rng.random() >= rule.share:
            return Plan.STREAM
        self.counters.changed += 1
        self.due = ts + rule.delay_s
        if rule.status == 0:
            self._put(self.due, b"")  # a gate: the response queues behind it
            return Plan.STREAM
        return Plan.HOLD

    def finish(self, head: Head, body: bytes, trailers: Fields) -> bytes | None:
        self._replace(head)
        return b""

    def overflow(self, ts: float) -> Plan:
        assert self.head is not None
        self._replace(self.head)
        return Plan.DROP

    def _replace(self, head: Head) -> None:
        assert isinstance(head, h11.Response)
        self._put(self.due, injected_response(self.rule.status, head, self.method))

    # --- delayed output, in order ------------------------------------------------------------
    def emit(self, data: bytes, ts: float) -> None:
        if self.queue:
            self._put(ts, data)
        else:
            self.out.push(data, ts)

    def emit_eof(self, ts: float) -> None:
        if self.queue:
            self._put(ts, None)
        else:
            self.out.push_eof(ts)

    def _put(self, due: float, data: bytes | None) -> None:
        """Queue ``data`` for ``due``, never before what is queued already."""
        if self.queue:
            due = max(due, self.queue[-1][0])
        elif due <= monotonic() + _EARLY_S:
            if data is None:
                self.out.push_eof(due)
            elif data:
                self.out.push(data, due)
            return
        self.queue.append((due, data))
        if data:
            self.pipe.hold(len(data))
        if self.timer is None:
            self.timer = self.pipe.loop.call_later(max(0.0, due - monotonic()), self._fire)

    def _fire(self) -> None:
        self.timer = None
        now = monotonic() + _EARLY_S
        while self.queue and self.queue[0][0] <= now and not self.closed:
            self._pop()
        if self.queue and not self.closed:
            delay = max(0.0, self.queue[0][0] - monotonic())
            self.timer = self.pipe.loop.call_later(delay, self._fire)

    def _pop(self) -> None:
        due, data = self.queue.popleft()
        if data is None:
            self.out.push_eof(due)
        elif data:
            self.pipe.release(len(data))
            self.out.push(data, due)

    def flush(self) -> None:
        super().flush()  # what it holds joins the queue, which goes out now
        self._stop()
        while self.queue and not self.closed:
            self._pop()

    def cancel(self) -> None:
        super().cancel()
        self._stop()
        self.queue.clear()

    def _stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def injected_response(status: int, real: h11.Response, method: bytes) -> bytes:
    """The response sent in place of ``real``: ``status`` and a small JSON body, framed so the
    connection stays usable (or closes where ``real`` would have closed it)."""
    body = json.dumps({"error": "injected by gameday", "status": status}).encode()
    try:
        reason = HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b"Error"
    fields = [b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    real_fields = fields_of(real)
    framed = b"content-length" in real_fields or b"transfer-encoding" in real_fields
    if not framed and _has_body(real, real_fields, method):  # its body ran to the close
        fields.append(b"Connection: close")
    elif b"connection" in real_fields:
        fields.append(b"Connection: " + real_fields[b"connection"])
    start = b"HTTP/%s %d %s\r\n" % (real.http_version, status, reason)
    return start + b"\r\n".join(fields) + b"\r\n\r\n" + (b"" if method == b"HEAD" else body)


HTTP_STAGES: dict[str, type[Stage]] = {HTTP_JSON: HttpJsonStage, HTTP_STATUS: HttpStatusStage}
"""The stage class of each HTTP payload toxic type."""
