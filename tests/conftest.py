"""Session-wide fixtures: one real reference stack shared by every integration test that asks.

Tests that disturb the stack must leave it healthy: faults reverted, alerts resolved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.stack.launcher import Stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The embedded reference stack (Prometheus, Alertmanager, every service), started once."""
    with Stack() as running:
        yield running


@pytest.fixture(scope="session")
def endpoints_file(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The running stack's endpoints as an environment file (``gameday run --env``)."""
    path = tmp_path_factory.mktemp("env") / "endpoints.json"
    path.write_text(json.dumps(stack.endpoints))
    return path


@pytest.fixture
def gameday_cli():  # type: ignore[no-untyped-def]
    """Run the ``gameday`` command in a real subprocess: ``gameday_cli(*args, timeout=...)``."""
    import subprocess
    import sys

    def run(
        *args: str, timeout: float = 600, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gameday", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )

    return run
