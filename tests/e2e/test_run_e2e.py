"""``gameday run`` end to end on the real stack: verdicts, exit codes, evidence, adaptivity.

Each run attaches to the session's stack through its endpoints file (``--env``), exactly as a
user attaches to a stack started with ``gameday stack up``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from fixtures.cli import RunJson, RunOnStack

from gameday.stack.launcher import Stack
from gameday.telemetry.prometheus import PrometheusClient
from gameday.testing import wait_firing, wait_resolved

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
TEST_SCENARIOS = ROOT / "tests" / "scenarios"


def _results(path: Path) -> list[RunJson]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _checks(result: RunJson) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in result["checks"]}


def test_wrong_expectations_fail_each_with_its_reason(run_on_stack: RunOnStack) -> None:
    proc, result = run_on_stack(TEST_SCENARIOS / "mutants.yaml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert result["verdict"] == "fail"
    checks = _checks(result)
    assert not any(c["passed"] for c in checks.values())
    wrong = checks["FeaturesStale fires within 15 s"]
    assert "did not fire within 15 s" in wrong["detail"]
    tight = checks["ModelLatencyHigh fires within 2 s"]
    assert "cannot fire within 2 s of any fault" in tight["detail"]
    assert "for 3 s held over 1 s evaluations = 3 s" in tight["detail"]
    culprit = next(c for c in checks.values() if c["kind"] == "root_cause")
    assert (
        "blame feature-store/" in culprit["detail"] or "blame feature-store " in culprit["detail"]
    )
    assert "pipeline in 0%" in culprit["detail"]
    loud = checks["ModelLatencyHigh stays silent"]
    assert "fired at +" in loud["detail"] and "must stay silent" in loud["detail"]
    route = checks["ModelLatencyHigh fires within 30 s, notifying data-oncall"]
    assert "routed to ml-oncall, not data-oncall" in route["detail"]


def test_adaptive_phases_end_long_windows_early(run_on_stack: RunOnStack) -> None:
    proc, result = run_on_stack(TEST_SCENARIOS / "adaptive-latency.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    configured = 10 + 120 + 60
    assert result["duration_s"] < 0.4 * configured, result["phases"]
    assert "every fault check decided" in proc.stderr


def test_control_run_fails_when_an_alert_fires(
    stack: Stack, endpoints_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gameday",
            "run",
            str(TEST_SCENARIOS / "control-short.yaml"),
            "--env",
            str(endpoints_file),
            "--json",
            str(out),
            "--workdir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # provoke once the baseline is over (bounded by the run itself)
            seen.append(line)
            if "fault: up to" in line:
                break
        landing = Path(stack.endpoints["landing"])
        (landing / "zz-garbage.csv").write_bytes(b"this is not,a batch\n\x00\x01\n")
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    stdout += "".join(seen) + (stderr or "")
    assert proc.returncode == 1, stdout
    checks = _checks(json.loads(out.read_text()))
    assert not checks["BatchValidationFailed stays silent"]["passed"]
    assert checks["ServiceDown stays silent"]["passed"]
    wait_resolved(PrometheusClient(stack.endpoints["prometheus"]), "BatchValidationFailed", 60)


def test_a_named_alert_firing_breaks_the_baseline_and_nothing_is_injected(
    stack: Stack, run_on_stack: RunOnStack
) -> None:
    """A scenario naming ServiceDown cannot start while it fires (whatever its labels)."""
    prometheus = PrometheusClient(stack.endpoints["prometheus"])
    stack.pause("drift-monitor")
    try:
        wait_firing(prometheus, "ServiceDown", 30, service="drift-monitor")
        named = TEST_SCENARIOS / "named-servicedown.yaml"
        proc, result = run_on_stack(named, "--settle", "3")
        proxies = requests.get(f"{stack.endpoints['toxiproxy']}/proxies", timeout=5).json()
    finally:
        stack.resume("drift-monitor")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert result["verdict"] == "aborted"
    assert "ServiceDown" in result["reason"] and "nothing was injected" in result["reason"]
    assert result["faults"][0]["applied_at"] is None
    assert all(p["toxics"] == [] for p in proxies.values())
    wait_resolved(prometheus, "ServiceDown", 60)


def test_a_load_that_dies_under_the_fault_aborts_the_run_and_reverts(
    stack: Stack, run_on_stack: RunOnStack
) -> None:
    """Serving alerts evaluate to nothing without load: silence then proves nothing."""
    proc, result = run_on_stack(TEST_SCENARIOS / "load-dies.yaml")
    proxies = requests.get(f"{stack.endpoints['toxiproxy']}/proxies", timeout=5).json()
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert result["verdict"] == "aborted"
    assert "the load broke in fault: Locust" in result["reason"], result["reason"]
    assert result["faults"][0]["reverted_at"] is not None
    assert all(p["toxics"] == [] for p in proxies.values())


def test_a_fault_that_never_takes_effect_ends_inconclusive(run_on_stack: RunOnStack) -> None:
    proc, result = run_on_stack(TEST_SCENARIOS / "no-effect.yaml")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert result["verdict"] == "inconclusive"
    assert "data.null_column@upstream" in result["reason"]
    nulls = result["faults"][1]
    assert nulls["effect"]["took_effect"] is False
    assert result["faults"][0]["effect"]["took_effect"] is True  # the upstream did stop
