"""The trainee's conversation, tick by tick, without a stack: page, acknowledge, diagnose.

Answers go through a real pipe; the alerts are a list the test fills, as Prometheus would.
"""

from __future__ import annotations

from fixtures.drill_harness import alert, catalogue, conversation

from gameday.drill.trainee import Settings, Stage


def test_the_first_alert_firing_pages_with_its_annotations_and_where_to_look() -> None:
    talk = conversation()
    assert not talk.step() and talk.trainee.stage is Stage.WAITING
    talk.firing.append(alert("ModelLatencyHigh", service="model-server", severity="page"))
    talk.step_until(lambda: talk.trainee.stage is Stage.ACK, "paged")
    text = talk.text
    assert "FIRING    ModelLatencyHigh  service=model-server severity=page" in text
    for shown in (
        "ModelLatencyHigh summary",
        "ModelLatencyHigh description",
        "https://example.org/runbooks#modellatencyhigh",
        "/graph?g0.expr=p95",
    ):
        assert shown in text
    assert "PAGE: ModelLatencyHigh is firing" in text
    assert "http://127.0.0.1:9093/#/alerts" in text and "/api/search" in text
    assert text.endswith("ack> ")
    assert talk.trainee.score.paged_by == "ModelLatencyHigh"


def test_a_correct_diagnosis_ends_the_drill_with_measured_times() -> None:
    talk = conversation()
    talk.firing.append(alert("ModelLatencyHigh"))
    talk.step_until(lambda: talk.trainee.stage is Stage.ACK, "paged")
    talk.answer("ack", "8", "network")  # 8) feature-store link
    assert talk.step()  # the drill is over: the runner may end the fault phase
    score = talk.trainee.score
    assert score.ended == "diagnosed" and score.wrong == 0
    assert score.time_to_acknowledge_s is not None and score.time_to_diagnosis_s is not None
    assert 0 <= score.time_to_acknowledge_s <= score.time_to_diagnosis_s
    assert [g.correct for g in score.given] == [True]
    assert (
        "Correct: feature-store link (network path to feature-store), family network" in talk.text
    )


def test_wrong_diagnoses_are_counted_and_the_trainee_tries_again() -> None:
    talk = conversation()
    talk.firing.append(alert("ModelLatencyHigh"))
    talk.answer("", "pipeline", "data", "model-server", "model")
    talk.step_until(lambda: talk.trainee.score.wrong == 2, "two wrong diagnoses")
    assert talk.trainee.stage is Stage.COMPONENT and talk.text.endswith("component> ")
    assert "2 ruled out so far" in talk.text
    talk.answer("feature-store", "network")  # the store behind the link is accepted too
    assert talk.step()
    assert talk.trainee.score.ended == "diagnosed"
    assert [g.correct for g in talk.trainee.score.given] == [False, False, True]


def test_text_that_is_no_choice_is_asked_again_and_not_counted() -> None:
    talk = conversation()
    talk.firing.append(alert("ModelLatencyHigh"))
    talk.answer("ack", "the database", "42", "feature-store link", "wifi")
    talk.step_until(lambda: talk.trainee.stage is Stage.FAMILY and "'wifi'" in talk.text, "asked")
    assert "'the database' is not one of the choices" in talk.text
    assert talk.trainee.score.wrong == 0 and talk.trainee.score.given == []


def test_end_of_input_gives_up_once_paged_and_the_drill_ends() -> None:
    talk = conversation()
    talk.close_input()
    assert not talk.step()  # nothing to give up yet: the trainee has not been paged
    talk.firing.append(alert("ModelLatencyHigh"))
    talk.step_until(lambda: talk.trainee.stage is Stage.DONE, "given up")
    assert talk.trainee.score.ended == "gave up"
    assert "end of input" in talk.text and talk.trainee.score.acked_at is None


def test_give_up_at_a_prompt_ends_the_drill() -> None:
    talk = conversation()
    talk.firing.append(alert("ModelLatencyHigh"))
    talk.answer("ack", "Give Up")
    talk.step_until(lambda: talk.trainee.stage is Stage.DONE, "given up")
    assert talk.trainee.score.ended == "gave up" and talk.trainee.score.acked_at is not None


def test_the_drill_ends_when_its_time_is_up() -> None:
    talk = conversation(settings=Settings(hint_after_s=600, max_s=30), fault_age_s=31)
    assert talk.step()
    assert talk.trainee.score.ended == "time up" and "Time is up" in talk.text


def test_without_any_alert_a_report_pages_and_times_count_from_the_fault() -> None:
    talk = conversation(
        catalogue("upstream-stopped"), Settings(hint_after_s=600, report_after_s=5), fault_age_s=6
    )
    talk.answer("ack", "producer", "data")
    assert talk.step()
    score = talk.trainee.score
    assert score.paged_by == "report" and "no alert fired" in talk.text
    assert score.origin == talk.record.fault_start
    assert score.time_to_acknowledge_s is not None and score.time_to_acknowledge_s >= 6
    assert score.ended == "diagnosed"


def test_hints_come_after_the_delay_and_on_request_until_none_is_left() -> None:
    talk = conversation(settings=Settings(hint_after_s=0.2, max_s=600))
    talk.firing.append(alert("ModelLatencyHigh"))
    talk.step_until(lambda: talk.trainee.score.hints == 1, "the first hint, after its delay")
    assert "Hint number 1" in talk.text and talk.text.endswith("ack> ")  # the prompt again
    talk.answer("hint", "hint")
    talk.step_until(lambda: "No more hints" in talk.text, "hints run out")
    assert talk.trainee.score.hints == 2 and talk.hints_asked[:2] == [0, 1]


def test_the_trainee_never_sees_the_fault_itself() -> None:
    talk = conversation()
    talk.firing.append(alert("ModelLatencyHigh"))
    talk.answer("ack", "pipeline", "data", "give up")
    talk.step_until(lambda: talk.trainee.stage is Stage.DONE, "over")
    for secret in ("network.latency", "latency_ms", "800", "drill-latency", "toxic"):
        assert secret not in talk.text


def test_alerts_resolving_are_shown_and_the_open_prompt_is_asked_again() -> None:
    talk = conversation()
    talk.firing.append(alert("ModelLatencyHigh", service="model-server"))
    talk.answer("ack")
    talk.step_until(lambda: talk.trainee.stage is Stage.COMPONENT, "acknowledged")
    talk.firing.clear()
    talk.step_until(lambda: "RESOLVED  ModelLatencyHigh" in talk.text, "resolution shown")
    assert talk.text.endswith("component> ")


def test_a_run_that_stops_first_closes_the_conversation_without_a_prompt_left_open() -> None:
    talk = conversation()
    talk.firing.append(alert("ModelLatencyHigh"))
    talk.step_until(lambda: talk.trainee.stage is Stage.ACK, "paged")
    talk.trainee.close("aborted")
    talk.trainee.say(["THE ANSWER"])
    assert talk.trainee.score.ended == "aborted"
    assert talk.text.endswith("ack> \nTHE ANSWER\n")
