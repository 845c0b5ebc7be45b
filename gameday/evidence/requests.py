"""Requests as the load generator saw them, and the figures verifiers compute over them.

:class:`Record` is one request; :func:`summarize` gives the error rate and percentiles of the
requests that started in a window; :func:`to_columns` / :func:`from_columns` convert to and
from the bundle's compact :class:`~gameday.evidence.model.RequestColumns`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gameday.evidence.model import RequestColumns


@dataclass(frozen=True)
class Record:
    """One request as the load generator saw it."""

    t: float  # start, Unix seconds
    ms: float
    ok: bool
    status: int
    name: str = ""
    trace_id: str | None = None

    @property
    def end(self) -> float:
        return self.t + self.ms / 1000.0


@dataclass(frozen=True)
class LoadStats:
    """Figures over a set of records (``p50_ms``/``p95_ms`` are ``None`` without requests)."""

    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    rps: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, float | int | None]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "error_rate": round(self.error_rate, 4),
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "rps": round(self.rps, 1),
        }


def summarize(
    records: list[Record], start: float | None = None, end: float | None = None
) -> LoadStats:
    """Stats of the records that started within [start, end)."""
    chosen = [r for r in records if (start is None or r.t >= start) and (end is None or r.t < end)]
    if not chosen:
        return LoadStats(0, 0, None, None, 0.0)
    ms = np.array([r.ms for r in chosen])
    span = (end or max(r.end for r in chosen)) - (start or min(r.t for r in chosen))
    p50, p95 = (round(float(v), 2) for v in np.percentile(ms, [50, 95]))
    failures = sum(not r.ok for r in chosen)
    return LoadStats(len(chosen), failures, p50, p95, len(chosen) / span if span > 0 else 0.0)


def to_columns(
    records: Sequence[Record], keep_trace: Callable[[Record], bool] | None = None
) -> RequestColumns:
    """``records`` as the bundle stores them (request names interned; trace ids only where
    ``keep_trace`` says so, all of them by default)."""
    names: dict[str, int] = {}
    for r in records:
        names.setdefault(r.name, len(names))
    return RequestColumns.model_construct(
        t=tuple(r.t for r in records),
        ms=tuple(r.ms for r in records),
        ok=tuple(r.ok for r in records),
        status=tuple(r.status for r in records),
        name=tuple(names[r.name] for r in records),
        names=tuple(names),
        trace_id=tuple(
            r.trace_id if keep_trace is None or keep_trace(r) else None for r in records
        ),
    )


def from_columns(columns: RequestColumns) -> list[Record]:
    """The records of a bundle, in the order they were stored."""
    names = columns.names
    return [
        Record(t, ms, ok, status, names[n] if 0 <= n < len(names) else "", trace)
        for t, ms, ok, status, n, trace in zip(
            columns.t,
            columns.ms,
            columns.ok,
            columns.status,
            columns.name,
            columns.trace_id,
            strict=True,
        )
    ]
