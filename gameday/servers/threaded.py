"""Serving one of gameday's servers on a thread of this process (tests, ``gameday run``)."""

from __future__ import annotations

import threading
import time

import uvicorn

from gameday.errors import StackUnavailable


def wait_started(
    server: uvicorn.Server, thread: threading.Thread, timeout: float, what: str
) -> None:
    """Return once uvicorn serves on ``thread``; ``StackUnavailable`` naming ``what`` if the
    thread dies or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise StackUnavailable(f"{what} not serving after {timeout:g} s")
        time.sleep(0.01)  # polling a flag uvicorn sets; bounded by the deadline above
