"""Bundles of real runs, committed: re-judged offline they give their recorded verdict, and
every mutant of their scenario fails on them (the quick loop's proof that verdicts can fail).

The bundles in tests/fixtures/bundles were recorded by ``gameday run`` on the embedded stack
(tests/fixtures/README.md says how to record them again).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gameday.evidence.bundle import find_bundles, read_bundle
from gameday.run.judge import judge, rejudge
from gameday.verifiers.mutants import kill_report

BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
RECORDED = find_bundles([BUNDLES])


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("re-judging a bundle tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
def test_a_recorded_run_is_rejudged_offline_to_its_recorded_verdict(path: Path) -> None:
    bundle = read_bundle(path)
    result = rejudge(bundle)
    assert result.verdict == bundle.recorded_verdict == "pass", result.failing
    recorded = bundle.recorded["checks"]
    assert isinstance(recorded, list)
    assert [(c.name, c.passed, c.detail) for c in result.checks] == [
        (c["name"], c["passed"], c["detail"]) for c in recorded
    ]


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
def test_every_mutant_of_a_recorded_run_fails_on_its_evidence(path: Path) -> None:
    bundle = read_bundle(path)
    report = kill_report(rejudge(bundle).scenario, bundle.evidence, judge)
    assert report.outcomes, "no mutant could be derived"
    assert not report.survivors, [(o.mutant.how, o.check.detail) for o in report.survivors]


def test_the_recorded_runs_give_mutants_of_every_builtin_verifier_kind() -> None:
    kinds: set[str] = set()
    for path in RECORDED:
        bundle = read_bundle(path)
        kinds |= set(kill_report(rejudge(bundle).scenario, bundle.evidence, judge).by_kind())
    assert kinds >= {
        "alert", "root_cause", "recovered", "slo", "data_quality", "model", "pages", "inhibited"
    }  # fmt: skip
