"""Every toxic type the server knows, in one place: how a create or update body becomes a
toxic, which counters it keeps and which stage runs it on a connection.

toxiproxy's own types (integer attributes) are defined in ``model.py`` and run by
``stages.py``; gameday's HTTP payload toxics (typed attributes) in ``http_toxics.py`` and
``http_stages.py``. A type neither knows is a 400 ``invalid toxic type``.
"""

from __future__ import annotations

from typing import Any

from gameday.servers.toxiproxy import model, stages
from gameday.servers.toxiproxy.counters import ToxicCounters
from gameday.servers.toxiproxy.http_stages import HTTP_STAGES
from gameday.servers.toxiproxy.http_toxics import (
    is_http_toxic,
    merge_http_attributes,
    new_http_toxic,
)
from gameday.servers.toxiproxy.model import JsonValue, Toxic, get_number, toxic_fields


def parse_new_toxic(body: dict[str, Any]) -> Toxic:
    """A toxic from a create body with default attributes; ``ApiError`` in toxiproxy's order
    (field types, stream, type). The caller checks the name (409), then merges attributes."""
    fields = toxic_fields(body)
    if is_http_toxic(fields.kind):
        return new_http_toxic(fields, body)
    return model.classic_toxic(fields)


def merge_attributes(toxic: Toxic, body: dict[str, Any]) -> dict[str, JsonValue]:
    """``toxic``'s attributes overlaid with the body's ``attributes``; 400 if one is bad."""
    if is_http_toxic(toxic.type):
        return merge_http_attributes(toxic, body)
    return model.merge_attributes(toxic, body)


def updated_toxic(toxic: Toxic, body: dict[str, Any]) -> Toxic:
    """A copy of ``toxic`` with an update body applied (attributes merged, toxicity if given);
    its name, type and stream never change."""
    toxicity = get_number(body, "toxicity", toxic.toxicity)
    attributes = merge_attributes(toxic, body)
    return Toxic(toxic.name, toxic.type, toxic.stream, toxicity, attributes)


def new_counters(kind: str) -> ToxicCounters:
    """Fresh counters for a toxic of type ``kind`` (HTTP toxics count messages too)."""
    return ToxicCounters(http=is_http_toxic(kind))


def make_stage(toxic: Toxic, pipe: stages.PipeHooks, counters: ToxicCounters) -> stages.Stage:
    """The stage running ``toxic`` on one direction of one connection, counting into
    ``counters`` (the toxic's, shared by its stages on every connection)."""
    http = HTTP_STAGES.get(toxic.type)
    if http is not None:
        return http(toxic, pipe, counters)
    return stages.make_stage(toxic, pipe, counters)
