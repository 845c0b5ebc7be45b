"""Fixtures for telemetry tests: in-thread sinks and OTLP JSON builders (``canned_http`` is in
the root conftest)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.servers.sink.server import RunningSink, SinkOptions, running_sink

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def sink() -> Iterator[RunningSink]:
    """A sink with default options, served from a thread of the test process."""
    with running_sink() as running:
        yield running


@pytest.fixture
def make_sink() -> Iterator[Callable[..., RunningSink]]:
    """Start sinks with custom options; all are stopped after the test."""
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> RunningSink:
            return stack.enter_context(running_sink(SinkOptions(**options)))

        yield start
