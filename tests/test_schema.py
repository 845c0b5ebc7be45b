"""The JSON Schema agrees with the loader: what it accepts validates, what it refuses fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fixtures.plugins import loader_injectors, loader_verifiers

from gameday.scenario.schema import scenario_schema
from gameday.scenario.yamlsafe import load_file

jsonschema = pytest.importorskip("jsonschema")

FIXTURES = Path(__file__).parent / "fixtures" / "scenarios"
VALID = sorted((FIXTURES / "valid").glob("*.yaml"))
SCHEMA_REFUSES = sorted(
    p for p in (FIXTURES / "invalid").glob("*.yaml") if "# schema: refuses" in p.read_text()
)


@pytest.fixture(scope="module")
def validator():
    schema = scenario_schema(loader_injectors(), loader_verifiers())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_every_scenario_the_loader_accepts_validates_against_the_schema(validator, path: Path):
    errors = [e.message for e in validator.iter_errors(load_file(path).data)]
    assert errors == []


@pytest.mark.parametrize("path", SCHEMA_REFUSES, ids=lambda p: p.name)
def test_scenarios_the_loader_refuses_fail_the_schema_too(validator, path: Path):
    assert not validator.is_valid(yaml.safe_load(path.read_text()))


def test_there_are_enough_refusals_to_mean_something():
    assert len(SCHEMA_REFUSES) >= 10


def _scenario(**keys: object) -> dict[str, object]:
    """A scenario document with a name and one expect item (a scenario needs one), plus
    ``keys``: each case below is accepted or refused for what it is about."""
    return {"name": "a", "expect": [{"alert": "X", "silent": True}], **keys}


def test_a_scenario_needs_an_expect_item(validator):
    assert validator.is_valid(_scenario())
    assert not validator.is_valid({"name": "a"})
    assert not validator.is_valid(_scenario(expect=[]))


def test_params_are_tied_to_the_injector_name(validator):
    fault = {
        "injector": "data.null_column",
        "target": "upstream",
        "params": {"column": "merchant_risk"},
    }
    assert validator.is_valid(_scenario(faults=[fault]))
    too_much = {**fault, "params": {"column": "merchant_risk", "fraction": 2}}  # its own bounds
    assert not validator.is_valid(_scenario(faults=[too_much]))
    latency_params = {**fault, "params": {"latency_ms": 5}}  # valid for another injector only
    assert not validator.is_valid(_scenario(faults=[latency_params]))
    assert not validator.is_valid(_scenario(faults=[{**fault, "injector": "network.latncy"}]))


def test_durations_are_a_pattern_or_a_number(validator):
    for good in ("500ms", "20s", "2m", "1h", "1.5s", 30, 0.5):
        assert validator.is_valid(_scenario(timeline={"fault": good}))
    for bad in ("1 minute", "-5s", -1, "fast"):
        assert not validator.is_valid(_scenario(timeline={"fault": bad}))


def test_unknown_keys_are_refused_where_the_loader_refuses_them(validator):
    assert not validator.is_valid(_scenario(timeline={"faults": "20s"}))
    assert not validator.is_valid(_scenario(load={"user": 3}))
    assert not validator.is_valid(_scenario(expect=[{"slo": {"p95_below_ms": 3, "phaze": "run"}}]))


def test_schema_with_the_default_registries_is_well_formed():
    jsonschema.Draft202012Validator.check_schema(scenario_schema())
