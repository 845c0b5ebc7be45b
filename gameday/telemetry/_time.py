"""Time formats the observability stack speaks: RFC 3339 timestamps and Go/Prometheus durations."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Go's zero time.Time: Alertmanager writes it as endsAt of alerts that have not ended.
_GO_ZERO_YEAR = 1

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}


def parse_rfc3339(text: str | None) -> float | None:
    """Unix seconds of an RFC 3339 timestamp; ``None`` for empty text or Go's zero time.

    Raises ``ValueError`` on text that is not a timestamp.
    """
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.year <= _GO_ZERO_YEAR:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_rfc3339(unix_seconds: float) -> str:
    """``unix_seconds`` as an RFC 3339 UTC timestamp with microseconds (``...Z``)."""
    moment = datetime.fromtimestamp(unix_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_duration(text: str | float | int) -> float:
    """Seconds in a Prometheus/Go duration such as ``1m30s``, ``500ms`` or ``2h``; numbers pass.

    Raises ``ValueError`` on anything else.
    """
    if isinstance(text, int | float):
        return float(text)
    spec = text.strip()
    parts = _DURATION_PART.findall(spec)
    if not spec or "".join(n + u for n, u in parts) != spec:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 500ms, 15s, 1m30s)")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
