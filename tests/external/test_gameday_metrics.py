"""gameday's own metrics: the series, how they are served, and the embedded stack scraping them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from fixtures.runs import T0, synthetic_result, synthetic_scenario

from gameday.errors import ScenarioError
from gameday.run import metrics
from gameday.run.record import FaultRecord, Phase, RunRecord
from gameday.run.session import embedded_template
from gameday.stack.launcher import Stack
from gameday.telemetry.prometheus import PrometheusClient
from gameday.testing import wait_until

PROBE = """\
name: metrics-probe
summary: A harmless 1 ms latency on the pipeline's writes, to watch gameday's own metrics.
timeline: {baseline: 1s, fault: 6s, recovery: 1s, adaptive: false}
faults:
  - {injector: network.latency, target: feature-store-writes, params: {latency_ms: 1}}
expect:
  - {alert: FeatureNullRateHigh, silent: true}
"""


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the series ``name{labels}`` in an exposition, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def _under_fault() -> RunRecord:
    """The synthetic game day as the runner holds it 10 s into its fault phase: the baseline
    is over, the fault phase runs, the fault is applied and not yet reverted."""
    scenario = synthetic_scenario()
    record = RunRecord(scenario, embedded_template(), started_at=T0)
    record.phases["baseline"] = Phase("baseline", T0, T0 + 20, planned_s=20)
    record.phases["fault"] = Phase("fault", T0 + 20, planned_s=25)
    record.faults.append(FaultRecord(0, scenario.faults[0], "f0", "proxy", applied_at=T0 + 20))
    return record


def test_fault_and_phase_gauges_follow_the_run_as_it_stands():
    record = _under_fault()
    exporter = metrics.Exporter()

    exporter.update(record)

    text, scenario = exporter.text(), record.scenario.name
    fault = {"fault": "0", "injector": "network.latency", "target": "feature-store"}
    assert _sample(text, "gameday_fault_active", scenario=scenario, **fault) == 1.0
    assert _sample(text, "gameday_phase", phase="fault", scenario=scenario) == 1.0
    assert _sample(text, "gameday_phase", phase="baseline", scenario=scenario) == 0.0

    record.faults[0].reverted_at = T0 + 45  # the fault is reverted, the recovery begins
    record.phases["fault"].end = T0 + 45
    record.phases["recovery"] = Phase("recovery", T0 + 45, planned_s=15)
    exporter.update(record)

    text = exporter.text()
    assert _sample(text, "gameday_fault_active", scenario=scenario, **fault) == 0.0
    assert _sample(text, "gameday_phase", phase="recovery", scenario=scenario) == 1.0
    assert _sample(text, "gameday_phase", phase="fault", scenario=scenario) == 0.0


def test_a_finished_scenario_publishes_verdict_checks_and_detection_time():
    result = synthetic_result()  # fails: a silent alert fired
    exporter = metrics.Exporter()

    exporter.finish(result)

    text, name = exporter.text(), result.scenario.name
    assert _sample(text, "gameday_verdict", scenario=name, verdict="fail") == 1.0
    assert _sample(text, "gameday_verdict", scenario=name, verdict="pass") == 0.0
    assert _sample(text, "gameday_checks_total", kind="alert", result="fail", scenario=name) == 1
    assert _sample(text, "gameday_checks_total", kind="alert", result="pass", scenario=name) == 1
    detected = _sample(text, "gameday_detection_seconds", alert="ModelLatencyHigh", scenario=name)
    assert detected == 6.2
    assert _sample(text, "gameday_phase", phase="recovery", scenario=name) == 0.0


@pytest.mark.parametrize(
    ("text", "address"), [("9464", ("127.0.0.1", 9464)), ("0.0.0.0:0", ("0.0.0.0", 0))]
)
def test_metrics_listen_binds_loopback_unless_told(text, address):
    assert metrics.listen_address(text) == address


@pytest.mark.parametrize("text", ["host:", "127.0.0.1:99999", "nope"])
def test_a_bad_metrics_listen_address_is_bad_input(text):
    with pytest.raises(ScenarioError, match="--metrics-listen"):
        metrics.listen_address(text)


def test_metrics_are_off_unless_asked():
    with metrics.exporting(None, None) as exporter:
        assert exporter is None
        metrics.update(_under_fault())  # a no-op, never an error


def test_a_run_announces_its_endpoint_for_file_sd_and_withdraws_it_on_exit(tmp_path):
    with metrics.exporting(None, tmp_path / "sd") as exporter:
        assert exporter is not None
        [announced] = (tmp_path / "sd").glob("*.json")
        [group] = json.loads(announced.read_text())
        [address] = group["targets"]
        assert address == exporter.address
        body = requests.get(f"http://{address}/metrics", timeout=5).text
        assert "# TYPE gameday_fault_active gauge" in body
    assert list((tmp_path / "sd").iterdir()) == []


def test_the_scrape_job_globs_the_announcement_folder(tmp_path):
    job = metrics.scrape_config(tmp_path)
    assert job["file_sd_configs"] == [{"files": [f"{tmp_path}/*.json"], "refresh_interval": "1s"}]


def _query(prometheus: PrometheusClient, expr: str) -> list[float]:
    return [s.value for s in prometheus.query(expr)]


@pytest.mark.integration
@pytest.mark.slow
def test_the_embedded_stacks_prometheus_scrapes_gameday_during_a_fault(
    stack: Stack, endpoints_file: Path, tmp_path: Path
):
    """``gameday_fault_active`` is 1 in the stack's Prometheus while the fault is on; the
    verdict reaches it before gameday exits."""
    (tmp_path / "probe.yaml").write_text(PROBE)
    argv = [sys.executable, "-m", "gameday", "run", "probe.yaml", "--env", str(endpoints_file)]
    argv += ["--journal", "journal", "--no-history", "--workdir", "runs", "--quiet"]
    prometheus = PrometheusClient(stack.endpoints["prometheus"])
    with subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, text=True) as proc:
        try:
            active = 'gameday_fault_active{scenario="metrics-probe",target="feature-store-writes"}'
            wait_until(lambda: _query(prometheus, active) == [1.0], 60, "fault seen as active")
            out, _ = proc.communicate(timeout=60)
        finally:
            proc.kill()
    verdict = {0: "pass", 1: "fail"}[proc.returncode]
    seen = f'last_over_time(gameday_verdict{{scenario="metrics-probe",verdict="{verdict}"}}[1m])'
    assert _query(prometheus, seen) == [1.0], out
