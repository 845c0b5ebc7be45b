"""``python -m gameday.toxiproxy``: run the embedded toxiproxy-compatible server."""

from __future__ import annotations

from gameday.toxiproxy.server import main

raise SystemExit(main())
