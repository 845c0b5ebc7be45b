"""Whether a fault took effect, judged by each built-in injector from what its apply and revert
returned (recorded answers: ``effect`` is pure, no target is reached)."""

from __future__ import annotations

from typing import Any

import pytest

from gameday.injectors import data, model, network, process
from gameday.injectors.base import Applied, Injector

API_A, API_B = "http://127.0.0.1:8474", "http://127.0.0.1:8475"
NO_COUNTERS = "target keeps no counters"


def _judge(injector: Injector, applied: dict[str, Any], reverted: dict[str, Any]) -> Any:
    effect = injector.effect(Applied(injector.name, "f1", "t", {}, applied), reverted)
    assert effect is not None
    return effect


# --- network toxics ------------------------------------------------------------------------------

_TOXIC = {"name": "gameday-f1-latency", "type": "latency", "stream": "downstream",
          "toxicity": 1.0, "attributes": {"latency": 100, "jitter": 0}}  # fmt: skip


def _link(url: str, up: int, down: int) -> dict[str, Any]:
    return {"toxiproxy": url, "enabled": True, "bytes": {"upstream": up, "downstream": down}}


def _counted(url: str, up: int, down: int, chunks: int, nbytes: int = 0) -> dict[str, Any]:
    toxic = {"chunks": chunks, "bytes": nbytes, "connections": 1 if chunks else 0}
    return {**_link(url, up, down), "toxic": toxic}


def _toxic_fault(at_apply: list[Any], at_revert: list[Any], toxic: dict[str, Any] = _TOXIC):
    applied = {"toxiproxy": [API_A], "proxy": "feature_store", "toxic": toxic,
               "stats_at_apply": at_apply}  # fmt: skip
    reverted = {"toxiproxy": [API_A], "proxy": "feature_store", "removed": toxic["name"],
                "stats_at_revert": at_revert}  # fmt: skip
    return _judge(network.LatencyInjector(), applied, reverted)


def test_a_toxic_that_acted_on_chunks_took_effect():
    effect = _toxic_fault([_link(API_A, 10, 10)], [_counted(API_A, 50, 50, chunks=4, nbytes=40)])
    assert effect.took_effect is True
    assert effect.evidence == {"chunks": 4, "bytes": 40, "connections": 1, "servers_counted": 1}
    assert "4 chunk(s), 40 bytes" in effect.detail


def test_a_toxic_no_data_crossed_took_no_effect():
    effect = _toxic_fault([_link(API_A, 10, 10)], [_counted(API_A, 10, 10, chunks=0)])
    assert effect.took_effect is False
    assert effect.detail == "no data crossed feature_store while the toxic was on"


def test_data_the_toxic_did_not_act_on_is_no_effect_and_says_why():
    toxic = {**_TOXIC, "toxicity": 0.1}
    effect = _toxic_fault([_link(API_A, 0, 0)], [_counted(API_A, 20, 20, chunks=0)], toxic)
    assert effect.took_effect is False
    assert effect.detail == (
        "20 bytes crossed feature_store but the toxic acted on none of them (toxicity 0.1)"
    )


def test_data_only_in_the_other_direction_is_no_data_for_the_toxic():
    effect = _toxic_fault([_link(API_A, 0, 0)], [_counted(API_A, 99, 0, chunks=0)])
    assert effect.took_effect is False
    assert effect.detail == "no data crossed feature_store while the toxic was on"


def test_chunks_on_any_server_are_an_effect_even_if_another_cannot_tell():
    unknown = {"toxiproxy": API_B, "unknown": NO_COUNTERS}
    effect = _toxic_fault([], [unknown, _counted(API_A, 5, 5, chunks=1, nbytes=5)])
    assert effect.took_effect is True


@pytest.mark.parametrize(
    "at_revert",
    [
        [{"toxiproxy": API_A, "unknown": NO_COUNTERS}],
        [_counted(API_A, 0, 0, chunks=0), {"toxiproxy": API_B, "unknown": NO_COUNTERS}],
        [],
    ],
    ids=["no-counters", "one-server-cannot-tell", "nothing-recorded"],
)
def test_a_toxic_without_counters_everywhere_cannot_tell(at_revert):
    effect = _toxic_fault([], at_revert)
    assert effect.took_effect is None
    assert effect.detail == NO_COUNTERS


# --- network.down ------------------------------------------------------------------------------


def _down(disabled_on: list[str], stats: list[Any]) -> Any:
    applied = {"toxiproxy": [API_A, API_B], "proxy": "feature_store", "enabled": False,
               "disabled_on": disabled_on, "stats_at_apply": stats}  # fmt: skip
    return _judge(network.DownInjector(), applied, {"enabled_on": disabled_on})


def _disabled(url: str, carried: int, enabled: bool = False) -> dict[str, Any]:
    return {**_link(url, carried, carried), "enabled": enabled}


def test_down_on_a_link_that_carried_traffic_took_effect():
    effect = _down([API_A, API_B], [_disabled(API_A, 0), _disabled(API_B, 300)])
    assert effect.took_effect is True
    assert effect.evidence == {"bytes_before": 600, "servers_counted": 2}


@pytest.mark.parametrize(
    ("disabled_on", "stats", "says"),
    [
        ([API_A], [_disabled(API_A, 0)], "no data had crossed feature_store"),
        ([], [], "already disabled on every server"),
        ([API_A], [_disabled(API_A, 300, enabled=True)], "still enabled on " + API_A),
    ],
    ids=["never-used", "already-down", "still-enabled"],
)
def test_down_that_changed_nothing_took_no_effect(disabled_on, stats, says):
    effect = _down(disabled_on, stats)
    assert effect.took_effect is False
    assert says in effect.detail


def test_down_without_counters_cannot_tell():
    unknown = {"toxiproxy": API_B, "unknown": NO_COUNTERS}
    for stats in ([unknown], [_disabled(API_A, 0), unknown]):
        effect = _down([API_A, API_B], stats)
        assert effect.took_effect is None
        assert effect.detail == NO_COUNTERS


# --- data: the producer's batches ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("injector", "reverted", "took", "detail"),
    [
        (
            data.NullColumnInjector(),
            {"batches": ["b-1", "b-2"], "rows": 1000, "columns": ["merchant_risk"]},
            True,
            "2 batch(es) changed (rows: 1000)",
        ),
        (data.NullColumnInjector(), {}, False, "no batch was emitted while the fault was on"),
        (
            data.DuplicateBatchInjector(),
            {"batches": ["b-2-dup"], "rows": 500},
            True,
            "1 batch(es) changed (rows: 500)",
        ),
        (
            data.StaleInjector(),
            {"batches": ["b-3"], "rows": 0, "dropped": 1},
            True,
            "1 batch(es) dropped",
        ),
        (
            data.StaleInjector(),
            {},
            False,
            "no batch was due while the upstream was stopped",
        ),
    ],
    ids=["changed", "no-batch", "duplicated", "dropped", "stale-without-batch"],
)
def test_batch_faults_took_effect_iff_a_batch_was_changed(injector, reverted, took, detail):
    effect = _judge(injector, {"producer_fault": {"id": "f1"}}, reverted)
    assert (effect.took_effect, effect.detail) == (took, detail)


# --- data: the learning loop's feeds -------------------------------------------------------------


@pytest.mark.parametrize(
    ("injector", "reverted", "detail"),
    [
        (data.LabelFlipInjector(), {"flipped": 41}, "41 label(s) flipped"),
        (
            data.ConceptDriftInjector(),
            {"labels": 300, "changed": 37},
            "300 label(s) drawn under the changed concept (changed: 37)",
        ),
        (data.LabelDelayInjector(), {"held_back": 120}, "120 label(s) held back"),
        (
            data.CorruptTrainingBatchInjector(),
            {"batches": 2, "rows": 2500},
            "2500 training row(s) corrupted (batches: 2)",
        ),
    ],
)
def test_feed_faults_say_how_much_they_changed(injector, reverted, detail):
    effect = _judge(injector, {"feed_fault": {"id": "f1"}}, reverted)
    assert (effect.took_effect, effect.detail) == (True, detail)


@pytest.mark.parametrize(
    ("injector", "reverted"),
    [
        (data.LabelFlipInjector(), {"flipped": 0}),
        (data.ConceptDriftInjector(), {}),
        (data.LabelDelayInjector(), {}),
        (data.CorruptTrainingBatchInjector(), {"batches": 1, "rows": 0}),
    ],
)
def test_feed_faults_that_changed_nothing_took_no_effect(injector, reverted):
    effect = _judge(injector, {"feed_fault": {"id": "f1"}}, reverted)
    assert effect.took_effect is False
    assert effect.detail.endswith("while the fault was on")


@pytest.mark.parametrize(
    "injector", [data.NullColumnInjector(), data.StaleInjector(), data.LabelFlipInjector()]
)
def test_a_data_fault_gone_before_the_revert_cannot_tell(injector):
    reverted = {"unknown": "fault f1 was gone before the revert"}
    effect = _judge(injector, {}, reverted)
    assert (effect.took_effect, effect.detail) == (None, "fault f1 was gone before the revert")


# --- process ------------------------------------------------------------------------------------


def _state(pid: int | None, alive: bool, paused: bool = False) -> dict[str, Any]:
    return {"pid": pid, "alive": alive, "paused": paused, "url": "http://127.0.0.1:9001"}


def _process(injector: Injector, pid: int, state: Any, after: Any) -> Any:
    applied = {"service": "feature-store", "pid": pid, "ttl_s": 60.0, "state": state}
    return _judge(injector, applied, {"after_revert": after})


def test_a_kill_seen_down_then_back_under_a_new_pid_took_effect():
    effect = _process(process.KillInjector(), 100, _state(100, False), _state(200, True))
    assert effect.took_effect is True
    assert effect.detail == "feature-store (pid 100) was down after the kill; restarted as pid 200"


@pytest.mark.parametrize(
    ("state", "after", "says"),
    [
        (_state(100, True), _state(100, True), "still running after the kill"),
        (_state(100, False), _state(100, True), "still ran as pid 100"),
    ],
)
def test_a_kill_that_left_the_process_running_took_no_effect(state, after, says):
    effect = _process(process.KillInjector(), 100, state, after)
    assert effect.took_effect is False
    assert says in effect.detail


@pytest.mark.parametrize(("paused", "took"), [(True, True), (False, False)])
def test_a_pause_took_effect_iff_the_service_was_paused(paused, took):
    state = _state(100, True, paused=paused)
    effect = _process(process.PauseInjector(), 100, state, _state(100, True))
    assert effect.took_effect is took


@pytest.mark.parametrize("injector", [process.KillInjector(), process.PauseInjector()])
def test_a_control_api_that_does_not_say_cannot_tell(injector):
    effect = _process(injector, 100, {"ok": True}, {})
    assert effect.took_effect is None


# --- model --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("injector", "reverted", "took"),
    [
        (model.SlowInferenceInjector(), {"delayed": 12}, True),
        (model.SlowInferenceInjector(), {"delayed": 0}, False),
        (model.InferenceErrorsInjector(), {"failed": 3}, True),
        (model.InferenceErrorsInjector(), {"failed": 0}, False),
        (model.InferenceErrorsInjector(), {"unknown": "model-server no longer held it"}, None),
    ],
)
def test_model_faults_took_effect_iff_the_service_counted_predictions(injector, reverted, took):
    effect = _judge(injector, {"fault": {"id": "f1"}}, reverted)
    assert effect.took_effect is took
