"""Alertmanager's API as polled: statuses, inhibitors named from the same answer."""

from __future__ import annotations

from gameday.evidence.alertwatch import AlertmanagerLog
from gameday.telemetry.alertmanager import AlertmanagerAlert


def am_alert(name: str, fp: str, state: str = "active", inhibited_by: tuple[str, ...] = ()):
    return AlertmanagerAlert(
        labels={"alertname": name}, annotations={}, starts_at=100.0, ends_at=None,
        updated_at=None, fingerprint=fp, receivers=("oncall",), state=state,
        inhibited_by=inhibited_by,
    )  # fmt: skip


def test_an_inhibited_alert_keeps_its_inhibitors_names_and_first_and_last_poll() -> None:
    log = AlertmanagerLog()
    answer = [am_alert("Down", "f1"), am_alert("Slow", "f2", "suppressed", ("f1",))]
    log.record(answer, 110.0)
    log.record(answer, 111.0)
    [down, slow] = sorted(log.statuses.values(), key=lambda s: s.alertname)
    assert (slow.state, slow.inhibited_by_names) == ("suppressed", ("Down",))
    assert (slow.first_seen, slow.last_seen) == (110.0, 111.0)
    assert down.state == "active"
    assert [s.alertname for s in log.sightings.values()] == ["Down"]  # only active ones


def test_a_change_of_status_is_a_new_record_and_unknown_inhibitors_stay_unnamed() -> None:
    log = AlertmanagerLog()
    log.record([am_alert("Slow", "f2")], 110.0)
    log.record([am_alert("Slow", "f2", "suppressed", ("gone",))], 112.0)
    states = [(s.state, s.inhibited_by_names) for s in log.statuses.values()]
    assert states == [("active", ()), ("suppressed", ("",))]
    assert log.polls == 2
