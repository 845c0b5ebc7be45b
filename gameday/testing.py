"""Helpers for tests of game days and of stacks, ours and users' (like OTel's in-memory exporter).

Everything waits by polling with a deadline, never by a bare sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from gameday.telemetry.prometheus import PrometheusAlert, PrometheusClient

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not hold within its deadline (an assertion failure in tests)."""


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy; return it, or raise ``WaitTimeout``."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{what}: not within {timeout:g} s (last: {last!r})")
        time.sleep(interval)
        last = check()
    return last


def active_alerts(prometheus: PrometheusClient, name: str | None = None) -> list[PrometheusAlert]:
    """Alerts pending or firing now, optionally only those called ``name``."""
    return [a for a in prometheus.alerts() if name is None or a.name == name]


def wait_firing(
    prometheus: PrometheusClient, name: str, timeout: float, **labels: str
) -> PrometheusAlert:
    """Wait until alert ``name`` (with these labels) is firing; return that instance."""

    def firing() -> PrometheusAlert | None:
        for alert in active_alerts(prometheus, name):
            if alert.state == "firing" and all(alert.labels.get(k) == v for k, v in labels.items()):
                return alert
        return None

    found = wait_until(firing, timeout, f"alert {name} firing")
    assert found is not None  # wait_until returns only a truthy answer
    return found


def wait_resolved(prometheus: PrometheusClient, name: str, timeout: float) -> None:
    """Wait until no instance of alert ``name`` is pending or firing."""
    wait_until(lambda: not active_alerts(prometheus, name), timeout, f"alert {name} resolved")
