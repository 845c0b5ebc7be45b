"""The swept param: found by name or path, set to a magnitude through the injector's checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import ScenarioError
from gameday.scenario.model import load_scenario, scenario_document
from gameday.sweep.param import Param, at_magnitude, find_param, magnitude_in

TWO_FAULTS = """\
name: two-faults
faults:
  - injector: data.null_column
    target: upstream
    params: {column: amount, fraction: 0.2}
  - injector: data.null_column
    target: upstream
    params: {column: device_trust, fraction: 0.4}
expect:
  - {alert: FeatureNullRateHigh, fires_within: 20s}
"""


@pytest.fixture
def two_faults(tmp_path: Path) -> Path:
    path = tmp_path / "two.yaml"
    path.write_text(TWO_FAULTS)
    return path


def test_a_param_one_fault_has_is_found_by_its_name() -> None:
    scenario = load_scenario("scenarios/partial-nulls.yaml")
    assert find_param(scenario, "fraction") == Param(0, "fraction")


def test_a_param_several_faults_have_must_be_named_by_its_path(two_faults: Path) -> None:
    scenario = load_scenario(two_faults)
    with pytest.raises(ScenarioError, match=r"several faults have it: faults\[0\]"):
        find_param(scenario, "fraction")
    assert find_param(scenario, "faults[1].params.fraction") == Param(1, "fraction")


def test_an_unknown_or_non_numeric_param_lists_the_numeric_ones() -> None:
    scenario = load_scenario("scenarios/partial-nulls.yaml")
    with pytest.raises(ScenarioError, match=r"have faults\[0\]\.params\.fraction"):
        find_param(scenario, "column")
    with pytest.raises(ScenarioError, match="no such numeric param"):
        find_param(scenario, "faults[3].params.fraction")


def test_the_scenario_at_a_magnitude_changes_only_that_param(two_faults: Path) -> None:
    scenario = load_scenario(two_faults)
    variant = at_magnitude(scenario, Param(1, "fraction"), 0.05)
    assert variant.faults[1].params["fraction"] == 0.05
    assert variant.faults[0].params == scenario.faults[0].params
    assert [e.model_dump() for e in variant.expect] == [e.model_dump() for e in scenario.expect]
    assert variant.name == scenario.name
    assert magnitude_in(scenario_document(variant), Param(1, "fraction")) == 0.05
    assert scenario.faults[1].params["fraction"] == 0.4  # the original is untouched


def test_a_magnitude_the_injector_refuses_is_bad_input_at_the_params_line(two_faults: Path) -> None:
    scenario = load_scenario(two_faults)
    with pytest.raises(ScenarioError) as caught:
        at_magnitude(scenario, Param(0, "fraction"), 1.5)
    assert str(caught.value).startswith(f"{two_faults}:5: faults[0].params.fraction=1.5:")
    two_faults.write_text(TWO_FAULTS.replace("fraction: 0.4}", "\n        fraction: 0.4}"))
    with pytest.raises(ScenarioError) as caught:
        at_magnitude(load_scenario(two_faults), Param(1, "fraction"), -1)
    assert str(caught.value).startswith(f"{two_faults}:9: faults[1].params.fraction=-1:")
