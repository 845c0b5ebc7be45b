"""The relay API's data: relays, fault types and their attributes, request bodies, API errors.

Everything here is pure. Request bodies follow toxiproxy's JSON rules: unknown keys are
ignored, ``null`` means "the default", and a value of the wrong type is a 400
``bad request body: ...``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gameday.servers.api import ApiError, bad_body, decode_body, json_type, missing_field

VERSION = "0.1.0"
"""The relay API's version (``GET /version``)."""

TTL_KEY = "gameday_ttl_s"
"""A fault carrying this key (seconds) reverts itself when it runs out."""

FORMATS = ("parquet", "csv", "jsonl")
CORRUPT_MODES = ("garbage", "out_of_range", "wrong_type", "swapped_columns", "sentinel")

Attr = str | float | int | None
"""An attribute value: text (column, mode), a number, an integer (seed, batches), or unset."""


@dataclass(frozen=True)
class AttrSpec:
    """One attribute of a fault type: its kind, its default, and whether it must be given."""

    kind: str  # "str", "number", "fraction", "seconds", "int", "mode"
    default: Attr = None
    required: bool = False


_COLUMN = AttrSpec("str", required=True)
_COMMON = {"seed": AttrSpec("int", 0), "batches": AttrSpec("int", 0)}

FAULT_TYPES: dict[str, dict[str, AttrSpec]] = {
    "null_column": {"column": _COLUMN, "fraction": AttrSpec("fraction", 1.0)},
    "drift": {
        "column": _COLUMN,
        "shift_sigma": AttrSpec("number", 0.0),
        "scale": AttrSpec("number", 1.0),
    },
    "unit_change": {"column": _COLUMN, "factor": AttrSpec("number", required=True)},
    "type_change": {"column": _COLUMN},
    "corrupt": {
        "mode": AttrSpec("mode", required=True),
        "fraction": AttrSpec("fraction", 0.2),
        "column": AttrSpec("str"),
    },
    "duplicate": {},
    "empty": {},
    "stale": {},
    "delay": {"delay_s": AttrSpec("seconds", required=True)},
    "label_flip": {"column": _COLUMN, "fraction": AttrSpec("fraction", 0.2)},
}
"""Every fault type and its own attributes (each also takes ``seed`` and ``batches``)."""

HOLDING_TYPES = frozenset({"stale", "delay"})
"""Fault types that hold batches back instead of changing them."""


def not_found(what: str) -> ApiError:
    """404 ``<what> not found``."""
    return ApiError(f"{what} not found", 404)


# --- JSON bodies -------------------------------------------------------------------------------


def decode_object(raw: bytes) -> dict[str, Any]:
    """A JSON object body, or 400."""
    value = decode_body(raw)
    return expect_object(value, "body")


def expect_object(value: Any, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else 400 naming ``where``."""
    if not isinstance(value, dict):
        raise bad_body(f"{where}: expected a JSON object, got {json_type(value)}")
    return value


def get_str(body: Mapping[str, Any], key: str, where: str = "") -> str | None:
    """``body[key]`` as a string, None when absent or null; 400 for another type."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_body(f"{where}{key}: expected a string, got {json_type(value)}")
    return value


def get_number(body: Mapping[str, Any], key: str, where: str = "") -> float | None:
    """``body[key]`` as a finite number, None when absent or null; 400 otherwise."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_body(f"{where}{key}: expected a number, got {json_type(value)}")
    return float(value)


def get_ttl(body: Mapping[str, Any]) -> float | None:
    """``gameday_ttl_s``: seconds (> 0), or None when absent or null."""
    ttl = get_number(body, TTL_KEY)
    if ttl is not None and ttl <= 0:
        raise bad_body(f"{TTL_KEY}: expected a positive number of seconds, got {ttl:g}")
    return ttl


# --- relays ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelaySpec:
    """What a relay is: its name, where batches come from and go to, and their format."""

    name: str
    upstream: str
    landing: str
    format: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "upstream": self.upstream,
            "landing": self.landing,
            "format": self.format,
        }


def parse_relay(body: Mapping[str, Any]) -> RelaySpec:
    """A relay from a create body; 400 for a missing field (name, upstream, landing, in that
    order), a value of the wrong type, an unknown format, or upstream equal to landing."""
    fields = {key: get_str(body, key) for key in ("name", "upstream", "landing", "format")}
    for key in ("name", "upstream", "landing"):
        if not fields[key]:
            raise missing_field(key)
    fmt = fields["format"]
    if fmt is not None and fmt not in FORMATS:
        raise bad_body(f"format: expected one of {', '.join(FORMATS)} or null, got {fmt!r}")
    spec = RelaySpec(str(fields["name"]), str(fields["upstream"]), str(fields["landing"]), fmt)
    if spec.upstream.rstrip("/") == spec.landing.rstrip("/"):
        raise bad_body("upstream and landing must be different locations")
    return spec


# --- faults ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultSpec:
    """A fault as created: name, type, every attribute of its type (defaults filled in), TTL."""

    name: str
    type: str
    attributes: dict[str, Attr]
    ttl_s: float | None = None

    @property
    def holds(self) -> bool:
        """True for faults that hold batches back (stale, delay)."""
        return self.type in HOLDING_TYPES

    def text(self, key: str) -> str | None:
        value = self.attributes.get(key)
        return value if isinstance(value, str) else None

    def number(self, key: str) -> float:
        value = self.attributes.get(key)
        return float(value) if isinstance(value, int | float) else 0.0

    def integer(self, key: str) -> int:
        value = self.attributes.get(key)
        return int(value) if isinstance(value, int | float) else 0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "attributes": dict(self.attributes)}


def parse_fault(body: Mapping[str, Any]) -> FaultSpec:
    """A fault from a create body; 400 ``invalid fault type`` or ``bad request body: ...``.

    The name defaults to the type.
    """
    name = get_str(body, "name")
    kind = get_str(body, "type") or ""
    ttl = get_ttl(body)
    given = body.get("attributes")
    given = {} if given is None else expect_object(given, "attributes")
    if kind not in FAULT_TYPES:
        raise ApiError("invalid fault type", 400)
    specs = {**FAULT_TYPES[kind], **_COMMON}
    attributes = {key: _attribute(given, key, spec, kind) for key, spec in specs.items()}
    return FaultSpec(name or kind, kind, attributes, ttl)


def _attribute(given: Mapping[str, Any], key: str, spec: AttrSpec, kind: str) -> Attr:
    where = "attributes."
    if given.get(key) is None:
        if spec.required:
            raise bad_body(f"{where}{key}: required for a {kind} fault")
        return spec.default
    if spec.kind == "str":
        return get_str(given, key, where)
    if spec.kind == "mode":
        mode = get_str(given, key, where)
        if mode not in CORRUPT_MODES:
            raise bad_body(f"{where}{key}: expected one of {', '.join(CORRUPT_MODES)}")
        return mode
    if spec.kind == "int":
        return _non_negative_int(given[key], f"{where}{key}")
    return _bounded_number(given, key, spec.kind, where)


def _non_negative_int(value: Any, where: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_body(f"{where}: expected a non-negative integer, got {value!r}")
    return value


def _bounded_number(given: Mapping[str, Any], key: str, kind: str, where: str) -> float:
    number = get_number(given, key, where)
    assert number is not None  # null was handled by the caller
    if kind == "fraction" and not 0.0 <= number <= 1.0:
        raise bad_body(f"{where}{key}: expected a fraction between 0 and 1, got {number:g}")
    if kind == "seconds" and number < 0:
        raise bad_body(f"{where}{key}: expected seconds >= 0, got {number:g}")
    return number
