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


@pytest.fixture
def run_on_stack(gameday_cli, endpoints_file: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``gameday run SCENARIO --env <session stack>``: returns ``(process, result object)``."""
    import subprocess

    def run(scenario: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:  # type: ignore[type-arg]
        out = tmp_path / f"{scenario.stem}.json"
        proc = gameday_cli(
            "run",
            str(scenario),
            "--env",
            str(endpoints_file),
            "--json",
            str(out),
            "--workdir",
            str(tmp_path),
            *args,
        )
        result = json.loads(out.read_text()) if out.exists() else {}
        return proc, result

    return run
