"""What crossed a proxy and what its toxics acted on: gameday's ``GET /proxies/{p}/stats``::

    {"proxy": name, "enabled": bool, "connections": accepted since the proxy was created,
     "bytes": {"upstream": read from clients, "downstream": read from the upstream},
     "toxics": {toxic name: {"chunks": n, "bytes": n, "connections": n}}}

An HTTP payload toxic (``http_json``, ``http_status``) also carries ``"messages"`` (HTTP
messages it saw), ``"changed"`` (messages it changed: edited, replaced or delayed) and
``"passed"`` (messages it let through untouched because they were not JSON, compressed,
too large or malformed; for ``http_status``, malformed only). Messages neither changed nor
passed were left alone: the share did not pick them, or the path matched nothing.

(404 ``proxy not found`` for an unknown proxy). Not part of toxiproxy's API: a real
toxiproxy-server answers 404 there, which clients read as "no stats".

The counts are kept where the data already is, so the data plane pays an integer addition or
two per chunk: each socket counts the bytes it read, folded into its proxy's totals when the
connection ends; each active toxic stage counts the chunks and bytes it received.
"""

from __future__ import annotations

from typing import Any


class ToxicCounters:
    """One toxic's counts over every connection of its proxy, kept while the toxic exists.

    ``chunks`` and ``bytes``: what reached the toxic on connections where its toxicity roll
    passed (it acted on them); ``connections``: how many connections it was active on.
    With ``http`` (an HTTP payload toxic), also ``messages``, ``changed`` and ``passed``.
    """

    __slots__ = ("bytes", "changed", "chunks", "connections", "http", "messages", "passed")

    def __init__(self, http: bool = False) -> None:
        self.chunks = 0
        self.bytes = 0
        self.connections = 0
        self.http = http
        self.messages = 0
        self.changed = 0
        self.passed = 0

    def to_json(self) -> dict[str, int]:
        counts = {"chunks": self.chunks, "bytes": self.bytes, "connections": self.connections}
        if self.http:
            counts.update(messages=self.messages, changed=self.changed, passed=self.passed)
        return counts


def stats_json(
    name: str,
    enabled: bool,
    connections: int,
    carried: tuple[int, int],
    toxics: dict[str, ToxicCounters],
) -> dict[str, Any]:
    """The stats endpoint's body: ``carried`` is (upstream, downstream) bytes read."""
    return {
        "proxy": name,
        "enabled": enabled,
        "connections": connections,
        "bytes": {"upstream": carried[0], "downstream": carried[1]},
        "toxics": {toxic: counters.to_json() for toxic, counters in toxics.items()},
    }
