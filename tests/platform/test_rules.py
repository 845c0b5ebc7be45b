"""The platform example's Prometheus rules (examples/platform/prometheus/rules.yml).

Promtool accepts them and their unit tests pass; the unit tests show every alert firing and
staying silent; each alert reads only the platform's metric interface, routes to a team, and
links its runbook; and a rule change that would page the wrong people during a feature-store
outage makes the unit tests fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "examples" / "platform"
RULES = PLATFORM / "prometheus" / "rules.yml"
RULE_TESTS = PLATFORM / "prometheus" / "rules.test.yml"
README = PLATFORM / "README.md"

ALERTS = {
    "FeatureStoreDown",
    "FeatureStoreLatencyHigh",
    "ModelLatencyHigh",
    "ModelErrorRateHigh",
    "ModelServerDown",
    "ModelErrorBudgetBurn",
    "PlatformErrorBudgetBurn",
    "FeatureNullRateHigh",
    "FeatureDriftHigh",
    "BatchValidationFailed",
    "FeaturesStale",
}
TEAMS = {"fraud", "ranking", "personalization", "platform", "data"}
MODEL_TEAM = "{{ $labels.model }}"  # a model's alerts page the team named after the model
MODEL_ALERTS = {"ModelLatencyHigh", "ModelErrorRateHigh", "ModelServerDown", "ModelErrorBudgetBurn"}
# The platform's metric interface: what its services expose (histograms as their families).
INTERFACE = {
    "mlp_predict_requests_total",
    "mlp_predict_latency_seconds",
    "mlp_feature_fetch_requests_total",
    "mlp_feature_fetch_errors_total",
    "mlp_feature_fetch_latency_seconds",
    "mlp_serving_feature_values_total",
    "mlp_serving_feature_missing_total",
    "mlp_prediction_score",
    "mlp_ingest_batches_total",
    "mlp_ingest_rejected_total",
    "mlp_ingest_rows_total",
    "mlp_ingest_feature_nulls_total",
    "mlp_ingest_last_success_timestamp_seconds",
    "mlp_ingest_write_errors_total",
    "mlp_feature_psi",
    "mlp_producer_batches_total",
    "mlp_producer_last_batch_timestamp_seconds",
}
HISTOGRAMS = {"mlp_predict_latency_seconds", "mlp_feature_fetch_latency_seconds"}
# Series every Prometheus has: `up` per target, and prometheus-client's process metrics.
BUILTIN = {"up", "process_start_time_seconds"}


def exposed_names() -> set[str]:
    """Every series name the platform's targets expose, histograms expanded."""
    suffixes = ("_bucket", "_count", "_sum")
    return INTERFACE | BUILTIN | {h + s for h in HISTOGRAMS for s in suffixes}


def rule_groups() -> list[dict[str, Any]]:
    """The rule groups of rules.yml, as Prometheus reads them."""
    return list(yaml.safe_load(RULES.read_text())["groups"])


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in rule_groups() for r in g["rules"] if "alert" in r]


def recorded_names() -> set[str]:
    return {r["record"] for g in rule_groups() for r in g["rules"] if "record" in r}


def metric_names(expr: str) -> set[str]:
    """The series names ``expr`` reads (parsed with promql-parser), ``absent()`` included."""
    return {
        node.name
        for node in _nodes(promql_parser.parse(expr))
        if isinstance(node, promql_parser.VectorSelector) and node.name
    }


def _nodes(node: object) -> Iterator[object]:
    yield node
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None:
            yield from _nodes(child)
    for child in getattr(node, "args", None) or ():
        yield from _nodes(child)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (apt-get install -y prometheus; CI installs it)")
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)


# --- the interface is what the services expose -------------------------------------------------

_EXPOSED = """
import json
import mlplatform.ingest, mlplatform.model_service as models, mlplatform.producer
from prometheus_client import REGISTRY, Histogram
for histogram in (v for v in vars(models).values() if isinstance(v, Histogram)):
    histogram.labels(model="probe")  # a child, so that the buckets are collected
print(json.dumps({
    m.name + ("_total" if m.type == "counter" else ""):
        sorted({s.labels["le"] for s in m.samples if "le" in s.labels})
    for m in REGISTRY.collect() if m.name.startswith("mlp_")
}))
"""


@pytest.fixture(scope="module")
def services_metrics() -> dict[str, list[str]]:
    """The mlp_ metrics the platform's services register (and each histogram's buckets),
    read in a subprocess: importing them here would register them in this process too."""
    if importlib.util.find_spec("feast") is None:
        pytest.skip("the platform extra is not installed (pip install -e '.[platform]')")
    env = {**os.environ, "PYTHONPATH": str(PLATFORM)}
    result = subprocess.run(
        [sys.executable, "-c", _EXPOSED], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_the_rules_interface_is_what_the_services_expose(
    services_metrics: dict[str, list[str]],
) -> None:
    assert set(services_metrics) == INTERFACE


def test_the_latency_slos_bound_is_a_bucket_of_the_services_histogram(
    services_metrics: dict[str, list[str]],
) -> None:
    """The latency SLI counts requests in bucket le="0.5": without that bucket it would be
    absent, and the latency SLO's burn alert could never fire."""
    assert "0.5" in services_metrics["mlp_predict_latency_seconds"]
    assert 'le="0.5"' in RULES.read_text()


# --- promtool --------------------------------------------------------------------------------


def test_promtool_accepts_the_rules() -> None:
    result = run_promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_unit_tests_pass() -> None:
    """Every scenario of rules.test.yml: outage, killed model, slow model, slow store, one
    model's own bug, a blip, a slow burn, nulls, drift, rejections, stale features, healthy
    traffic and no traffic."""
    result = run_promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def _checks() -> list[dict[str, Any]]:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    return [check for test in tests for check in test.get("alert_rule_test", [])]


@pytest.mark.parametrize("alert", sorted(ALERTS))
def test_every_alert_is_shown_firing_and_silent(alert: str) -> None:
    checks = [c for c in _checks() if c["alertname"] == alert]
    assert any(c["exp_alerts"] for c in checks), f"no unit test shows {alert} firing"
    assert any(not c["exp_alerts"] for c in checks), f"no unit test shows {alert} silent"


# --- what the rules say ------------------------------------------------------------------------


def test_the_alerts_are_exactly_the_platforms() -> None:
    assert {r["alert"] for r in alert_rules()} == ALERTS


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: str(r["alert"]))
def test_every_alert_pages_a_team_and_says_what_to_do(rule: dict[str, Any]) -> None:
    labels, annotations = rule["labels"], rule["annotations"]
    assert labels["severity"] in {"page", "ticket"}
    if rule["alert"] in MODEL_ALERTS:
        assert labels["team"] == MODEL_TEAM
    else:
        assert labels["team"] in TEAMS
    assert {"summary", "description", "runbook_url"} <= set(annotations)
    assert annotations["runbook_url"] == f"examples/platform/README.md#{rule['alert'].lower()}"


def _seconds(duration: str) -> float:
    value, unit = re.fullmatch(r"(\d+)(s|m)", duration).groups()  # type: ignore[union-attr]
    return float(value) * (60 if unit == "m" else 1)


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: str(r["alert"]))
def test_no_alert_waits_more_than_half_a_minute_once_its_condition_holds(
    rule: dict[str, Any],
) -> None:
    assert _seconds(rule.get("for", "0s")) <= 30


@pytest.mark.parametrize("group", rule_groups(), ids=lambda g: str(g["name"]))
def test_rules_read_only_the_platforms_metrics_and_what_their_group_recorded_before(
    group: dict[str, Any],
) -> None:
    """Rules in a group run in order: a rule reading a series recorded later (or in another
    group) would see the previous evaluation's value."""
    known = exposed_names()
    for rule in group["rules"]:
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('alert') or rule['record']} reads {sorted(unknown)}"
        if "record" in rule:
            known = known | {rule["record"]}


def test_metric_names_come_from_the_parsed_expression() -> None:
    expr = 'sum by (m) (rate(a_total{x="y"}[5s])) / on () group_left () (b > 0) or absent(c)'
    assert metric_names(expr) == {"a_total", "b", "c"}


def test_every_runbook_link_has_its_section_in_the_platform_readme() -> None:
    assert README.exists(), "examples/platform/README.md is missing: the runbooks live there"
    headings = re.findall(r"^#+\s+(.+?)\s*$", README.read_text(), re.M)
    anchors = {
        re.sub(r"[^\w\- ]", "", h.lower().replace("`", "")).replace(" ", "-") for h in headings
    }
    missing = sorted(a.lower() for a in ALERTS if a.lower() not in anchors)
    assert not missing, f"README.md has no heading for #{', #'.join(missing)}"


# --- mutants: a changed rule makes the unit tests fail ------------------------------------------


def _firing(alert: str) -> Callable[[dict[str, Any]], bool]:
    return lambda test: any(
        c["alertname"] == alert and c["exp_alerts"] for c in test.get("alert_rule_test", [])
    )


def _expects_absent(test: dict[str, Any]) -> bool:
    return any(e.get("exp_samples") == [] for e in test.get("promql_expr_test", []))


# name: (text in rules.yml, its replacement, which unit tests run, what their failure names)
MUTANTS: dict[str, tuple[str, str, Callable[[dict[str, Any]], bool], str]] = {
    "FeatureStoreDown stops before the symptoms it inhibits": (
        "keep_firing_for: 35s",
        "keep_firing_for: 0s",
        _firing("FeatureStoreDown"),
        "alertname: FeatureStoreDown, time: 3m30s",
    ),
    "FeatureStoreDown fires after the symptoms it inhibits": (
        "for: 10s\n        # Holds the inhibition",
        "for: 30s\n        # Holds the inhibition",
        _firing("FeatureStoreDown"),
        "alertname: FeatureStoreDown, time: 2m12s",
    ),
    "ratios divide by zero without traffic": (
        "[5s])) > 0)",
        "[5s])))",
        _expects_absent,
        'ratio_rate5s"} NaN',
    ),
    "a killed model pages the platform team": (
        'team: "{{ $labels.model }}"\n        annotations:\n          summary: "The {{',
        'team: platform\n        annotations:\n          summary: "The {{',
        _firing("ModelServerDown"),
        "alertname: ModelServerDown",
    ),
}


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_a_mutated_rule_fails_the_unit_tests(mutant: str, tmp_path: Path) -> None:
    text, replacement, catches, failure = MUTANTS[mutant]
    rules = RULES.read_text()
    assert text in rules, f"mutant {mutant!r} no longer applies to rules.yml"
    (tmp_path / "rules.yml").write_text(rules.replace(text, replacement))
    suite = yaml.safe_load(RULE_TESTS.read_text())
    suite["tests"] = [t for t in suite["tests"] if catches(t)]
    assert suite["tests"], f"no unit test is meant to catch {mutant!r}"
    (tmp_path / "rules.test.yml").write_text(yaml.safe_dump(suite, sort_keys=False))
    result = run_promtool("test", "rules", str(tmp_path / "rules.test.yml"))
    assert result.returncode != 0, f"the unit tests pass with {mutant!r}"
    assert failure in result.stdout + result.stderr, result.stdout + result.stderr
