"""Run history: stored runs and checks, detection-time regressions, verdict changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.cli import GamedayCli
from fixtures.runs import synthetic_result

from gameday.report import history
from gameday.report.history import CheckRow, History, Point

DAY = 86_400.0


def _points(*seconds: float | None) -> list[Point]:
    return [Point(i + 1, i * DAY, s) for i, s in enumerate(seconds)]


def _alert_check(detected: float | None, passed: bool = True) -> CheckRow:
    return CheckRow("alert", "ModelLatencyHigh fires within 30 s", passed, True,
                    "ModelLatencyHigh", detected)  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> History:
    return History(tmp_path / "deep" / "history.sqlite")


def test_detection_over_twice_the_recent_median_is_a_regression() -> None:
    found = history.regressions("s", "A", _points(6.0, 6.4, 5.8, 6.1, 6.2, 13.0))
    [reg] = found
    assert reg.run_id == 6 and reg.median_s == 6.1 and reg.history == 5
    assert "13.0 s: more than 2x the median 6.1 s of its last 5 runs" in reg.describe()


def test_detection_just_under_twice_the_median_is_not_a_regression() -> None:
    assert history.regressions("s", "A", _points(6.0, 6.0, 6.0, 12.0)) == []


def test_median_is_over_the_last_five_runs_only() -> None:
    # Slow long ago, fast lately: 9 s is a regression against the last five (median 3 s).
    found = history.regressions("s", "A", _points(20, 20, 20, 3, 3, 3, 3, 3, 9))
    assert [r.run_id for r in found] == [9]
    assert found[0].median_s == 3


def test_too_little_history_flags_nothing() -> None:
    assert history.regressions("s", "A", _points(2.0, 2.0, 30.0)) == []


def test_an_alert_that_stopped_firing_is_a_regression() -> None:
    [reg] = history.regressions("s", "A", _points(5.0, 5.0, 5.0, None))
    assert reg.detected_after_s is None and "did not fire" in reg.describe()


def test_runs_round_trip_with_their_checks(db: History) -> None:
    run_id = db.add_run(100.0, "latency", "pass", 47.5, [_alert_check(6.0)], meta={"host": "h"})
    [run] = db.runs()
    assert run.id == run_id and run.scenario == "latency" and run.meta == {"host": "h"}
    assert run.checks == (_alert_check(6.0),)


def test_a_recorded_result_keeps_verdict_checks_and_detection_time(db: History) -> None:
    db.record(synthetic_result())
    [run] = db.runs("synthetic-latency")
    assert run.verdict == "fail" and len(run.checks) == 4
    timed = [c for c in run.checks if c.alert]
    assert [(c.alert, c.detected_after_s) for c in timed] == [("ModelLatencyHigh", 6.2)]
    assert run.meta["tags"] == [] and "host" in run.meta


def test_runs_without_a_pass_or_fail_verdict_are_recorded_with_their_reason(db: History) -> None:
    db.record(synthetic_result(aborted="steady state broken in baseline: ServiceDown firing"))
    db.record(synthetic_result(no_effect="p95 of feature-store calls unchanged (21 ms)"))
    aborted, inconclusive = db.runs("synthetic-latency")
    assert (aborted.verdict, aborted.reason, aborted.checks) == (
        "aborted",
        "steady state broken in baseline: ServiceDown firing",
        (),
    )
    assert inconclusive.verdict == "inconclusive"
    assert inconclusive.reason == (
        "the fault never took effect: network.latency@feature-store: "
        "p95 of feature-store calls unchanged (21 ms)"
    )


def test_series_regressions_and_verdict_changes_over_stored_runs(db: History) -> None:
    for day, (verdict, detected) in enumerate(
        [("pass", 6.0), ("pass", 6.2), ("pass", 5.9), ("fail", 14.0), ("pass", 6.1)]
    ):
        db.add_run(day * DAY, "latency", verdict, 40.0, [_alert_check(detected)])
    db.add_run(0.5 * DAY, "control", "pass", 30.0, [CheckRow("alert", "x stays silent", True)])
    runs = db.runs()
    series = history.detection_series(runs)
    assert list(series) == [("latency", "ModelLatencyHigh")]
    [reg] = history.all_regressions(runs)
    assert reg.detected_after_s == 14.0
    changes = [(c.before, c.after) for c in history.verdict_changes(runs)]
    assert changes == [("pass", "fail"), ("fail", "pass")]
    assert len(db.runs("control")) == 1


def test_text_and_json_views_flag_the_regression(db: History) -> None:
    for day, detected in enumerate([6.0, 6.2, 5.9, 14.0]):
        db.add_run(day * DAY, "latency", "pass", 40.0, [_alert_check(detected)])
    runs = db.runs()
    text = history.render_text(runs)
    assert "REGRESSION: ModelLatencyHigh detection 14.0 s" in text
    assert "ModelLatencyHigh detection over time (s): 6.0 6.2 5.9 14.0" in text
    data = json.loads(json.dumps(history.to_json(runs)))
    assert len(data["runs"]) == 4 and data["regressions"][0]["detected_after_s"] == 14.0


def test_history_command_shows_runs_and_exit_2_without_a_file(
    db: History, gameday_cli: GamedayCli, tmp_path: Path
) -> None:
    db.add_run(0.0, "latency", "pass", 40.0, [_alert_check(6.0)])
    db.close()
    shown = gameday_cli("history", "--db", str(db.path), "--json", timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["runs"][0]["scenario"] == "latency"
    missing = gameday_cli("history", "--db", str(tmp_path / "none.sqlite"), timeout=60)
    assert missing.returncode == 2 and "no history file" in missing.stderr
