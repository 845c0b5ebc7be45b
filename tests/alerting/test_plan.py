"""``gameday plan``: each expected alert's detection time predicted from its rule, the
intervals and the routing, and bounds that can never be met flagged before any run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.cli import GamedayCli

from gameday.alerting.plan import Prediction, plan, rulebook_from_files
from gameday.alerting.routing import RoutingTree
from gameday.scenario.model import parse_scenario
from gameday.telemetry.backends import start_prometheus

RULES = """groups:
  - name: fast
    rules:
      - record: job:errors:ratio_rate10s
        expr: sum(rate(errors_total[10s])) / sum(rate(requests_total[10s]))
      - alert: ErrorsHigh
        expr: job:errors:ratio_rate10s > 0.05
        for: 3s
        labels: {team: ml}
      - alert: SlowToFire
        expr: up == 0
        for: 30s
        labels: {team: ml}
      - alert: BudgetBurn
        expr: >-
          (sum(rate(e[60s])) > 1 and sum(rate(e[5s])) > 1)
          or (sum(rate(e[6m])) > 1 and sum(rate(e[30s])) > 1)
        labels: {team: ml}
  - name: slow-group
    interval: 5s
    rules:
      - alert: EvaluatedEveryFive
        expr: up == 0
        for: 3s
"""

ROUTING = RoutingTree.from_config(
    {
        "route": {
            "receiver": "default",
            "group_wait": "0s",
            "routes": [{"receiver": "ml-oncall", "matchers": ['team="ml"'], "group_wait": "10s"}],
        },
        "receivers": [{"name": "default"}, {"name": "ml-oncall"}],
    }
)


def predictions(expect: str, tmp_path: Path) -> list[Prediction]:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    book = rulebook_from_files([rules], scrape_s=1.0, eval_s=1.0)
    text = f"name: p\ntimeline: {{baseline: 10s, fault: 60s, recovery: 30s}}\nexpect:\n{expect}"
    return plan(parse_scenario(text, "p.yaml"), book, ROUTING)


def test_a_bound_shorter_than_the_rules_for_can_never_be_met(tmp_path: Path) -> None:
    (p,) = predictions("  - {alert: SlowToFire, fires_within: 20s}\n", tmp_path)
    assert (p.predicted_min_s, p.predicted_max_s, p.feasible) == (30.0, 32.0, False)
    assert "for 30 s" in p.words


def test_the_receivers_group_wait_counts_and_a_bound_between_min_and_max_is_tight(
    tmp_path: Path,
) -> None:
    never, tight, ok = predictions(
        "  - {alert: ErrorsHigh, fires_within: 12s, receiver: ml-oncall}\n"
        "  - {alert: ErrorsHigh, fires_within: 14s, receiver: ml-oncall}\n"
        "  - {alert: ErrorsHigh, fires_within: 14s}\n",
        tmp_path,
    )
    assert (never.predicted_min_s, never.predicted_max_s) == (13.0, 15.0)  # 3 s for + 10 s wait
    assert never.feasible is False
    assert tight.feasible is True and tight.tight
    assert (ok.predicted_min_s, ok.feasible, ok.tight) == (3.0, True, False)  # no receiver


def test_the_window_is_read_through_recording_rules_and_or_takes_the_shorter_side(
    tmp_path: Path,
) -> None:
    errors, burn = predictions(
        "  - {alert: ErrorsHigh, fires_within: 30s}\n  - {alert: BudgetBurn, fires_within: 30s}\n",
        tmp_path,
    )
    assert errors.window_s == 10.0  # inside job:errors:ratio_rate10s
    assert burn.window_s == 60.0  # (60 s and 5 s) or (6 m and 30 s): the fast pair suffices


def test_a_groups_own_interval_holds_for_over_its_evaluations(tmp_path: Path) -> None:
    (p,) = predictions("  - {alert: EvaluatedEveryFive, fires_within: 4s}\n", tmp_path)
    assert p.predicted_min_s == 5.0 and p.feasible is False  # for 3 s seen at 5 s evaluations


def test_an_alert_no_rule_defines_cannot_be_told(tmp_path: Path) -> None:
    (p,) = predictions("  - {alert: NoSuchAlert, fires_within: 30s}\n", tmp_path)
    assert p.feasible is None and p.predicted_min_s is None
    assert "no alerting rule named NoSuchAlert" in p.words


def test_plan_on_the_embedded_catalogue_writes_json_and_exits_0(
    gameday_cli: GamedayCli, tmp_path: Path
) -> None:
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "plan.jsonl"
    done = gameday_cli("plan", str(root / "scenarios"), "--json", str(out), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    burn = next(
        r for r in rows if r["scenario"] == "feature-store-down" and r["alert"] == "ErrorBudgetBurn"
    )
    assert {"alert", "predicted_min_s", "predicted_max_s", "bound_s", "feasible"} <= set(burn)
    assert burn["feasible"] is True and burn["window_s"] == 60.0
    assert all(r["feasible"] for r in rows)


@pytest.mark.integration
def test_plan_env_reads_a_running_prometheus_and_exits_1_for_an_unmeetable_bound(
    gameday_cli: GamedayCli, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    prom = start_prometheus(tmp_path / "prom", [rules], scrape_interval="2s")
    try:
        env = tmp_path / "env.json"
        env.write_text(json.dumps({"prometheus": f"http://127.0.0.1:{prom.port}"}))
        scenario = tmp_path / "s.yaml"
        scenario.write_text(
            "name: s\ntimeline: {baseline: 10s, fault: 60s, recovery: 30s}\nexpect:\n"
            "  - {alert: SlowToFire, fires_within: 20s}\n"
            "  - {alert: ErrorsHigh, fires_within: 20s}\n"
        )
        out = tmp_path / "plan.jsonl"
        done = gameday_cli("plan", str(scenario), "--env", str(env), "--json", str(out), timeout=60)
        assert done.returncode == 1, done.stdout + done.stderr
        slow, fast = (json.loads(line) for line in out.read_text().splitlines())
        assert (slow["feasible"], slow["predicted_min_s"], slow["predicted_max_s"]) == (
            False,
            30.0,
            33.0,
        )
        assert fast["feasible"] is True and fast["window_s"] == 10.0  # recording rule read live
        assert "NEVER SlowToFire" in done.stdout
    finally:
        prom.stop()
