"""``python -m gameday.servers.relay``: run the batch relay server."""

from __future__ import annotations

from gameday.servers.relay.server import main

raise SystemExit(main())
