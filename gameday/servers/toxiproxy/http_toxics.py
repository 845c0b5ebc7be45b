"""gameday's HTTP payload toxics: ``http_json`` and ``http_status``, their typed attributes
and the stream each acts on. Pure (no sockets); ``http_stages.py`` runs them.

``http_json`` {path, action, value, share = 1, direction = "response"} edits one field of
JSON bodies (see ``jsonpath.py`` for paths and actions). ``http_status`` {status, share = 1,
delay_ms = 0} answers a share of requests with ``status`` instead of the server's response
(``status`` 0 keeps the response and only delays it).

Streams: an HTTP toxic acts on one kind of message, so its stream follows from that. For
``http_json``, ``direction: response`` is the downstream stream and ``request`` the upstream
one; a body may give either ``direction`` or ``stream`` (the other is derived: ``stream:
upstream`` alone means requests), or both when they agree; a ``stream`` that contradicts
``direction`` is a 400, as is a later update that would change the direction (a toxic never
changes stream). ``http_status`` acts on responses: ``stream`` may only be ``downstream``.
toxiproxy-python always sends ``stream`` (default ``downstream``), so with it a request-side
toxic is added with ``stream="upstream"``.

Unlike toxiproxy's integer attributes, these are typed: ``path``, ``action`` and
``direction`` strings, ``value`` any JSON value (a number for scale and offset), ``share``
a number from 0 to 1, ``status`` an integer, ``delay_ms`` a number. ``path``, ``action`` and
``status`` have no default: a create body without them is a 400, as is any attribute of the
wrong type or out of range (``bad request body: attributes.X: expected ..., got ...``).
Unknown attribute keys are ignored and ``null`` keeps the current value, as for every toxic.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from gameday.servers.api import ApiError, bad_body
from gameday.servers.toxiproxy.jsonpath import ACTIONS, NUMERIC_ACTIONS, Edit, parse_path
from gameday.servers.toxiproxy.model import JsonValue, Toxic, ToxicFields, attributes_object

HTTP_JSON = "http_json"
HTTP_STATUS = "http_status"

_DEFAULTS: dict[str, dict[str, JsonValue]] = {
    HTTP_JSON: {"path": None, "action": None, "value": None, "share": 1.0, "direction": None},
    HTTP_STATUS: {"status": None, "share": 1.0, "delay_ms": 0},
}
_DIRECTIONS = {"response": "downstream", "request": "upstream"}
_PATH_EXAMPLE = "a dotted JSON path such as features.merchant_risk or items[*].score"


def is_http_toxic(kind: str) -> bool:
    """True for gameday's HTTP payload toxic types."""
    return kind in _DEFAULTS


@dataclass(frozen=True)
class JsonRule:
    """An ``http_json`` toxic's attributes, checked."""

    edit: Edit
    share: float


@dataclass(frozen=True)
class StatusRule:
    """An ``http_status`` toxic's attributes, checked (``status`` 0: keep the status)."""

    status: int
    share: float
    delay_s: float


# --- create and update ---------------------------------------------------------------------


def new_http_toxic(fields: ToxicFields, body: dict[str, Any]) -> Toxic:
    """The HTTP toxic a create body describes, its stream resolved, attributes not yet merged
    (the caller checks the name for duplicates first, then :func:`merge_http_attributes`)."""
    given = attributes_object(body)
    if fields.kind == HTTP_STATUS:
        if fields.stream != "downstream":
            raise bad_body('stream: http_status acts on responses, the "downstream" stream')
        stream = "downstream"
    else:
        stream = _json_stream(fields, given.get("direction"))
    attributes = dict(_DEFAULTS[fields.kind])
    if fields.kind == HTTP_JSON:
        attributes["direction"] = "request" if stream == "upstream" else "response"
    name = fields.name or f"{fields.kind}_{stream}"
    return Toxic(name, fields.kind, stream, fields.toxicity, attributes)


def _json_stream(fields: ToxicFields, direction: object) -> str:
    if direction is None:
        return fields.stream
    derived = _DIRECTIONS.get(direction) if isinstance(direction, str) else None
    if derived is None:
        raise _bad_direction(direction)
    if fields.stream_given and fields.stream != derived:
        raise bad_body(
            f"attributes.direction: {_j(direction)} acts on the {derived} stream, but stream is"
            f' "{fields.stream}"; send stream "{derived}" or leave stream out'
        )
    return derived


def merge_http_attributes(toxic: Toxic, body: dict[str, Any]) -> dict[str, JsonValue]:
    """``toxic``'s attributes overlaid with the body's (null keeps a value), checked whole."""
    given = attributes_object(body)
    merged = {key: current if given.get(key) is None else given[key]
              for key, current in toxic.attributes.items()}  # fmt: skip
    if toxic.type == HTTP_JSON:
        json_rule(merged)
        if _DIRECTIONS[str(merged["direction"])] != toxic.stream:
            raise bad_body(
                f"attributes.direction: this toxic acts on the {toxic.stream} stream and cannot"
                " change direction; delete it and add another"
            )
    else:
        status_rule(merged)
    return merged


# --- checked attributes ----------------------------------------------------------------------


def json_rule(attrs: dict[str, JsonValue]) -> JsonRule:
    """The checked rule of ``http_json`` attributes; ``ApiError`` 400 naming a bad one."""
    path = attrs.get("path")
    if not isinstance(path, str):
        raise bad_body(f"attributes.path: expected {_PATH_EXAMPLE}, got {_j(path)}")
    try:
        steps = parse_path(path)
    except ValueError as exc:
        raise bad_body(f"attributes.path: {exc} ({_PATH_EXAMPLE}), got {_j(path)}") from None
    action = attrs.get("action")
    if action not in ACTIONS:
        raise bad_body(f"attributes.action: expected one of {', '.join(ACTIONS)}, got {_j(action)}")
    assert isinstance(action, str)
    value = attrs.get("value")
    if action in NUMERIC_ACTIONS and _number(value) is None:
        raise bad_body(f"attributes.value: action {action} needs a number, got {_j(value)}")
    direction = attrs.get("direction")
    if direction not in _DIRECTIONS:
        raise _bad_direction(direction)
    return JsonRule(Edit(steps, action, value), _share(attrs))


def status_rule(attrs: dict[str, JsonValue]) -> StatusRule:
    """The checked rule of ``http_status`` attributes; ``ApiError`` 400 naming a bad one."""
    status = attrs.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not _known_status(status):
        raise bad_body(
            "attributes.status: expected an HTTP status from 400 to 599, or 0 to keep the"
            f" status and only delay, got {_j(status)}"
        )
    delay = _number(attrs.get("delay_ms"))
    if delay is None or delay < 0:
        got = _j(attrs.get("delay_ms"))
        raise bad_body(f"attributes.delay_ms: expected milliseconds >= 0, got {got}")
    return StatusRule(status, _share(attrs), delay / 1000.0)


def _bad_direction(direction: object) -> ApiError:
    return bad_body(f'attributes.direction: expected "response" or "request", got {_j(direction)}')


def _known_status(status: int) -> bool:
    return status == 0 or 400 <= status <= 599


def _share(attrs: dict[str, JsonValue]) -> float:
    share = _number(attrs.get("share"))
    if share is None or not 0.0 <= share <= 1.0:
        got = _j(attrs.get("share"))
        raise bad_body(f"attributes.share: expected a number from 0 to 1, got {got}")
    return share


def _number(value: object) -> float | None:
    """``value`` as a float if it is a finite JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _j(value: object) -> str:
    """``value`` as JSON text, the way the client wrote it."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
