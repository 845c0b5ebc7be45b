"""The bundle on disk: written once, read back equal; anything else is refused clearly."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.errors import ScenarioError
from gameday.evidence.bundle import EVIDENCE, read_bundle, write_bundle
from gameday.evidence.model import bundle_schema
from gameday.evidence.testing import EvidenceBuilder
from gameday.run.judge import judge, rejudge
from gameday.run.results import ScenarioResult

SCENARIO = """
name: tiny
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: network.latency, target: feature-store, params: {latency_ms: 800}}
expect:
  - {alert: ModelLatencyHigh, fires_within: 30s}
  - {alert: FeatureNullRateHigh, silent: true}
"""
DOCS_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "bundle.schema.json"


def written(tmp_path: Path) -> Path:
    b = (
        EvidenceBuilder(SCENARIO)
        .rule("ModelLatencyHigh")
        .rule("FeatureNullRateHigh")
        .healthy("FeatureNullRateHigh")
        .episode("ModelLatencyHigh", pending=23, firing=26, resolved=50)
        .steady_load()
    )
    evidence = b.build()
    result = ScenarioResult(b.scenario, evidence, judge(b.scenario, evidence), tmp_path / "run")
    write_bundle(tmp_path / "run", result)
    return tmp_path / "run"


def test_a_bundle_reads_back_to_the_same_evidence_and_verdict(tmp_path: Path) -> None:
    path = written(tmp_path)
    bundle = read_bundle(path)
    again = rejudge(bundle)
    assert again.verdict == bundle.recorded_verdict == "pass"
    assert json.loads((path / "verdict.json").read_text())["run_dir"] == str(path)


def test_gameday_verify_exits_with_the_verdicts_code_and_2_for_what_is_not_a_bundle(
    tmp_path: Path,
) -> None:
    path = written(tmp_path)
    ok = subprocess.run(
        [sys.executable, "-m", "gameday", "verify", str(path)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "tiny: PASS" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "gameday", "verify", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "no such run folder" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_bundle_of_a_newer_format_or_of_something_else_is_refused_with_its_path(
    tmp_path: Path,
) -> None:
    path = written(tmp_path)
    data = json.loads(gzip.decompress((path / EVIDENCE).read_bytes()))
    (path / EVIDENCE).write_bytes(gzip.compress(json.dumps({**data, "version": 99}).encode()))
    with pytest.raises(ScenarioError, match="format version 99"):
        read_bundle(path)
    (path / EVIDENCE).write_bytes(gzip.compress(b'{"format": "other"}'))
    with pytest.raises(ScenarioError, match="not a gameday bundle"):
        read_bundle(path)
    (path / EVIDENCE).write_bytes(b"not gzip")
    with pytest.raises(ScenarioError, match="unreadable evidence"):
        read_bundle(path)


def test_the_documented_schema_is_the_one_the_code_writes() -> None:
    assert json.loads(DOCS_SCHEMA.read_text()) == json.loads(json.dumps(bundle_schema()))
