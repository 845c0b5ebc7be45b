"""The drill's answer key (component and fault family of each fault) and answer parsing."""

from __future__ import annotations

import pytest
from fixtures.drill_harness import CATALOGUE, catalogue
from fixtures.plugins import loader_injectors

from gameday.drill.answers import (
    COMPONENTS,
    FAMILIES,
    answer_key,
    choices_for,
    parse_choice,
)
from gameday.scenario.model import load_scenarios, parse_scenario


@pytest.mark.parametrize(
    ("name", "component", "family"),
    [
        ("feature-store-latency", "feature-store-link", "network"),
        ("feature-store-writes-down", "feature-store-writes-link", "network"),
        ("feature-store-frozen", "feature-store", "process"),
        ("model-server-crash", "model-server", "process"),
        ("slow-model", "model-server", "model"),
        ("corrupted-batch", "upstream", "data"),
        ("upstream-stopped", "upstream", "data"),
        ("label-flip", "label-feed", "learning-loop"),
        ("corrupted-training-batch", "trainer", "learning-loop"),
    ],
)
def test_the_answer_follows_the_injector_family_and_the_target(
    name: str, component: str, family: str
) -> None:
    key = answer_key(catalogue(name))
    assert (key.primary.component, key.primary.family) == (component, family)
    assert key.judge(component, family)


def test_a_network_fault_on_a_link_also_accepts_the_service_behind_it() -> None:
    key = answer_key(catalogue("feature-store-latency"))
    assert key.judge("feature-store", "network")
    assert not key.judge("feature-store", "process")  # the family says it is the link
    assert not key.judge("feature-store-link", "data")
    assert not key.judge("model-server", "network")


def test_a_paused_feature_store_is_not_its_link() -> None:
    key = answer_key(catalogue("feature-store-frozen"))
    assert not key.judge("feature-store-link", "process")
    assert not key.judge("feature-store", "network")


def test_learning_loop_faults_accept_the_data_family_too() -> None:
    assert answer_key(catalogue("label-flip")).judge("label-feed", "data")
    training = answer_key(catalogue("corrupted-training-batch"))
    assert training.judge("label-feed", "learning-loop")  # it serves the training batches
    assert not answer_key(catalogue("corrupted-batch")).judge("upstream", "learning-loop")


def test_any_one_of_several_faults_is_a_diagnosis_but_not_a_mix_of_two() -> None:
    scenario = parse_scenario(
        """
name: two-faults
timeline: {fault: 10s}
faults:
  - {injector: network.latency, target: feature-store, params: {latency_ms: 50}}
  - {injector: process.kill, target: model-server}
expect:
  - recovered: {within: 30s}
"""
    )
    key = answer_key(scenario)
    assert key.judge("feature-store-link", "network")
    assert key.judge("model-server", "process")
    assert not key.judge("model-server", "network")


def test_every_catalogue_answer_is_a_choice_and_the_choices_do_not_depend_on_the_pick() -> None:
    scenarios = [s for s in load_scenarios([CATALOGUE]) if s.faults]
    components, families = choices_for(scenarios)
    assert (components, families) == (COMPONENTS, FAMILIES)
    for scenario in scenarios:
        for culprit in answer_key(scenario).culprits:
            assert set(culprit.components) <= {c.key for c in components}
            assert set(culprit.families) <= {f.key for f in families}


def test_a_target_and_a_family_unknown_to_the_reference_stack_become_choices() -> None:
    scenario = parse_scenario(
        "name: plugin\ntimeline: {fault: 5s}\nfaults: [{injector: custom.flag, target: orders}]\n"
        "expect: [{recovered: {within: 10s}}]",
        registry=loader_injectors(),
    )
    components, families = choices_for([scenario])
    assert components[-1].key == "orders" and families[-1].key == "custom"
    assert answer_key(scenario).judge("orders", "custom")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("3", "feature-store-link"),
        (" 1 ", "model-server"),
        ("feature-store", "feature-store"),
        ("Feature Store Link", "feature-store-link"),
        ("feature_store writes link", "feature-store-writes-link"),
        ("producer", "upstream"),
        ("upstream data", "upstream"),
        ("feature-store link (network: model server -> feature store)", "feature-store-link"),
        ("drift", "drift-monitor"),
        ("feature-store l", "feature-store-link"),
        ("TRAINER", "trainer"),
    ],
)
def test_a_component_is_named_by_number_name_alias_or_unambiguous_prefix(
    text: str, key: str
) -> None:
    choice = parse_choice(text, COMPONENTS)
    assert choice is not None and choice.key == key


@pytest.mark.parametrize("text", ["", "0", "10", "feat", "database", "-1"])
def test_no_choice_for_empty_out_of_range_ambiguous_or_unknown_text(text: str) -> None:
    assert parse_choice(text, COMPONENTS) is None


def test_families_read_with_spaces_or_dashes() -> None:
    assert parse_choice("learning loop", FAMILIES).key == "learning-loop"  # type: ignore[union-attr]
    assert parse_choice("learning-loop", FAMILIES).key == "learning-loop"  # type: ignore[union-attr]
    assert parse_choice("5", FAMILIES).key == "learning-loop"  # type: ignore[union-attr]
