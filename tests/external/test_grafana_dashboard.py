"""The Grafana dashboard shipped for the reference stack: a valid dashboard model whose every
PromQL expression a real Prometheus accepts, over metric names that exist.

No Grafana here (not installable, FACTS.md): the model is checked by shape, the queries by the
session stack's Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gameday.run import metrics
from gameday.stack.launcher import Stack

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana" / "gameday-reference-stack.json"
PANEL_TYPES = {"timeseries", "state-timeline", "stat", "table", "bargauge", "gauge"}
# What a panel's subject is, and a fragment of PromQL that shows it.
SUBJECTS = {
    "latency": "http_request_duration_seconds_bucket",
    "error rate": 'status=~"5.."',
    "SLO burn": "/ 0.01",
    "alerts": "ALERTS{",
    "feature PSI": "feature_psi",
    "null share": "feature_null_share",
    "model quality": "model_quality",
    "fault windows": "gameday_fault_active",
}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
_KEYWORDS |= {"unless", "bool", "offset", "inf", "nan"}


def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def _expressions(dashboard: dict[str, Any]) -> Iterator[str]:
    for panel in dashboard["panels"]:
        yield from (t["expr"] for t in panel["targets"])
    yield from (a["expr"] for a in dashboard["annotations"]["list"] if "expr" in a)


def _metric_names(expr: str) -> set[str]:
    """Metric names in ``expr``: identifiers left once matchers, ranges, label lists, strings,
    function calls and keywords are taken out."""
    bare = re.sub(r'"[^"]*"|\{[^}]*\}|\[[^\]]*\]', " ", expr)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names = re.findall(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()", bare)
    return {n for n in names if n.lower() not in _KEYWORDS}


def test_the_dashboard_is_a_grafana_model_of_panels_with_targets():
    dashboard = _dashboard()
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]


def test_the_dashboard_covers_serving_slo_alerts_data_model_and_fault_windows():
    everything = "\n".join(_expressions(_dashboard()))
    missing = [subject for subject, fragment in SUBJECTS.items() if fragment not in everything]
    assert missing == []


def test_fault_windows_are_annotations_from_gamedays_own_metric():
    [faults] = [
        a
        for a in _dashboard()["annotations"]["list"]
        if "gameday_fault_active" in a.get("expr", "")
    ]
    assert faults["enable"] is True
    assert "{{injector}}" in faults["titleFormat"]


def test_expressions_are_plain_promql_without_grafana_variables():
    assert [e for e in _expressions(_dashboard()) if "$" in e] == []


def test_metric_names_are_found_in_expressions():
    expr = 'max by (feature) (rate(x_total{a="b"}[5m])) / on() group_left() sum(y) > bool 0.1'
    assert _metric_names(expr) == {"x_total", "y"}


def _known_names(prometheus: str) -> set[str]:
    """Every metric name the reference stack's Prometheus knows, plus gameday's own and ALERTS."""

    def data(path: str) -> Any:
        return requests.get(f"{prometheus}{path}", timeout=10).json()["data"]

    families = set(data("/api/v1/metadata"))
    suffixed = {f + s for f in families for s in ("_total", "_bucket", "_sum", "_count")}
    rules = {r["name"] for g in data("/api/v1/rules")["groups"] for r in g["rules"]}
    ours = {m.name for m in metrics.Exporter().registry.collect()}
    ours |= {f"{n}_total" for n in ours}
    series = set(data("/api/v1/label/__name__/values"))
    return families | suffixed | rules | ours | series | {"ALERTS", "ALERTS_FOR_STATE"}


@pytest.mark.integration
@pytest.mark.slow
def test_every_expression_is_accepted_by_a_real_prometheus(stack: Stack):
    prometheus = stack.endpoints["prometheus"]
    known = _known_names(prometheus)
    for expr in _expressions(_dashboard()):
        reply = requests.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
        assert reply.json()["status"] == "success", f"{expr}: {reply.text}"
        assert _metric_names(expr) <= known, f"{expr}: unknown {_metric_names(expr) - known}"
