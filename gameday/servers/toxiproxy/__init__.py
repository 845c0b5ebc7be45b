"""gameday's embedded toxiproxy-compatible server (toxiproxy 2.x HTTP API and toxics).

Start it as a process with
``python -m gameday.servers.toxiproxy [--host H] [--port P] [--announce]``
(or ``gameday toxiproxy-server``), or in-process for tests with :func:`running_server`.
Besides toxiproxy's API it honours ``"gameday_ttl_s"`` in toxic and proxy bodies: a toxic
with a TTL removes itself, and a proxy disabled with a TTL re-enables itself, when it expires.
``GET /version`` says so (``"gameday_ttl_s": true``), which a real toxiproxy-server does not.
``GET /proxies/{name}/stats`` (gameday's too; a real toxiproxy answers 404) shows what crossed
a proxy and what each of its toxics acted on, so an injector can tell whether a fault took
effect. Two more toxic types act on HTTP/1.1 traffic (a real toxiproxy-server refuses them
with 400 ``invalid toxic type``): ``http_json`` edits a field of JSON bodies and
``http_status`` answers with an error status or delays responses (``http_toxics.py``).
"""

from __future__ import annotations

from gameday.servers.toxiproxy.model import TTL_KEY, VERSION
from gameday.servers.toxiproxy.server import RunningServer, ToxiproxyServer, main, running_server

__all__ = ["TTL_KEY", "VERSION", "RunningServer", "ToxiproxyServer", "main", "running_server"]
