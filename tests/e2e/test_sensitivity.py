"""Drift detection is sensitive both ways: a 0.05 sigma shift stays silent (the catalogue's
feature-drift run shows 1 sigma firing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "tiny-drift.yaml"


def test_a_tiny_drift_fires_no_drift_alert(
    gameday_cli, endpoints_file: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out.json"
    proc = gameday_cli(
        "run",
        str(SCENARIO),
        "--env",
        str(endpoints_file),
        "--json",
        str(out),
        "--workdir",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["faults"][0]["evidence"]["batches"], "the drift fault changed no batch"
    assert all(c["passed"] for c in result["checks"])
