"""Stop conditions (``guards:``) on the real stack: a breach reverts at once and aborts."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.safety_harness import Run, toxics

from gameday.stack.launcher import Stack
from gameday.telemetry.prometheus import PrometheusClient
from gameday.testing import wait_resolved, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_breach_reverts_within_two_seconds_and_aborts_with_the_reason(
    stack: Stack, endpoints_file: Path, tmp_path: Path
) -> None:
    """300 ms of feature-store latency breaches ``p95_above_ms: 150``."""
    api = stack.endpoints["toxiproxy"]
    run = Run("guard.yaml", endpoints_file, tmp_path)
    try:
        wait_until(lambda: toxics(api), 60, f"the fault applied\n{run.output}", 0.02)
        breached = run.line_at("guard breached in fault", timeout=30)
        wait_until(lambda: not toxics(api), 5, "the fault reverted", 0.01)
        assert run.finish(60) == 3, run.output
    finally:
        run.stop()
    reverted = run.line_at("fault reverted: network.latency")
    assert reverted - breached < 2.0, run.output
    result = run.result()
    assert result["verdict"] == "aborted"
    assert result["reason"].startswith("guard breached in fault: p95 ")
    assert "over 150 ms" in result["reason"]
    assert result["faults"][0]["reverted_at"] is not None
    wait_resolved(PrometheusClient(stack.endpoints["prometheus"]), "ModelLatencyHigh", 60)


def test_a_guard_already_breached_in_the_baseline_aborts_before_any_fault(
    stack: Stack, endpoints_file: Path, tmp_path: Path
) -> None:
    run = Run("guard-baseline.yaml", endpoints_file, tmp_path)
    try:
        assert run.finish(90) == 3, run.output
    finally:
        run.stop()
    result = run.result()
    assert result["reason"].startswith("guard breached in baseline: p95 ")
    assert result["reason"].endswith("nothing was injected")
    assert result["faults"][0]["applied_at"] is None
    assert toxics(stack.endpoints["toxiproxy"]) == []
