"""The API's data: toxic types and attributes, request-body parsing, and API errors.

Everything here is pure (no sockets, no event loop) so the HTTP layer and the data plane share
one definition of what a toxic is. Request bodies follow toxiproxy's JSON rules: unknown keys
are ignored, ``null`` means "default / current value", and a value of the wrong type is a
400 ``bad request body: ...``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from gameday.servers.api import ApiError, bad_body, decode_body, json_type

VERSION = "2.12.0"
"""The toxiproxy version whose API the embedded server speaks."""

TTL_KEY = "gameday_ttl_s"
"""gameday's extension key: a fault carrying it removes itself after that many seconds."""

STREAMS = ("upstream", "downstream")

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A decoded JSON value (a toxic attribute, or a document an HTTP payload toxic edits)."""

TOXIC_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
    "noop": (),
}
"""toxiproxy's toxic types and their attributes (all integers, default 0). gameday's HTTP
payload toxics, whose attributes are typed, live in ``http_toxics.py``."""


PROXY_NOT_FOUND = ("proxy not found", 404)
PROXY_EXISTS = ("proxy already exists", 409)
INVALID_STREAM = ("stream was invalid, can be either upstream or downstream", 400)
INVALID_TOXIC_TYPE = ("invalid toxic type", 400)
TOXIC_EXISTS = ("toxic already exists", 409)
TOXIC_NOT_FOUND = ("toxic not found", 404)


def error(kind: tuple[str, int]) -> ApiError:
    """The ``ApiError`` for one of the module's ``(message, status)`` constants."""
    return ApiError(*kind)


# --- JSON bodies -------------------------------------------------------------------------------


def decode_object(raw: bytes) -> dict[str, Any]:
    """A JSON object body, or 400."""
    value = decode_body(raw)
    if not isinstance(value, dict):
        raise bad_body(f"expected a JSON object, got {json_type(value)}")
    return value


def get_str(body: dict[str, Any], key: str, default: str) -> str:
    """``body[key]`` as a string; ``default`` when absent or null; 400 for another type."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_body(f"{key}: expected a string, got {json_type(value)}")
    return value


def get_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    """``body[key]`` as a boolean; ``default`` when absent or null; 400 for another type."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_body(f"{key}: expected a boolean, got {json_type(value)}")
    return value


def get_number(body: dict[str, Any], key: str, default: float) -> float:
    """``body[key]`` as a finite number; ``default`` when absent or null; 400 otherwise."""
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_body(f"{key}: expected a number, got {json_type(value)}")
    return float(value)


def get_ttl(body: dict[str, Any]) -> float | None:
    """gameday's ``gameday_ttl_s`` extension: seconds (> 0) or None when absent or null."""
    value = body.get(TTL_KEY)
    if value is None:
        return None
    ttl = get_number(body, TTL_KEY, 0.0)
    if ttl <= 0:
        raise bad_body(f"{TTL_KEY}: expected a positive number of seconds, got {value!r}")
    return ttl


def _get_int(attrs: dict[str, Any], key: str, default: int) -> int:
    value = attrs.get(key)
    if value is None:
        return default
    # Go decodes attributes into int64 fields: 1.5 and even 1.0 are rejected there too.
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_body(f"attributes.{key}: expected an integer, got {value!r}")
    return value


# --- toxics --------------------------------------------------------------------------------------


@dataclass
class Toxic:
    """One toxic of a proxy as the API shows it (the data plane turns it into stages)."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, JsonValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True)
class ToxicFields:
    """The type-checked common fields of a create body; ``stream`` is valid (or defaulted)."""

    name: str
    kind: str
    stream: str
    stream_given: bool  # the body named a stream (not absent, not null)
    toxicity: float


def toxic_fields(body: dict[str, Any]) -> ToxicFields:
    """The common fields of a create body, checked in toxiproxy's order: field types (400 bad
    body), then the stream (400)."""
    name = get_str(body, "name", "")
    kind = get_str(body, "type", "")
    stream = get_str(body, "stream", "downstream").lower()
    toxicity = get_number(body, "toxicity", 1.0)
    attributes_object(body)
    if stream not in STREAMS:
        raise error(INVALID_STREAM)
    return ToxicFields(name, kind, stream, body.get("stream") is not None, toxicity)


def classic_toxic(fields: ToxicFields) -> Toxic:
    """The toxiproxy toxic ``fields`` describe, with default attributes; 400 ``invalid toxic
    type`` for a type toxiproxy does not know. The caller then checks the name for
    duplicates (409) before calling :func:`merge_attributes`."""
    kind, stream = fields.kind, fields.stream
    if kind not in TOXIC_ATTRIBUTES:
        raise error(INVALID_TOXIC_TYPE)
    defaults: dict[str, JsonValue] = dict.fromkeys(TOXIC_ATTRIBUTES[kind], 0)
    return Toxic(fields.name or f"{kind}_{stream}", kind, stream, fields.toxicity, defaults)


def attributes_object(body: dict[str, Any]) -> dict[str, Any]:
    """The body's ``attributes`` object ({} when absent or null); 400 if not an object."""
    attrs = body.get("attributes")
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise bad_body(f"attributes: expected an object, got {json_type(attrs)}")
    return attrs


def merge_attributes(toxic: Toxic, body: dict[str, Any]) -> dict[str, JsonValue]:
    """``toxic``'s attributes overlaid with the body's ``attributes`` (null keeps a value)."""
    given = attributes_object(body)
    # A classic toxic's attributes are all integers.
    current = cast(dict[str, int], toxic.attributes)
    return {key: _get_int(given, key, value) for key, value in current.items()}


def split_host_port(address: str) -> tuple[str, int]:
    """``"host:port"`` (IPv6 as ``"[::1]:port"``) as ``(host, port)``; ValueError if malformed."""
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError(f"missing port in address {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"invalid port in address {address!r}")
    return host, number


def join_host_port(host: str, port: int) -> str:
    """The inverse of :func:`split_host_port`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
