"""toxiproxy's HTTP API as the network injectors use it (a real server or gameday's own).

Why ``requests`` rather than toxiproxy-python: that client keeps the server's host and port in
class attributes (one server per process, unsafe across threads), sets no request timeouts (a
hung server would hang the run), raises only on 400/404/409 (a 500 would pass as success),
and cannot send extra keys such as the TTL. The tests check toxiproxy-python itself against
the embedded server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn
from urllib.parse import quote

import requests

from gameday.errors import InjectionError
from gameday.injectors.base import Target

TTL_KEY = "gameday_ttl_s"  # gameday's servers expire a fault themselves; toxiproxy ignores it

_TIMEOUT_S = (3.0, 10.0)  # connect, read
# Counters are evidence, not the fault: reading them must not hold up a revert for long.
_STATS_TIMEOUT_S = (1.0, 3.0)
NO_COUNTERS = "target keeps no counters"

UndoCall = tuple[str, str, Mapping[str, Any] | None]  # (API URL, "METHOD path", body)


class Server:
    """toxiproxy's API on one server: timeouts on every call, transport errors and 5xx raised."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> requests.Response:
        try:
            reply = requests.request(method, self.url + path, json=body, timeout=_TIMEOUT_S)
        except requests.RequestException as exc:
            raise InjectionError(f"toxiproxy {self.url}: {method} {path} failed: {exc}") from exc
        if reply.status_code >= 500:
            raise InjectionError(self.describe(method, path, reply))
        return reply

    def describe(self, method: str, path: str, reply: requests.Response) -> str:
        return (
            f"toxiproxy {self.url}: {method} {path} answered {reply.status_code}: {reason(reply)}"
        )


def reason(reply: requests.Response) -> str:
    """The error message of a toxiproxy answer (its JSON ``error``, else the text)."""
    try:
        return str(reply.json()["error"])
    except (ValueError, KeyError, TypeError):
        return reply.text.strip()[:200] or reply.reason


def locate(target: Target) -> tuple[list[str], str]:
    """The target's API URLs and proxy name, or ``InjectionError`` saying what is missing."""
    settings = target.settings
    given = settings.get("toxiproxy")
    urls = [given] if isinstance(given, str) else given
    proxy = settings.get("proxy")
    if (
        not isinstance(urls, list)
        or not urls
        or not all(isinstance(u, str) for u in urls)
        or not isinstance(proxy, str)
        or not proxy
    ):
        raise InjectionError(
            f"target {target.name!r}: settings need 'toxiproxy' (a list of API URLs) and "
            f"'proxy' (a proxy name), got {dict(settings)!r}"
        )
    return [str(u) for u in urls], proxy


def path(*parts: str) -> str:
    """An API path from segments, each percent-encoded (names may hold any character)."""
    return "".join("/" + quote(p, safe="") for p in parts)


def with_ttl(body: dict[str, Any], ttl_s: float) -> dict[str, Any]:
    return {**body, TTL_KEY: ttl_s} if ttl_s > 0 else body


def undo_all(undo: list[UndoCall]) -> list[str]:
    """Run undo calls; 404 counts as done. Returns the failures."""
    failures = []
    for url, call, body in undo:
        method, where = call.split(" ", 1)
        try:
            reply = Server(url).call(method, where, body)
        except InjectionError as exc:
            failures.append(str(exc))
            continue
        if not reply.ok and reply.status_code != 404:
            failures.append(Server(url).describe(method, where, reply))
    return failures


def add_toxic(urls: list[str], proxy: str, toxic: dict[str, Any], ttl_s: float) -> None:
    """Add ``toxic`` (TTL attached) to ``proxy`` on every server; on any failure, remove it
    from the servers that took it and raise. A server that does not know the toxic's type
    (a plain Go toxiproxy asked for a payload toxic) is named as such."""
    toxics = path("proxies", proxy, "toxics")
    done: list[UndoCall] = []
    for url in urls:
        server = Server(url)
        try:
            reply = server.call("POST", toxics, with_ttl(toxic, ttl_s))
            if reply.status_code == 400 and "toxic type" in reason(reply):
                raise InjectionError(
                    f"toxiproxy {url} does not know the toxic {toxic['type']!r}: this fault "
                    "needs gameday's toxiproxy-compatible server (`gameday toxiproxy-server`) "
                    "on this link"
                )
            if not reply.ok:
                raise InjectionError(server.describe("POST", toxics, reply))
        except InjectionError as exc:
            raise_apply_failure(exc, undo_all(done))
        done.append((url, "DELETE " + toxics + path(toxic["name"]), None))


def raise_apply_failure(exc: InjectionError, rollback_failures: list[str]) -> NoReturn:
    if rollback_failures:
        detail = "; ".join(rollback_failures)
        raise InjectionError(
            f"{exc}; undoing it on the other servers also failed: {detail}"
        ) from exc
    raise exc


def servers_honour_ttl(target: Target) -> bool:
    """Whether every toxiproxy API of ``target`` confirms the TTL extension on ``GET /version``.

    gameday's embedded server answers ``{"version": ..., "gameday_ttl_s": true}``; a real
    toxiproxy-server ignores the key (and does not say so), as does one that cannot be asked.
    """
    try:
        urls, _ = locate(target)
    except InjectionError:
        return False
    return all(_honours_ttl(url) for url in urls)


def _honours_ttl(url: str) -> bool:
    try:
        reply = requests.get(url.rstrip("/") + "/version", timeout=(1.0, 2.0))
        return reply.ok and reply.json().get(TTL_KEY) is True
    except (requests.RequestException, ValueError, AttributeError):
        return False


def read_stats(url: str, proxy: str) -> dict[str, Any]:
    """The proxy's counters on one server (gameday's ``GET /proxies/{p}/stats``), as evidence:
    ``{"toxiproxy": url, "enabled", "bytes": {...}, "toxics": {...}}``, or
    ``{"toxiproxy": url, "unknown": why}`` when the server cannot say. Never raises: counters
    are evidence of the fault, not part of it."""
    where = Server(url).url + path("proxies", proxy, "stats")
    try:
        reply = requests.get(where, timeout=_STATS_TIMEOUT_S)
        stats = reply.json() if reply.ok else None
    except (requests.RequestException, ValueError) as exc:
        return {"toxiproxy": url, "unknown": f"counters unreadable: {exc}"}
    if reply.status_code == 404:
        # A real toxiproxy has no such endpoint; gameday's answers 404 for a missing proxy.
        missing = reason(reply) == "proxy not found"
        return {"toxiproxy": url, "unknown": f"no proxy {proxy!r}" if missing else NO_COUNTERS}
    if not isinstance(stats, dict) or not isinstance(stats.get("bytes"), dict):
        return {"toxiproxy": url, "unknown": f"counters unreadable: HTTP {reply.status_code}"}
    return {"toxiproxy": url, **{k: stats.get(k) for k in ("enabled", "bytes", "toxics")}}
