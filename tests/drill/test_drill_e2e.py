"""``gameday drill`` end to end on the shared stack: answers piped, and in a real terminal.

Each drill attaches to the session's stack through its endpoints file (``--env``) and plays
a short scenario of its own (baseline 5 s, an alert firing within seconds of the fault).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from fixtures.drill_harness import HERE, LATENCY, PipedDrill, data_faults, toxics

from gameday.stack.launcher import Stack
from gameday.telemetry.prometheus import PrometheusClient
from gameday.testing import active_alerts, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NULLS = HERE / "scenarios" / "nulls.yaml"
PAGE_TIMEOUT_S = 200  # settle (up to --settle) + baseline + the alert firing
SETTLE = ("--settle", "120")  # a burn-rate alert of an earlier test may flap for a while
SECRETS = ("network.latency", "latency_ms", "drill-latency", "null_column", "drill-nulls")


@pytest.fixture
def healthy_stack(stack: Stack) -> Iterator[Stack]:
    """The shared stack, quiet before the drill (an earlier test's alerts may still be
    resolving) and left healthy after it: every alert resolved."""
    prometheus = PrometheusClient(stack.endpoints["prometheus"])
    wait_until(lambda: not active_alerts(prometheus), 180, "a quiet stack before the drill", 1)
    yield stack
    wait_until(lambda: not active_alerts(prometheus), 90, "every alert resolved after the drill")


def test_piped_answers_score_the_drill_and_the_postmortem_holds_the_real_timeline(
    healthy_stack: Stack, endpoints_file: Path, tmp_path: Path
) -> None:
    drill = PipedDrill(
        LATENCY, endpoints_file, tmp_path, "--seed", "3", "--hint-after", "600", *SETTLE
    )
    try:
        drill.expect("ack> ", PAGE_TIMEOUT_S)
        assert toxics(healthy_stack.endpoints["toxiproxy"]), "the fault is on while paged"
        drill.answer("ack")
        for component, family in (("pipeline", "data"), ("feature-store link", "network")):
            drill.expect("component> ")
            drill.answer(component)
            drill.expect("family> ")
            drill.answer(family)
        drill.expect("Correct: feature-store link (network path to feature-store), family network")
        assert drill.finish() == 0, drill.output
    finally:
        drill.stop()
    assert toxics(healthy_stack.endpoints["toxiproxy"]) == []
    shown_before_reveal = drill.screen.split("THE ANSWER")[0]
    assert not [s for s in SECRETS if s in shown_before_reveal], "the trainee saw the fault"
    assert "FIRING    ModelLatencyHigh" in shown_before_reveal

    outcome = json.loads(drill.out["out.json"].read_text())
    assert (outcome["scenario"], outcome["correct"], outcome["wrong"]) == ("drill-latency", True, 1)
    assert [g["component"] for g in outcome["given"]] == ["pipeline", "feature-store-link"]
    assert 0 < outcome["time_to_acknowledge_s"] <= outcome["time_to_diagnosis_s"]
    assert outcome["paged_by"] == "ModelLatencyHigh"

    postmortem = drill.out["pm.md"].read_text()
    for event in (
        "fault applied: network.latency on feature-store",
        "alert pending: ModelLatencyHigh",
        "alert firing: ModelLatencyHigh",
        "alert notified: ModelLatencyHigh to ml-oncall",
        "| acknowledged |",
        "diagnosed: feature-store link (network path to feature-store), family network",
        "fault reverted",
        "recovered",
    ):
        assert event in postmortem, event
    rows = [line for line in postmortem.splitlines() if line.startswith("| ") and " s |" in line]
    order = [
        next(i for i, r in enumerate(rows) if word in r)
        for word in ("fault applied", "alert firing", "acknowledged", "diagnosed", "fault reverted")
    ]
    assert order == sorted(order), rows

    sheet = drill.out["sheet.md"].read_text()
    assert "scenario: drill-latency" in sheet and "[run] fault applied: network.latency" in sheet


def test_in_a_terminal_the_prompts_take_a_number_and_the_drill_reverts_its_fault(
    healthy_stack: Stack, endpoints_file: Path, tmp_path: Path
) -> None:
    argv = [
        "-m",
        "gameday",
        "drill",
        str(NULLS),
        "--env",
        str(endpoints_file),
        "--journal",
        str(tmp_path / "journal"),
        "--workdir",
        str(tmp_path / "runs"),
        *SETTLE,
    ]
    child = pexpect.spawn(
        sys.executable,
        argv,
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=PAGE_TIMEOUT_S,
        dimensions=(50, 160),
    )
    try:
        child.expect_exact("ack> ")
        assert data_faults(healthy_stack.endpoints["relay"]), "the fault is on while paged"
        child.sendline("")
        child.expect_exact("10) upstream (batches from producer)")
        child.expect_exact("component> ", timeout=30)
        child.sendline("10")
        child.expect_exact("family> ", timeout=30)
        child.sendline("DATA")
        child.expect_exact("Correct: upstream (batches from producer), family data", timeout=30)
        child.expect_exact("THE ANSWER", timeout=120)
        child.expect_exact("data.null_column on upstream", timeout=30)
        child.expect(pexpect.EOF, timeout=120)
    finally:
        if child.isalive():  # a failed expectation: SIGTERM, on which the drill reverts
            child.kill(signal.SIGTERM)
            with contextlib.suppress(pexpect.TIMEOUT):
                child.expect(pexpect.EOF, timeout=60)
        child.close(force=True)
    assert child.exitstatus == 0, child.before
    assert data_faults(healthy_stack.endpoints["relay"]) == []
    assert toxics(healthy_stack.endpoints["toxiproxy"]) == []
    # no --postmortem: the post-mortem lands in the run folder, beside the run's evidence
    [run_dir] = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert (run_dir / "postmortem.md").read_text().startswith("# Post-mortem (blameless)")
    assert (run_dir / "evidence.json.gz").is_file()
