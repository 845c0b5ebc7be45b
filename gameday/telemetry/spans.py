"""The span model every trace source is normalised to (OTLP sink, Tempo, Jaeger).

Ids are lowercase hex strings (32 characters for trace ids, 16 for span ids); a root span's
``parent_id`` is ``None``. Times are Unix nanoseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SPAN_KIND_INTERNAL = 1
SPAN_KIND_SERVER = 2
SPAN_KIND_CLIENT = 3
SPAN_KIND_PRODUCER = 4
SPAN_KIND_CONSUMER = 5


@dataclass(frozen=True)
class Span:
    """One span: who did what, when, and whether it failed."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    start_ns: int
    end_ns: int
    kind: int = SPAN_KIND_INTERNAL
    error: bool = False
    status_message: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)


@dataclass(frozen=True)
class Trace:
    """All spans of one trace that a source returned (possibly incomplete)."""

    trace_id: str
    spans: tuple[Span, ...]

    def roots(self) -> list[Span]:
        """Spans whose parent is absent: the true root, and orphans whose parent never arrived."""
        ids = {s.span_id for s in self.spans}
        return [s for s in self.spans if s.parent_id is None or s.parent_id not in ids]

    def services(self) -> set[str]:
        return {s.service for s in self.spans}

    def entry_service(self) -> str | None:
        """The service the request entered by: that of the earliest root span (on a platform
        of several models, the model it was for); None for a trace without spans."""
        roots = self.roots()
        return min(roots, key=lambda s: s.start_ns).service if roots else None
