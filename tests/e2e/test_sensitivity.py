"""Drift detection is sensitive both ways: a 0.05 sigma shift stays silent (the catalogue's
feature-drift run shows 1 sigma firing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.cli import RunOnStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "tiny-drift.yaml"


def test_a_tiny_drift_fires_no_drift_alert(run_on_stack: RunOnStack) -> None:
    proc, result = run_on_stack(SCENARIO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["faults"][0]["evidence"]["batches"], "the drift fault changed no batch"
    assert all(c["passed"] for c in result["checks"])
