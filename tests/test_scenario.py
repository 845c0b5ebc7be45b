"""Scenario files: the contract's keys, file:line refusals, durations, and the catalogue."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from fixtures.cli import GamedayCli
from fixtures.plugins import loader_injectors, loader_verifiers

from gameday.errors import ScenarioError
from gameday.scenario.catalogue import catalogue_rows, filter_by_tag
from gameday.scenario.durations import format_duration, human_duration, parse_duration
from gameday.scenario.environment import Environment
from gameday.scenario.expectations import AlertExpectation, RecoveredExpectation
from gameday.scenario.files import discover
from gameday.scenario.model import (
    Scenario,
    derived_seed,
    load_scenario,
    load_scenarios,
    parse_scenario,
)

FIXTURES = Path(__file__).parent / "fixtures" / "scenarios"
VALID = sorted((FIXTURES / "valid").glob("*.yaml"))
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


def parse(text: str, **kwargs) -> Scenario:
    return parse_scenario(
        text, "s.yaml", loader_injectors(), verifiers=loader_verifiers(), **kwargs
    )


def refusal(text: str, **kwargs) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse(text, **kwargs)
    return info.value


FAULT = """\
name: lat
faults:
  - injector: network.latency
    target: feature-store
    params: {latency_ms: 800}
"""
# Every scenario says what the monitoring must notice; tests about something else add this.
EXPECT = "expect:\n  - {alert: ModelLatencyHigh, silent: true}\n"
LATENCY = FAULT + EXPECT


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_fixture_loads(path: Path):
    scenario = load_scenario(path, loader_injectors(), verifiers=loader_verifiers())
    assert scenario.source == path
    assert all(f.location and (f.location.line or 0) >= 1 for f in scenario.faults)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_fixture_is_refused_at_the_promised_line(path: Path):
    """Each invalid fixture's first line says ``# error: LINE: message fragment``."""
    match = re.match(r"# error: (\d+): (.*)", path.read_text().splitlines()[0])
    assert match, f"{path.name} lacks its '# error: LINE: text' header"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, loader_injectors(), verifiers=loader_verifiers())
    assert (info.value.path, info.value.line) == (str(path), int(match.group(1)))
    assert match.group(2) in info.value.message


def test_contract_example_is_modelled_key_by_key():
    s = load_scenario(
        FIXTURES / "valid" / "contract-example.yaml",
        loader_injectors(),
        verifiers=loader_verifiers(),
    )
    assert (s.name, s.tags, s.runbook) == (
        "feature-store-latency",
        ("network", "feature-store"),
        "https://example.org/runbooks/feature-store",
    )
    assert s.load is not None
    assert (s.load.users, s.load.spawn_rate, s.load.workers) == (20, 20.0, 0)
    assert (s.timeline.baseline, s.timeline.fault, s.timeline.recovery) == (20.0, 60.0, 40.0)
    assert s.timeline.adaptive is True
    fault = s.faults[0]
    assert (fault.injector, fault.target, fault.start, fault.duration) == (
        "network.latency", "feature-store", 0.0, 60.0,
    )  # fmt: skip
    assert fault.params == {
        "latency_ms": 800,
        "jitter_ms": 100,
        "stream": "downstream",
        "toxicity": 1.0,
    }
    assert [e.kind for e in s.expect] == [
        "alert", "alert", "root_cause", "recovered", "slo", "data_quality", "model",
    ]  # fmt: skip
    assert [g.title for g in s.guards] == ["error rate above 50%", "alert CustomerImpact fires"]


def test_expectation_titles_read_as_sentences():
    s = load_scenario(
        FIXTURES / "valid" / "contract-example.yaml",
        loader_injectors(),
        verifiers=loader_verifiers(),
    )
    titles = [e.title for e in s.expect]
    assert (
        titles[0]
        == 'ModelLatencyHigh{service="model-server"} fires within 45 s, notifying ml-oncall'
    )
    assert titles[1] == "FeatureNullRateHigh stays silent"
    assert titles[4] == "SLO in fault: error rate < 5%, p95 < 500 ms"
    assert titles[6] == "model version unchanged"


def test_alert_item_flat_form_carries_labels_and_receiver():
    s = parse(
        "name: a\nexpect:\n  - alert: X\n    fires_within: 45s\n"
        "    labels: {service: m, code: 500}\n    receiver: ml-oncall\n"
    )
    alert = s.expect[0]
    assert isinstance(alert, AlertExpectation)
    assert (alert.fires_within, alert.labels, alert.receiver) == (
        45.0,
        {"service": "m", "code": "500"},
        "ml-oncall",
    )
    assert alert.location is not None
    assert alert.location.line == 3


def test_alert_silent_false_is_refused():
    error = refusal("name: a\nexpect:\n  - alert: X\n    silent: false\n")
    assert "silent must be true" in error.message


def test_unknown_injector_lists_known_names_with_line():
    error = refusal(LATENCY.replace("network.latency", "network.latncy"))
    assert error.line == 3
    assert error.message == (
        "unknown injector 'network.latncy'; known: custom.flag, data.null_column, network.down, "
        "network.latency, process.kill (did you mean 'network.latency'?)"
    )


def test_unknown_param_names_param_and_line():
    error = refusal(
        LATENCY.replace(
            "params: {latency_ms: 800}", "params:\n      latency_ms: 800\n      jiter_ms: 5"
        )
    )
    assert error.line == 7
    assert (
        "unknown param 'jiter_ms'; known: latency_ms, jitter_ms, stream, toxicity" in error.message
    )


def test_param_choice_error_lists_allowed_values():
    error = refusal(LATENCY.replace("{latency_ms: 800}", "{latency_ms: 800, stream: sideways}"))
    assert "'upstream', 'downstream'" in error.message


def test_params_get_defaults_and_types():
    fault = parse(LATENCY.replace("800", "800.0")).faults[0]
    assert fault.params["latency_ms"] == 800
    assert isinstance(fault.params["latency_ms"], int)
    assert fault.params["toxicity"] == 1.0


def test_fault_duration_defaults_to_the_rest_of_the_fault_phase():
    s = parse(FAULT + "    start: 15s\ntimeline: {fault: 1m}\n" + EXPECT)
    assert (s.faults[0].start, s.faults[0].duration, s.faults[0].end) == (15.0, 45.0, 60.0)


def test_fault_ending_exactly_at_phase_end_is_fine_despite_float_rounding():
    s = parse(FAULT + "    start: 0.1\n    duration: 0.2\ntimeline: {fault: 0.3}\n" + EXPECT)
    assert math.isclose(s.faults[0].end, 0.3)


def test_recovered_within_defaults_to_the_recovery_phase():
    s = parse("name: r\ntimeline: {recovery: 30s}\nexpect:\n  - recovered: {}\n")
    assert isinstance(s.expect[0], RecoveredExpectation)
    assert s.expect[0].within == 30.0


def test_fires_within_longer_than_the_run_can_observe_is_refused():
    error = refusal(
        "name: r\ntimeline: {fault: 10s, recovery: 10s}\n"
        "expect:\n  - alert: X\n    fires_within: 30s\n"
    )
    assert error.line == 5
    assert "longer than fault + recovery (20s)" in error.message


def test_two_kinds_in_one_item_are_refused():
    error = refusal("name: r\nexpect:\n  - alert: X\n    slo: {p95_below_ms: 3}\n")
    assert "this one has alert, slo" in error.message


def test_third_party_kind_comes_from_the_verifier_registry():
    s = parse("name: q\nexpect:\n  - queue_depth: {queue: landing, below: 3}\n")
    assert s.expect[0].title == "queue landing stays below 3"
    with pytest.raises(ScenarioError, match="unknown expectation 'queue_depth'"):
        parse_scenario(
            "name: q\nexpect:\n  - queue_depth: {queue: landing, below: 3}\n",
            "s.yaml",
            loader_injectors(),
            verifiers=loader_verifiers().__class__("k", object, key="kind", pattern="."),
        )


def test_seed_defaults_to_a_stable_number_derived_from_the_name():
    abc = "name: abc\n" + EXPECT
    assert parse(abc).seed == derived_seed("abc") == parse(abc).seed
    assert parse(abc + "seed: 7\n").seed == 7
    assert parse(abc).fault_seed(0) != parse(abc).fault_seed(1)


def test_scenario_is_immutable():
    s = parse("name: abc\n" + EXPECT)
    with pytest.raises(ValueError, match="frozen"):
        s.name = "other"


def test_locustfile_is_resolved_relative_to_the_scenario_file():
    s = load_scenario(
        FIXTURES / "valid" / "process-kill.yaml", loader_injectors(), verifiers=loader_verifiers()
    )
    assert s.load is not None
    assert s.load.locustfile == (FIXTURES / "valid" / "predict_user.py").resolve()


def test_target_kind_is_checked_when_an_environment_is_given():
    targets = {
        "feature-store": {"proxy": "feature_store"},
        "upstream": {"producer": "http://127.0.0.1:1"},
    }
    env = Environment.from_endpoints({"toxiproxy": "http://127.0.0.1:8474", "targets": targets})
    parse(LATENCY, environment=env)
    error = refusal(LATENCY.replace("feature-store", "upstream"), environment=env)
    assert (error.line, error.message) == (
        4, "network.latency acts on a proxy; target 'upstream' is a batch_source",
    )  # fmt: skip


def test_unknown_target_lists_known_targets_when_an_environment_is_given():
    env = Environment.from_endpoints(
        {"toxiproxy": "http://127.0.0.1:8474", "targets": {"db": {"proxy": "db"}}}
    )
    error = refusal(LATENCY, environment=env)
    assert error.message == "unknown target 'feature-store'; known: db"


def test_load_host_outside_allow_hosts_is_refused_when_an_environment_is_given():
    env = Environment.from_endpoints({})
    text = "name: a\nload:\n  host: http://prod.example.com:80\n" + EXPECT
    error = refusal(text, environment=env)
    assert error.line == 3
    assert "host 'prod.example.com' is not in allow_hosts [127.0.0.1, localhost]" in error.message


def test_a_scenario_without_expect_is_refused_with_file_and_line():
    """Nothing to check is bad input: the refusal points at the scenario, or at its empty list."""
    error = refusal(FAULT)
    assert (error.path, error.line) == ("s.yaml", 1)
    assert str(error).startswith("s.yaml:1: a scenario needs at least one expect item")
    error = refusal(FAULT + "timeline: {fault: 30s}\nexpect: []\n")
    assert (error.path, error.line) == ("s.yaml", 7)
    assert "e.g. - alert: ModelLatencyHigh" in error.message  # says what an item looks like


def test_names_must_be_unique_across_a_batch(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("name: same\n" + EXPECT)
    (tmp_path / "b.yaml").write_text("# b\nname: same\n" + EXPECT)
    with pytest.raises(ScenarioError) as info:
        load_scenarios([tmp_path], loader_injectors(), verifiers=loader_verifiers())
    assert (info.value.path, info.value.line) == (str(tmp_path / "b.yaml"), 2)
    assert f"already used by {tmp_path / 'a.yaml'}:1" in info.value.message


def test_validate_refuses_a_folder_with_two_scenarios_of_one_name(
    gameday_cli: GamedayCli, tmp_path: Path
) -> None:
    """``gameday validate DIR`` exits 2 naming both files: the second, and the first one."""
    (tmp_path / "a.yaml").write_text("name: same\n" + EXPECT)
    (tmp_path / "b.yaml").write_text("# b\nname: same\n" + EXPECT)
    (tmp_path / "c.yaml").write_text("name: other\n" + EXPECT)
    done = gameday_cli("validate", str(tmp_path), timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert f"{second}:2: scenario name 'same' is already used by {first}:1" in done.stderr
    assert "Traceback" not in done.stderr


# -- durations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("20s", 20),
        ("2m", 120),
        ("1h", 3600),
        ("1.5s", 1.5),
        (3, 3),
        (0.25, 0.25),
        ("45", 45),
        (" 2 m ", 120),
    ],
)
def test_durations_parse_to_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad",
    ["-5s", -1, float("nan"), float("inf"), "1 minute", "5 ms s", "", True, None, [], "9" * 400],
)
def test_bad_durations_are_refused_with_examples(bad):
    with pytest.raises(ValueError, match=r"500ms|finite|too long"):
        parse_duration(bad)


@pytest.mark.parametrize("seconds", [0, 0.5, 0.001, 1.5, 20, 90, 120, 3600, 5400, 86400])
def test_format_duration_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_human_duration_reads_naturally():
    assert [human_duration(s) for s in (0.5, 45, 1.5, 120, 3600)] == [
        "500 ms",
        "45 s",
        "1.5 s",
        "2 min",
        "1 h",
    ]


# -- catalogue -------------------------------------------------------------------------


def test_discover_walks_folders_sorted_and_refuses_missing_paths(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    for name in ("b.yaml", "a.yml", "sub/c.yaml", "notes.txt", ".hidden.yaml"):
        (tmp_path / name).write_text("name: x\n")
    assert discover([tmp_path]) == [
        tmp_path / "a.yml",
        tmp_path / "b.yaml",
        tmp_path / "sub" / "c.yaml",
    ]
    assert discover([tmp_path / "notes.txt", tmp_path / "notes.txt"]) == [tmp_path / "notes.txt"]
    with pytest.raises(ScenarioError, match="no such file or folder"):
        discover([tmp_path / "missing"])


def test_catalogue_rows_and_tag_filter():
    scenarios = load_scenarios(
        [FIXTURES / "valid"], loader_injectors(), verifiers=loader_verifiers()
    )
    network = filter_by_tag(scenarios, "network")
    assert sorted(s.name for s in network) == ["anchors-and-merge", "feature-store-latency"]
    assert filter_by_tag(scenarios, []) == scenarios
    rows = {row.name: row for row in catalogue_rows(scenarios)}
    assert rows["anchors-and-merge"].faults == ("network.latency@feature-store",) * 2
    assert rows["data-null-column"].expectations[1] == "ModelErrorRateHigh stays silent"
    assert rows["minimal"].to_json()["faults"] == []
