"""HTTP calls from injectors to control endpoints: timeouts always, failures always loud."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from gameday.errors import InjectionError
from gameday.injectors.base import Target

TIMEOUT_S = (3.0, 30.0)  # connect, read (a restart waits for the service to be ready)


def call(method: str, url: str, body: Mapping[str, Any] | None = None, *,
         missing_ok: bool = False) -> dict[str, Any]:  # fmt: skip
    """``method url`` with a JSON body; the JSON answer, or ``InjectionError`` saying why.

    With ``missing_ok`` a 404 is an answer (``{}``): undoing what is already gone is done.
    """
    try:
        reply = requests.request(method, url, json=body, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise InjectionError(f"{method} {url} failed: {exc}") from exc
    if reply.status_code == 404 and missing_ok:
        return {}
    if not reply.ok:
        raise InjectionError(f"{method} {url} answered {reply.status_code}: {reply.text[:300]}")
    try:
        answer = reply.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {"answer": answer}


def setting(target: Target, key: str) -> str:
    """A string setting of the target, or ``InjectionError`` naming what the environment lacks."""
    value = target.settings.get(key)
    if not isinstance(value, str) or not value:
        raise InjectionError(f"target {target.name!r} needs {key!r} in the environment")
    return value.rstrip("/")
