"""The batch relay's HTTP API as the data injectors use it (``gameday relay-server``).

Shaped like toxiproxy's: faults live on a relay (``/relays/{name}/faults``), are named after
the fault id so any process can remove them, carry ``gameday_ttl_s`` (the relay reverts them
by itself when it runs out), and a removed fault answers with its evidence: the batches it
changed, held back, released or dropped. Every call has a timeout; 5xx and transport errors
raise :class:`~gameday.errors.InjectionError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from gameday import _procs
from gameday.errors import InjectionError, StackUnavailable
from gameday.injectors.base import Target

TIMEOUT_S = (3.0, 30.0)  # a revert releases held batches before it answers
TTL_KEY = "gameday_ttl_s"


def locate(target: Target) -> tuple[str, str]:
    """The relay server's URL and the relay's name, or ``InjectionError`` saying what is
    missing from the environment."""
    url, name = target.settings.get("relay"), target.settings.get("name")
    if not isinstance(url, str) or not url or not isinstance(name, str) or not name:
        raise InjectionError(
            f"target {target.name!r} needs a relay server (environment key 'relay') and a relay "
            f"name; got {dict(target.settings)!r}"
        )
    return url.rstrip("/"), name


def path(*parts: str) -> str:
    return "".join("/" + quote(p, safe="") for p in parts)


def call(method: str, url: str, body: object = None, *, missing_ok: bool = False) -> Any:
    """``method url``; the JSON answer (``None`` for 204, or 404 with ``missing_ok``)."""
    try:
        reply = requests.request(method, url, json=body, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise InjectionError(f"relay: {method} {url} failed: {exc}") from exc
    if reply.status_code == 404 and missing_ok:
        return None
    if not reply.ok:
        raise InjectionError(f"relay: {method} {url} answered {reply.status_code}: {_why(reply)}")
    return reply.json() if reply.content else None


def _why(reply: requests.Response) -> str:
    try:
        return str(reply.json()["error"])
    except (ValueError, KeyError, TypeError):
        return reply.text.strip()[:200] or reply.reason


def add_fault(target: Target, fault: Mapping[str, Any], ttl_s: float) -> dict[str, Any]:
    """Add ``fault`` (name, type, attributes) to the target's relay, with its TTL."""
    url, relay = locate(target)
    body = {**fault, TTL_KEY: ttl_s} if ttl_s > 0 else dict(fault)
    answer = call("POST", url + path("relays", relay, "faults"), body)
    return dict(answer) if isinstance(answer, dict) else {}


def remove_fault(url: str, relay: str, name: str) -> dict[str, Any] | None:
    """Remove a fault; its final evidence, or ``None`` when it was already gone."""
    answer = call("DELETE", url + path("relays", relay, "faults", name), missing_ok=True)
    if not isinstance(answer, dict):
        return None
    evidence = answer.get("evidence")
    return dict(evidence) if isinstance(evidence, dict) else {}


def honours_ttl(target: Target) -> bool:
    """Whether the relay server says it reverts faults itself when their TTL runs out."""
    try:
        url, _ = locate(target)
        version = call("GET", url + "/version")
    except InjectionError:
        return False
    return isinstance(version, dict) and version.get(TTL_KEY) is True


def state_of(url: str) -> str | None:
    """The relay server's state folder (gameday's ``/version`` says), when it can be asked."""
    try:
        version = call("GET", url + "/version")
    except InjectionError:
        return None
    state = version.get("state") if isinstance(version, dict) else None
    return state if isinstance(state, str) and state else None


def release_held(state: str) -> str:
    """Start a relay server on a dead one's state folder and stop it again: on start it
    delivers every batch the dead one held, in order (and drops what its faults kept).
    Returns what happened, for the revert's evidence; ``InjectionError`` if it cannot."""
    folder = Path(state)
    if not folder.is_dir():
        raise InjectionError(f"the relay server is gone and its state folder {state} too")
    argv = _procs.python_module(
        "gameday.servers.relay", "--host", "127.0.0.1", "--port", "0", "--announce",
        "--state", state,
    )  # fmt: skip
    try:
        child = _procs.start("relay-server (recovery)", argv, timeout=60.0)
    except StackUnavailable as exc:
        raise InjectionError(f"cannot restart a relay server on {state}: {exc}") from exc
    child.stop(timeout=30.0)
    return (
        f"the relay server was gone: one started on its state folder {state} delivered what it held"
    )


def schema(url: str, relay: str) -> dict[str, str] | None:
    """The columns of the last batch the relay saw (``None`` when it has seen none)."""
    answer = call("GET", url + path("relays", relay, "schema"))
    columns = answer.get("columns") if isinstance(answer, dict) else None
    if not isinstance(columns, dict) or not columns:
        return None
    return {str(k): str(v) for k, v in columns.items()}
