"""What gameday's toxiproxy-shaped HTTP APIs share (the toxiproxy-compatible server and the
batch relay): the error they answer with and how a JSON body is read.

Errors are toxiproxy's: ``{"error": message, "status": N}`` with that HTTP status; a body
is the first JSON value of the request (trailing data is ignored, as Go's decoder does).
"""

from __future__ import annotations

import json
from typing import Any


class ApiError(Exception):
    """An API failure: the message and status the API answers with."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status

    def to_json(self) -> dict[str, Any]:
        """The error body, ``{"error": msg, "status": N}``."""
        return {"error": self.message, "status": self.status}


def bad_body(detail: str) -> ApiError:
    """400 ``bad request body: <detail>``."""
    return ApiError(f"bad request body: {detail}", 400)


def missing_field(name: str) -> ApiError:
    """400 ``missing required field: <name>``."""
    return ApiError(f"missing required field: {name}", 400)


def decode_body(raw: bytes) -> Any:
    """The first JSON value of ``raw``; 400 if there is none."""
    text = raw.decode("utf-8", errors="replace").lstrip()
    if not text:
        raise bad_body("EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError as exc:
        raise bad_body(str(exc)) from exc
    return value


def json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
