"""What each data fault does to one batch: pure functions of a frame, a seeded RNG and what the
relay saw of the column in clean batches before the fault (its reference moments).

Every transform works on the batch's own columns, whatever the schema, and returns the
:class:`Change` it made; a batch lacking the column is left alone (no change).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from gameday.servers.relay.formats import Frame, number_text
from gameday.servers.relay.model import FaultSpec
from gameday.servers.relay.sampling import Moments

WRONG_TYPE_TEXT = "not a number"
"""What ``corrupt`` with ``mode: wrong_type`` writes into a numeric column."""

SENTINEL = -1


@dataclass
class Change:
    """What a fault did to a batch: rows changed, columns touched, rows dropped."""

    rows: int = 0
    columns: list[str] = field(default_factory=list)
    dropped: int = 0

    @property
    def touched(self) -> bool:
        return self.rows > 0 or self.dropped > 0


@dataclass(frozen=True)
class Numbers:
    """A numeric column as floats (NaN where null), and whether every value is an integer."""

    values: np.ndarray
    present: np.ndarray
    integral: bool


Transform = Callable[[FaultSpec, Frame, np.random.Generator, Mapping[str, Moments]], Change]


def apply(
    spec: FaultSpec, frame: Frame, rng: np.random.Generator, reference: Mapping[str, Moments]
) -> Change:
    """Apply the fault ``spec`` to ``frame`` in place; the change it made."""
    return _TRANSFORMS[spec.type](spec, frame, rng, reference)


def numbers(frame: Frame, name: str) -> Numbers | None:
    """Column ``name`` as :class:`Numbers`; None if missing or holding anything but numbers."""
    if name not in frame.names:
        return None
    raw = frame.column(name)
    if any(v is not None and (isinstance(v, bool) or not isinstance(v, int | float)) for v in raw):
        return None
    values = np.array([math.nan if v is None else float(v) for v in raw], dtype=np.float64)  # type: ignore[arg-type]
    integral = all(isinstance(v, int) for v in raw if v is not None)
    return Numbers(values, ~np.isnan(values), integral)


def choose(rng: np.random.Generator, candidates: np.ndarray, fraction: float) -> np.ndarray:
    """``round(fraction * len(candidates))`` of ``candidates``, drawn without replacement."""
    count = round(fraction * len(candidates))
    return np.sort(rng.choice(candidates, size=count, replace=False)) if count else candidates[:0]


def _reference(nums: Numbers, name: str, reference: Mapping[str, Moments]) -> Moments:
    seen = reference.get(name)
    return seen if seen is not None and seen.count else Moments.of(nums.values)


def _write_numbers(frame: Frame, name: str, nums: Numbers, new: np.ndarray, integral: bool) -> int:
    """Write ``new`` where it differs from the column's values; the rows changed."""
    changed = nums.present & (new != nums.values)
    if not changed.any():
        return 0
    old = frame.column(name)
    out = [_number(new[i], integral) if changed[i] else v for i, v in enumerate(old)]
    frame.set_column(name, out)
    return int(changed.sum())


def _number(value: float, integral: bool) -> int | float:
    return round(float(value)) if integral else float(value)


def _set_rows(frame: Frame, name: str, rows: np.ndarray, value: object) -> int:
    values = frame.column(name)
    for i in rows.tolist():
        values[i] = value
    frame.set_column(name, values)
    return len(rows)


def _first_numeric(frame: Frame, after: str | None = None) -> str | None:
    names = frame.names
    start = names.index(after) + 1 if after in names else 0
    for name in names[start:] + names[:start]:
        if name != after and (nums := numbers(frame, name)) is not None and nums.present.any():
            return name
    return None


# --- the fault types -------------------------------------------------------------------------


def null_column(spec: FaultSpec, frame: Frame, rng: np.random.Generator, _: object) -> Change:
    column = spec.text("column") or ""
    if column not in frame.names:
        return Change()
    present = np.array([v is not None for v in frame.column(column)], dtype=bool)
    rows = choose(rng, np.flatnonzero(present), spec.number("fraction"))
    return Change(_set_rows(frame, column, rows, None), [column])


def drift(
    spec: FaultSpec, frame: Frame, rng: np.random.Generator, ref: Mapping[str, Moments]
) -> Change:
    """Shift by ``shift_sigma`` reference standard deviations and scale about the reference
    mean, clipped to the reference min/max so every value stays plausible on its own."""
    column = spec.text("column") or ""
    nums = numbers(frame, column)
    if nums is None:
        return Change()
    seen = _reference(nums, column, ref)
    centred = (nums.values - seen.mean) * spec.number("scale")
    new = np.clip(seen.mean + centred + spec.number("shift_sigma") * seen.std, seen.low, seen.high)
    if nums.integral:
        new = np.round(new)
    return Change(_write_numbers(frame, column, nums, new, nums.integral), [column])


def unit_change(spec: FaultSpec, frame: Frame, rng: np.random.Generator, _: object) -> Change:
    column = spec.text("column") or ""
    nums = numbers(frame, column)
    if nums is None:
        return Change()
    factor = spec.number("factor")
    integral = nums.integral and factor.is_integer()
    return Change(_write_numbers(frame, column, nums, nums.values * factor, integral), [column])


def type_change(spec: FaultSpec, frame: Frame, rng: np.random.Generator, _: object) -> Change:
    """Every number in the column becomes text such as ``"12 units"``."""
    column = spec.text("column") or ""
    if column not in frame.names:
        return Change()
    values = frame.column(column)
    is_number = [isinstance(v, int | float) and not isinstance(v, bool) for v in values]
    if not any(is_number):
        return Change()
    out = [f"{number_text(v)} units" if n else v for v, n in zip(values, is_number, strict=True)]
    frame.set_column(column, out)
    return Change(sum(is_number), [column])


def label_flip(spec: FaultSpec, frame: Frame, rng: np.random.Generator, _: object) -> Change:
    """Flip a share of a 0/1 (or boolean) column's values; other values stay."""
    column = spec.text("column") or ""
    if column not in frame.names:
        return Change()
    values = frame.column(column)
    binary = np.flatnonzero([v in (0, 1) and v is not None for v in values])
    rows = choose(rng, binary, spec.number("fraction"))
    for i in rows.tolist():
        value = values[i]
        values[i] = (not value) if isinstance(value, bool) else type(value)(1 - value)
    if len(rows):
        frame.set_column(column, values)
    return Change(len(rows), [column])


def empty(spec: FaultSpec, frame: Frame, rng: np.random.Generator, _: object) -> Change:
    dropped = frame.clear_rows()
    return Change(dropped, [], dropped)


def corrupt(
    spec: FaultSpec, frame: Frame, rng: np.random.Generator, ref: Mapping[str, Moments]
) -> Change:
    mode = spec.text("mode") or ""
    fraction = spec.number("fraction")
    if mode == "garbage":
        rows = choose(rng, np.arange(frame.num_rows), fraction)
        return Change(frame.garble(rows, rng) if len(rows) else 0, frame.names)
    column = spec.text("column") or _first_numeric(frame)
    nums = numbers(frame, column) if column else None
    if column is None or nums is None:
        return Change()
    if mode == "swapped_columns":
        return _swap(frame, column, rng, fraction)
    rows = choose(rng, np.flatnonzero(nums.present), fraction)
    if mode == "out_of_range":
        seen = _reference(nums, column, ref)
        far = seen.high + 100 * max(seen.high - seen.low, abs(seen.high), 1.0)
        return Change(_set_rows(frame, column, rows, _number(far, nums.integral)), [column])
    value = WRONG_TYPE_TEXT if mode == "wrong_type" else _number(SENTINEL, nums.integral)
    return Change(_set_rows(frame, column, rows, value), [column])


def _swap(frame: Frame, column: str, rng: np.random.Generator, fraction: float) -> Change:
    """Swap a share of rows' values between ``column`` and the next numeric column."""
    other = _first_numeric(frame, after=column)
    if other is None:
        return Change()
    rows = choose(rng, np.arange(frame.num_rows), fraction)
    a, b = frame.column(column), frame.column(other)
    for i in rows.tolist():
        a[i], b[i] = b[i], a[i]
    frame.set_column(column, a)
    frame.set_column(other, b)
    return Change(len(rows), [column, other])


_TRANSFORMS: dict[str, Transform] = {
    "null_column": null_column,
    "drift": drift,
    "unit_change": unit_change,
    "type_change": type_change,
    "label_flip": label_flip,
    "empty": empty,
    "corrupt": corrupt,
}
"""Fault types that change a batch's content (duplicate, stale and delay act on the file)."""

TRANSFORM_TYPES = frozenset(_TRANSFORMS)
