"""Dotted JSON paths and the edits an ``http_json`` toxic makes at them.

A path is keys separated by dots, each key followed by any number of ``[*]`` (every element
of an array) or ``[N]`` (element N); a path may start with ``[*]`` or ``[N]`` when the
document is an array: ``features.merchant_risk``, ``items[*].score``, ``[*].id``,
``rows[0][*]``. Keys holding a dot or a bracket cannot be named.

An edit acts only where the path leads to something that exists: a missing key, an index
out of range or a key asked of a non-object matches nothing, and ``set`` never creates a
field. Actions: ``null`` (the value becomes null), ``drop`` (the key is removed from its
object, or the element from its array), ``set`` (the value becomes ``value``), ``scale`` and
``offset`` (a number is multiplied by, or added to, ``value``; an integer stays an integer
when the result is whole; anything not a number is left alone), ``type`` (a number becomes
its JSON text: ``12`` → ``"12"``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from gameday.servers.toxiproxy.model import JsonValue

ACTIONS = ("null", "drop", "set", "scale", "offset", "type")
NUMERIC_ACTIONS = ("scale", "offset")

Step = str | int | None
"""One step of a path: an object key, an array index, or None for every element."""

_INDEX = r"\[(?:\*|\d+)\]"
_KEY = r"[^.\[\]]+"
_PATH = re.compile(rf"(?:{_KEY}|{_INDEX})(?:{_INDEX})*(?:\.{_KEY}(?:{_INDEX})*)*")
_TOKEN = re.compile(r"\[(\*|\d+)\]|([^.\[\]]+)")

Slot = tuple[dict[str, JsonValue] | list[JsonValue], str | int]


def parse_path(text: str) -> tuple[Step, ...]:
    """The steps of ``text``; ``ValueError`` if it is not a path."""
    if not _PATH.fullmatch(text):
        raise ValueError("expected keys separated by dots, each optionally followed by [*] or [N]")
    steps: list[Step] = []
    for token in _TOKEN.finditer(text):
        index, key = token.groups()
        if key is not None:
            steps.append(key)
        else:
            steps.append(None if index == "*" else int(index))
    return tuple(steps)


@dataclass(frozen=True)
class Edit:
    """What to do (``action``, with ``value`` for set/scale/offset) where ``path`` leads."""

    path: tuple[Step, ...]
    action: str
    value: JsonValue = None

    def apply(self, doc: JsonValue) -> bool:
        """Edit ``doc`` in place; True if anything in it changed."""
        slots = list(_slots(doc, self.path))
        if self.action == "drop":
            # Backwards, so removing an element leaves the indices still to visit valid.
            for container, key in reversed(slots):
                del container[key]  # type: ignore[arg-type]
            return bool(slots)
        changed = False
        for container, key in slots:
            old = container[key]  # type: ignore[index]
            new = self._new_value(old)
            if new is not old and (type(new) is not type(old) or new != old):
                container[key] = new  # type: ignore[index]
                changed = True
        return changed

    def _new_value(self, old: JsonValue) -> JsonValue:
        if self.action == "null":
            return None
        if self.action == "set":
            return self.value
        if isinstance(old, bool) or not isinstance(old, int | float):
            return old
        if self.action == "type":
            return json.dumps(old)
        return _arithmetic(old, self.action, self.value)


def _arithmetic(old: int | float, action: str, operand: JsonValue) -> int | float:
    assert isinstance(operand, int | float)
    result = old * operand if action == "scale" else old + operand
    if not math.isfinite(result):
        return old  # JSON has no infinity: leave the value rather than break the document
    if isinstance(old, int) and float(result).is_integer():
        return int(result)
    return float(result)


def _slots(node: JsonValue, path: tuple[Step, ...]) -> list[Slot]:
    """Every (container, key) the path leads to, in document order."""
    step, rest = path[0], path[1:]
    found: list[Slot] = []
    for container, key in _children(node, step):
        if rest:
            found += _slots(container[key], rest)  # type: ignore[index]
        else:
            found.append((container, key))
    return found


def _children(node: JsonValue, step: Step) -> list[Slot]:
    if isinstance(step, str):
        return [(node, step)] if isinstance(node, dict) and step in node else []
    if not isinstance(node, list):
        return []
    if step is None:
        return [(node, i) for i in range(len(node))]
    return [(node, step)] if step < len(node) else []


# --- editing JSON text -------------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")

Member = tuple[str, str, JsonValue]  # key, the member's original text, its value


def edit_text(text: str, edit: Edit) -> str | None:
    """``text`` (a JSON document) with ``edit`` applied, or None if nothing changed;
    ``ValueError`` if ``text`` is not JSON.

    What changed is re-encoded compactly (UTF-8 text, no escapes). When the path starts with
    a key of a top-level object, the object's other members keep their original text, so
    editing one field of a large document costs little more than reading it.
    """
    head = edit.path[0]
    members = _members(text) if isinstance(head, str) else None
    if members is None or len({key for key, _, _ in members}) != len(members):
        doc: JsonValue = json.loads(text)
        return _encode(doc) if edit.apply(doc) else None
    obj: dict[str, JsonValue] = {key: value for key, _, value in members}
    if not edit.apply(obj):
        return None
    parts = [
        source if key != head else f"{_encode(key)}:{_encode(obj[key])}"
        for key, source, _ in members
        if key != head or key in obj  # the member is gone if the edit dropped it
    ]
    return "{" + ",".join(parts) + "}"


def _members(text: str) -> list[Member] | None:
    """The members of a top-level object, in order; None if the document is not an object,
    ``ValueError`` if it is not JSON."""
    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        return None
    members: list[Member] = []
    pos = _skip(text, pos + 1)
    if not text.startswith("}", pos):
        pos = _read_members(text, pos, members)
    if _skip(text, _expect(text, pos, "}")) != len(text):
        raise ValueError("extra data after the JSON document")
    return members


def _read_members(text: str, pos: int, members: list[Member]) -> int:
    """Read ``"key": value`` members, comma separated, from ``pos``; the position after."""
    while True:
        start = pos
        _expect(text, pos, '"')
        key, pos = _DECODER.raw_decode(text, pos)  # a string: it starts with a quote
        pos = _skip(text, _expect(text, _skip(text, pos), ":"))
        value, pos = _DECODER.raw_decode(text, pos)
        members.append((key, text[start:pos], value))
        pos = _skip(text, pos)
        if not text.startswith(",", pos):
            return pos
        pos = _skip(text, pos + 1)


def _skip(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match is not None else pos


def _expect(text: str, pos: int, char: str) -> int:
    if not text.startswith(char, pos):
        raise ValueError(f"expected {char!r} at character {pos + 1}")
    return pos + 1


def _encode(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
