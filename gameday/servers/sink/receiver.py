"""The OTLP/HTTP trace receiver: ``POST /v1/traces`` as the OTLP specification asks.

Protobuf or JSON in, answered in the same content type; gzip/deflate bodies; 200 with
``partial_success`` when some spans were rejected; 400 with a ``google.rpc.Status`` on
undecodable data; 413 over the body limit (checked before and after decompression, so a
gzip bomb is refused too); 415 for other content types or encodings; 503 (too many exports
in flight) and 429 (span rate over the limit) with ``Retry-After`` so exporters back off.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gameday.servers.sink.store import SpanBatch, TraceStore, prepare
from gameday.telemetry import otlp

MAX_BODY_BYTES = 64 * 1024 * 1024
_ACCEPTED_TYPES = {otlp.PROTOBUF: otlp.PROTOBUF, "application/protobuf": otlp.PROTOBUF}
_ACCEPTED_TYPES[otlp.JSON] = otlp.JSON
# wbits for zlib: 16+15 reads gzip only; 32+15 detects zlib or gzip headers (HTTP "deflate"
# is zlib-wrapped, but some clients send gzip under that name).
_WBITS = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": 32 + zlib.MAX_WBITS,
}


@dataclass(frozen=True)
class ReceiverLimits:
    """How much the receiver takes before it pushes back.

    ``max_body_bytes`` applies to the body as sent and once decompressed (413 beyond it);
    ``max_inflight`` exports may be read and decoded at once (503 beyond it);
    ``max_spans_per_second`` (``None``: unlimited) caps the accepted span rate (429 beyond it).
    """

    max_body_bytes: int = MAX_BODY_BYTES
    max_inflight: int = 8
    max_spans_per_second: float | None = None


class BodyTooLarge(Exception):
    """The request body (compressed or not) is over the limit."""


class Admission:
    """Back-pressure bookkeeping. Used from the event loop only, so it needs no lock."""

    def __init__(self, limits: ReceiverLimits, clock: Callable[[], float] = time.monotonic):
        self._limits = limits
        self._clock = clock
        self._inflight = 0
        self._tokens = limits.max_spans_per_second or 0.0
        self._last = clock()

    def try_enter(self) -> bool:
        """Take an in-flight slot; ``False`` when all are busy."""
        if self._inflight >= self._limits.max_inflight:
            return False
        self._inflight += 1
        return True

    def leave(self) -> None:
        """Give the slot back."""
        self._inflight -= 1

    def take(self, spans: int) -> float | None:
        """Admit ``spans`` under the rate limit; else the seconds to wait before retrying."""
        rate = self._limits.max_spans_per_second
        if not rate or spans == 0:
            return None
        now = self._clock()
        self._tokens = min(rate, self._tokens + (now - self._last) * rate)
        self._last = now
        # A batch bigger than one second's budget goes through when the bucket is full,
        # otherwise it could never be admitted; the debt then delays the next ones.
        if self._tokens >= min(spans, rate):
            self._tokens -= spans
            return None
        return (min(spans, rate) - self._tokens) / rate


class OtlpReceiver:
    """The ``POST /v1/traces`` endpoint, storing into ``store``."""

    def __init__(self, store: TraceStore, limits: ReceiverLimits | None = None):
        self.store = store
        self.limits = limits or ReceiverLimits()
        self.admission = Admission(self.limits)
        self.refused: dict[int, int] = {}

    async def handle(self, request: Request) -> Response:
        """Answer one export request (a Starlette endpoint)."""
        media = otlp.media_type(request.headers.get("content-type"))
        answer_type = _ACCEPTED_TYPES.get(media)
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if answer_type is None:
            return self._fail(
                415,
                f"unsupported content type {media!r}; send {otlp.PROTOBUF} or {otlp.JSON}",
                otlp.JSON,
            )
        if encoding not in _WBITS and encoding not in ("", "identity"):
            return self._fail(415, f"unsupported content encoding {encoding!r}", answer_type)
        if not self.admission.try_enter():
            return self._fail(503, "too many exports in flight", answer_type, retry_after=1)
        try:
            return await self._export(request, answer_type, encoding)
        finally:
            self.admission.leave()

    async def _export(self, request: Request, answer_type: str, encoding: str) -> Response:
        limit = self.limits.max_body_bytes
        try:
            body = await read_body(request, limit)
            batch = await run_in_threadpool(_decode, body, answer_type, encoding, limit)
        except BodyTooLarge:
            return self._fail(413, f"request body over {limit} bytes", answer_type)
        except otlp.OtlpDecodeError as exc:
            return self._fail(400, str(exc), answer_type)
        wait = self.admission.take(batch.accepted)
        if wait is not None:
            return self._fail(
                429, "span rate over the limit", answer_type, retry_after=max(1, math.ceil(wait))
            )
        self.store.add(batch)
        body = otlp.export_response(batch.rejected, batch.error, answer_type)
        return Response(body, media_type=answer_type)

    def _fail(
        self, status: int, message: str, answer_type: str, retry_after: int | None = None
    ) -> Response:
        self.refused[status] = self.refused.get(status, 0) + 1
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        body = otlp.error_status(status, message, answer_type)
        return Response(body, status_code=status, media_type=answer_type, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (``BodyTooLarge``) past ``limit`` bytes without reading on."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """``body`` decoded per Content-Encoding, never expanding past ``limit`` bytes."""
    wbits = _WBITS.get(encoding)
    if wbits is None:
        return body
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise otlp.OtlpDecodeError(f"cannot decompress {encoding} body: {exc}") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge
    if not inflater.eof:
        raise otlp.OtlpDecodeError(f"truncated {encoding} body")
    return data


def _decode(body: bytes, content_type: str, encoding: str, limit: int) -> SpanBatch:
    # Runs in a worker thread: decompression and protobuf parsing are CPU-bound.
    return prepare(otlp.decode_export(decompress(body, encoding, limit), content_type))
