"""An external environment on loopback: gameday attaches to servers it did not start.

A team's staging is played by processes this test starts itself, none of them by the stack
launcher's own observability: two ``gameday toxiproxy-server`` processes (the model server
reaches the feature store through the first; the second holds a proxy of the same name, as a
second zone would, and the target names both), a Prometheus loaded with the reference alert
pack scraping the stack's services, and an Alertmanager whose receivers page elsewhere:
nothing reaches gameday's webhook sink, so the alert evidence must come from Alertmanager's
API as the runner polled it.

The team's Prometheus also holds rules of its own, as every real one does: ``Watchdog`` fires
all the time (kube-prometheus's dead man's switch) and ``TeamRatioBroken`` errors at every
evaluation. A run must not be blocked by an alert it does not name, must list it, and must
never call a broken rule "silent".
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from gameday.stack import observability
from gameday.stack.launcher import Stack, StackOptions
from gameday.telemetry import backends
from gameday.telemetry.alertmanager import SinkClient
from gameday.telemetry.prometheus import PrometheusClient
from gameday.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "feature-store-latency.yaml"
PROXY = "feature_store"
TEAM_RULES = {
    "groups": [
        {
            "name": "team",
            "rules": [
                {"alert": "Watchdog", "expr": "vector(1)", "labels": {"severity": "none"}},
                # `up` has one series per target: matching them all on no label is an error
                {"alert": "TeamRatioBroken", "expr": "up / on() up > 2", "for": "1s"},
            ],
        }
    ]
}
BROKEN_SILENT = """\
name: broken-rule-silent
summary: A silent check on a rule that errors at every evaluation cannot pass.
load: {users: 5, spawn_rate: 5}
timeline: {baseline: 5s, fault: 12s, recovery: 3s, adaptive: false}
expect:
  - {alert: TeamRatioBroken, silent: true}
  - {alert: ModelErrorRateHigh, silent: true}
"""


def _paging_elsewhere() -> dict[str, Any]:
    """The reference routing (by team to ml-oncall, data-oncall, ...) with no webhook to gameday:
    the receivers stand for the team's pagers, which gameday never hears from."""
    config = observability.alertmanager_config("http://127.0.0.1:9")
    config["receivers"] = [{"name": r["name"]} for r in config["receivers"]]
    return config


def _toxics(url: str) -> list[dict[str, Any]]:
    return list(requests.get(f"{url}/proxies/{PROXY}/toxics", timeout=5).json())


@pytest.fixture
def staging(toxiproxy_server, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The external environment, running; yields its URLs and the stack."""
    zone_a, zone_b = toxiproxy_server(), toxiproxy_server()
    with contextlib.ExitStack() as stop:
        stack = stop.enter_context(Stack(StackOptions(toxiproxy_url=zone_a, observability=False)))
        upstream = f"127.0.0.1:{stack.children['feature-store'].port}"
        body = {"name": PROXY, "listen": "127.0.0.1:0", "upstream": upstream}
        assert requests.post(f"{zone_b}/proxies", json=body, timeout=5).status_code == 201
        am = backends.start_alertmanager(_paging_elsewhere(), tmp_path / "alertmanager")
        stop.callback(am.stop)
        team = tmp_path / "team.rules.yml"
        team.write_text(yaml.safe_dump(TEAM_RULES))
        prom = backends.start_prometheus(
            tmp_path / "prometheus",
            rule_files=[*observability.rule_files(), team],
            alertmanager_url=str(am.info["url"]),
            scrape_configs=observability.scrape_configs(stack.scrape_targets()),
        )
        stop.callback(prom.stop)
        PrometheusClient(str(prom.info["url"])).wait_until_up(timeout=30)
        urls = {"a": zone_a, "b": zone_b, "prom": prom.info["url"], "am": am.info["url"]}
        yield {**urls, "stack": stack}


def _environment(staging: dict[str, Any], path: Path, **extra: Any) -> Path:
    stack: Stack = staging["stack"]
    env = {
        "model_server": stack.endpoints["model_server"],
        "toxiproxy": staging["a"],
        "prometheus": staging["prom"],
        "alertmanager": staging["am"],
        "traces": stack.endpoints["traces"],
        "traces_api": "tempo",
        "targets": {"feature-store": {"proxy": PROXY, "toxiproxy": [staging["a"], staging["b"]]}},
        "allow_hosts": ["127.0.0.1"],
        **extra,
    }
    path.write_text(yaml.safe_dump(env))
    return path


def test_feature_store_latency_passes_on_an_external_environment(staging, tmp_path: Path):
    env = _environment(staging, tmp_path / "staging.yaml")
    argv = [sys.executable, "-m", "gameday", "run", str(SCENARIO), "--env", str(env)]
    argv += ["--json", "out.json", "--journal", "journal", "--workdir", "runs", "--no-history"]
    with subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, text=True) as proc:
        try:
            # applied on every server of the target: the second zone's proxy gets it too
            wait_until(lambda: _toxics(staging["b"]), 90, "the fault on the second server")
            out, _ = proc.communicate(timeout=180)
        finally:
            proc.kill()

    result = json.loads((tmp_path / "out.json").read_text())
    assert (proc.returncode, result["verdict"]) == (0, "pass"), out
    assert "Watchdog" in result["unnamed_alerts"]  # fired throughout, blocked nothing, listed
    alert = next(c for c in result["checks"] if c["name"].startswith("ModelLatencyHigh"))
    assert alert["evidence"]["notified_via"] == "alertmanager_api", alert["detail"]
    assert alert["evidence"]["receivers"] == ["ml-oncall"]
    assert "seen active in Alertmanager's API" in alert["detail"]
    [fault] = result["faults"]
    assert fault["evidence"]["toxiproxy"] == [staging["a"], staging["b"]]
    assert _toxics(staging["a"]) == _toxics(staging["b"]) == []  # reverted on both
    assert SinkClient(staging["stack"].endpoints["sink"]).notifications() == []


def _run(tmp_path: Path, scenario: Path, env: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    argv = [sys.executable, "-m", "gameday", "run", str(scenario), "--env", str(env), *extra]
    argv += ["--json", "out.json", "--journal", "journal", "--workdir", "runs", "--no-history"]
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    out = tmp_path / "out.json"
    result = json.loads(out.read_text()) if out.exists() else {}
    return proc.returncode, result, proc.stdout + proc.stderr


def test_a_rule_that_errors_at_evaluation_is_never_called_silent(staging, tmp_path: Path):
    scenario = tmp_path / "broken.yaml"
    scenario.write_text(BROKEN_SILENT)
    code, result, out = _run(tmp_path, scenario, _environment(staging, tmp_path / "env.yaml"))
    assert (code, result["verdict"]) == (1, "fail"), out
    checks = {c["name"]: c for c in result["checks"]}
    broken = checks["TeamRatioBroken stays silent"]
    assert not broken["passed"] and not broken["decided"], broken["detail"]
    assert "health 'err'" in broken["detail"] and "duplicate series" in broken["detail"]
    assert checks["ModelErrorRateHigh stays silent"]["passed"]  # a healthy rule, with load


def test_an_alert_the_environment_names_blocks_the_steady_state(staging, tmp_path: Path):
    """``steady_state: {alerts: [...]}``: the team's page-worthy alerts must be quiet first."""
    env = _environment(staging, tmp_path / "env.yaml", steady_state={"alerts": ["Watchdog"]})
    code, result, out = _run(tmp_path, SCENARIO, env, "--settle", "5")
    reason = result.get("reason", "")
    assert (code, result["verdict"]) == (3, "aborted"), out
    assert "Watchdog (firing)" in reason and "nothing was injected" in reason
    assert result["faults"][0]["applied_at"] is None
