"""``python -m gameday.servers.toxiproxy``: run the embedded toxiproxy-compatible server."""

from __future__ import annotations

from gameday.servers.toxiproxy.server import main

raise SystemExit(main())
