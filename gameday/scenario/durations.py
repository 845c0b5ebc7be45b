"""Durations as scenario files write them: ``500ms``, ``20s``, ``2m``, ``1h``, ``1.5s`` or a number.

``parse_duration`` turns any of them into float seconds and refuses everything else with a
message that shows what is accepted; ``format_duration`` goes back to the shortest string
that ``parse_duration`` reads as the same value; ``human_duration`` is for titles and reports
(``45 s``, ``500 ms``, ``2 min``).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

DURATION_PATTERN = r"^\s*(\d+(\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$"
"""What a duration string looks like; the JSON Schema uses it too, so editors agree with us."""

_DURATION_RE = re.compile(DURATION_PATTERN)
_EXAMPLES = "like 500ms, 20s, 1.5s, 2m, 1h, or a number of seconds"


def parse_duration(value: Any) -> float:
    """Return ``value`` in seconds (a finite float >= 0).

    Accepts an int or float of seconds, or a string of a number with an optional unit
    ``ms``, ``s``, ``m`` or ``h``. Raises ``ValueError`` (with examples of what is accepted)
    for negative, NaN or infinite values, booleans and anything else.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a duration {_EXAMPLES}; got {value!r}")
    if isinstance(value, str):
        return _parse_text(value)
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number >= 0 ({_EXAMPLES}); got {value!r}")
    return seconds


DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": DURATION_PATTERN, "examples": ["500ms", "20s", "2m"]},
        {"type": "number", "minimum": 0},
    ]
}
"""JSON Schema of a duration: a string such as ``20s`` or a number of seconds."""

Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(DURATION_SCHEMA)]
"""A model field holding a duration: written as text or a number, stored as float seconds."""

PositiveDuration = Annotated[Duration, Field(gt=0)]
"""A :data:`Duration` that must be longer than zero."""


def _parse_text(text: str) -> float:
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"expected a duration {_EXAMPLES}; got {text!r}")
    number, unit = match.group(1), match.group(3) or "s"
    seconds = float(number) * _UNITS[unit]
    if not math.isfinite(seconds):
        raise ValueError(f"duration {text!r} is too long to be a number of seconds")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest text ``parse_duration`` reads as ``seconds``: ``500ms``, ``90s``, ``2m``."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format {seconds!r} as a duration")
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    if 0 < seconds < 1:
        return f"{_trim(seconds * 1000)}ms"
    return f"{_trim(seconds)}s"


def human_duration(seconds: float) -> str:
    """``seconds`` for people: ``500 ms``, ``45 s``, ``1.5 s``, ``2 min``, ``1 h``."""
    if seconds >= 3600 and (seconds / 3600).is_integer():
        return f"{int(seconds / 3600)} h"
    if seconds >= 60 and (seconds / 60).is_integer():
        return f"{int(seconds / 60)} min"
    if 0 < seconds < 1:
        return f"{_trim(seconds * 1000)} ms"
    return f"{_trim(seconds)} s"


def _trim(number: float) -> str:
    # Up to millisecond precision, no trailing zeros: 1.5 not 1.500, 20 not 20.0.
    text = f"{number:.3f}".rstrip("0").rstrip(".")
    return text or "0"
