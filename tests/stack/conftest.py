"""Fixtures over the session's reference stack (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.run.load import Load
from gameday.stack.launcher import Stack
from gameday.telemetry.prometheus import PrometheusClient


@pytest.fixture
def prometheus(stack: Stack) -> PrometheusClient:
    return PrometheusClient(stack.endpoints["prometheus"])


@pytest.fixture
def load(stack: Stack, tmp_path: Path) -> Iterator[Load]:
    """Steady predict load (20 users, ~200 req/s) for the length of one test (at most 5 min)."""
    running = Load(
        stack.endpoints["model_server"],
        users=20,
        spawn_rate=20,
        run_time_s=300,
        workdir=tmp_path / "load",
    )
    running.start()
    yield running
    running.stop()
