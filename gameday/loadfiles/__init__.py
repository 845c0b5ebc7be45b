"""Locustfiles that gameday passes to Locust (loaded by Locust's subprocess, never imported here).

They must not import ``requests``, ``urllib3`` or ``toxiproxy`` before ``locust``: Locust
monkey-patches the standard library with gevent on import (FACTS.md).
"""
