"""gameday's embedded servers: the toxiproxy-compatible server and the telemetry sink."""
