"""The platform example's Grafana dashboard (examples/platform/grafana/platform.json).

No Grafana here (not installable), so the dashboard is checked against Grafana's dashboard
schema as Grafana publishes it in code: the grafana-foundation-sdk models, generated from the
schema, must read every key of the file (none dropped) and every value must have the type or
enum value the schema gives it. Every query parses (promql-parser, then Prometheus's own
parser through promtool), reads only the platform's metrics and recording rules, and every
threshold line drawn is the threshold of the alert the panel names.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from test_rules import (
    RULES,
    alert_rules,
    exposed_names,
    metric_names,
    recorded_names,
    run_promtool,
)

from gameday.run import metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "examples" / "platform" / "grafana" / "platform.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Keys that Grafana's schema leaves open (annotation queries carry their data source's own
# fields) and the SDK therefore does not model: Prometheus's annotation editor's fields.
OPEN_ANNOTATION_KEYS = {"builtIn", "step", "titleFormat", "textFormat", "tagKeys"}
OPEN_ANNOTATION_KEYS |= {"useValueForTime"}
# What an on-call engineer looks for, and the series that shows it.
SUBJECTS = {
    "request rate per model": "model:mlp_predict_requests:rate10s",
    "p95 latency per model": "model:mlp_predict_latency_seconds:p95_rate10s",
    "error rate per model": "model:mlp_predict_errors:ratio_rate10s",
    "feature freshness": "job:mlp_ingest_last_success:age_seconds",
    "null rates": "feature:mlp_ingest_feature_nulls:ratio_rate20s",
    "drift": "mlp_feature_psi",
    "availability burn rate per model": "model:mlp_predict_errors:ratio_rate1m",
    "latency burn rate per model": "model:mlp_predict_slow:ratio_rate1m",
    "platform burn rate": "platform:mlp_predict_errors:ratio_rate1m",
    "feature store errors": "platform:mlp_feature_fetch_errors:ratio_rate5s",
    "model servers up": "up",
    "firing alerts": "ALERTS",
}


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    exprs = [t["expr"] for p in panels() for t in p["targets"]]
    return exprs + [a["expr"] for a in dashboard()["annotations"]["list"] if "expr" in a]


# --- Grafana's schema -------------------------------------------------------------------------


def _grafana_model(data: dict[str, Any]) -> Any:
    try:
        from grafana_foundation_sdk.cog.plugins import register_default_plugins
        from grafana_foundation_sdk.models.dashboard import Dashboard
    except ImportError:  # a test dependency: `pip install -e '.[test]'` brings it
        pytest.fail("grafana-foundation-sdk is not installed (the test extra has it)")
    register_default_plugins()
    return Dashboard.from_json(data)


def _as_json(model: Any) -> Any:
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    return json.loads(json.dumps(model, cls=JSONEncoder))


def _dropped(original: Any, read: Any, path: str = "$") -> list[str]:
    """Keys of ``original`` that the schema's model did not read back, and changed values."""
    if isinstance(original, dict) and isinstance(read, dict):
        out = []
        for key, value in original.items():
            if key not in read:
                open_key = ".annotations.list[" in path and key in OPEN_ANNOTATION_KEYS
                out += [] if open_key else [f"{path}.{key}"]
            else:
                out += _dropped(value, read[key], f"{path}.{key}")
        return out
    if isinstance(original, list) and isinstance(read, list) and len(original) == len(read):
        return [
            d
            for i, pair in enumerate(zip(original, read, strict=True))
            for d in _dropped(*pair, path=f"{path}[{i}]")
        ]
    return [] if original == read else [f"{path}: {original!r} read as {read!r}"]


def _conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type ``hint`` (the SDK's annotation of a schema field)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, h) for h in args)
    if origin is typing.Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_conforms(v, args[1]) for v in value.values())
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return value in {member.value for member in hint}
    if hint in (int, float):
        numbers = (int, float) if hint is float else (int,)
        return isinstance(value, numbers) and not isinstance(value, bool)
    return not isinstance(hint, type) or isinstance(value, hint)


def _mistyped(model: Any, path: str = "$") -> list[str]:
    """Fields of the decoded model whose value is not of the schema's type or enum."""
    if isinstance(model, list):
        return [m for i, item in enumerate(model) for m in _mistyped(item, f"{path}[{i}]")]
    if not type(model).__module__.startswith("grafana_foundation_sdk."):
        return []
    out = []
    for name, hint in typing.get_type_hints(type(model)).items():
        value = getattr(model, name, None)
        if not _conforms(value, hint):
            out.append(f"{path}.{name} = {value!r}: not {hint}")
        out += _mistyped(value, f"{path}.{name}")
    return out


def test_grafanas_schema_reads_every_key_of_the_dashboard() -> None:
    data = dashboard()
    assert _dropped(data, _as_json(_grafana_model(data))) == []


def test_every_value_has_the_type_grafanas_schema_gives_it() -> None:
    assert _mistyped(_grafana_model(dashboard())) == []


def test_the_schema_checks_catch_a_misspelt_key_and_a_wrong_enum_value() -> None:
    data = dashboard()
    data["panels"][1]["gridpos"] = data["panels"][1].pop("gridPos")
    data["panels"][1]["fieldConfig"]["defaults"]["thresholds"]["mode"] = "abs"
    assert _dropped(data, _as_json(_grafana_model(data))) == ["$.panels[1].gridpos"]
    [wrong] = _mistyped(_grafana_model(data))
    assert wrong.startswith("$.panels[1].field_config.defaults.thresholds.mode = 'abs'")


# --- layout and data source -------------------------------------------------------------------


def test_panels_tile_the_24_column_grid_without_overlapping() -> None:
    cells: dict[tuple[int, int], str] = {}
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_query_goes_to_the_prometheus_the_user_picks() -> None:
    [variable] = dashboard()["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    for panel in panels():
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert all(t["datasource"] == DATASOURCE for t in panel["targets"]), panel["title"]
        assert panel["description"], f"{panel['title']}: say what the panel shows"


# --- the queries ------------------------------------------------------------------------------


@pytest.mark.parametrize("expr", expressions())
def test_every_expression_is_plain_promql(expr: str) -> None:
    assert "$" not in expr, "Grafana variables would not parse as PromQL"
    promql_parser.parse(expr)


def test_prometheus_itself_parses_every_expression(tmp_path: Path) -> None:
    """promql-parser is a reimplementation; promtool parses with Prometheus's own parser."""
    rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(expressions())]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_expressions_read_only_the_platforms_metrics_and_recording_rules() -> None:
    gamedays = {m.name for m in metrics.Exporter().registry.collect()}  # scraped by run-stack
    known = exposed_names() | recorded_names() | gamedays | {"ALERTS"}
    for expr in expressions():
        assert metric_names(expr) <= known, f"{expr}: unknown {metric_names(expr) - known}"


@pytest.mark.parametrize("subject", sorted(SUBJECTS))
def test_the_dashboard_shows_what_an_oncall_engineer_looks_for(subject: str) -> None:
    assert any(SUBJECTS[subject] in metric_names(e) for e in expressions()), subject


def test_firing_alerts_and_gamedays_faults_are_annotations() -> None:
    annotations = {a["name"]: a for a in dashboard()["annotations"]["list"]}
    assert "ALERTS" in metric_names(annotations["Alerts firing"]["expr"])
    assert "gameday_fault_active" in metric_names(annotations["gameday faults"]["expr"])
    assert annotations["Alerts firing"]["enable"] and annotations["gameday faults"]["enable"]


def _thresholds(panel: dict[str, Any]) -> list[float]:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return [float(s["value"]) for s in steps if s["value"] is not None]


def _number(value: float) -> str:
    return f"{value:g}"


@pytest.mark.parametrize(
    "panel", [p for p in panels() if _thresholds(p)], ids=lambda p: str(p["title"])
)
def test_every_threshold_line_is_the_threshold_of_the_alert_the_panel_names(
    panel: dict[str, Any],
) -> None:
    named = [r for r in alert_rules() if r["alert"] in panel["description"]]
    assert named, f"{panel['title']}: its description names no alert of {RULES.name}"
    exprs = " ".join(r["expr"] for r in named)
    for value in _thresholds(panel):
        number = re.escape(_number(value))
        assert re.search(rf"(?<![\w.]){number}(?![\w.])", exprs), (
            f"{panel['title']}: line at {_number(value)}, not a threshold of "
            f"{', '.join(sorted({r['alert'] for r in named}))}"
        )
