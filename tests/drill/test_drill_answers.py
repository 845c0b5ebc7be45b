"""The drill's answer key (component and fault family of each fault) and answer parsing.

The components come from the environment's targets: the embedded stack's here (``ENV``),
and a stack like ``examples/platform``'s, which shares none of its names but the feature
store.
"""

from __future__ import annotations

import pytest
from fixtures.drill_harness import CATALOGUE, ENV, ROOT, catalogue
from fixtures.plugins import loader_injectors

from gameday.drill.answers import (
    FAMILIES,
    answer_key,
    choices_for,
    environment_components,
    parse_choice,
)
from gameday.scenario.environment import Environment
from gameday.scenario.files import discover
from gameday.scenario.model import Scenario, load_scenarios, parse_scenario
from gameday.stack.launcher import SERVICES, targets

PLATFORM_SERVICES = ("ingest", "producer", "fraud-model", "ranking-model", "personalization-model")
PLATFORM = Environment.from_endpoints(
    {
        "toxiproxy": "http://127.0.0.1:9",
        "relay": "http://127.0.0.1:9",
        "control": "http://127.0.0.1:9",
        "targets": {
            "feature-store": {"proxy": "redis", "service": "redis"},
            "upstream": {"relay": "batches"},
            **{name: {"service": name} for name in PLATFORM_SERVICES},
        },
    }
)
EMBEDDED_ONLY = (set(targets()) | set(SERVICES)) - set(PLATFORM.target_names()) - {"producer"}


def platform_scenarios() -> dict[str, Scenario]:
    """The platform example's scenarios, checked against its environment, by name."""
    paths = discover([ROOT / "examples" / "platform" / "scenarios"])
    return {s.name: s for s in load_scenarios(paths, environment=PLATFORM)}


@pytest.mark.parametrize(
    ("name", "component", "family"),
    [
        ("feature-store-latency", "feature-store-link", "network"),
        ("feature-store-writes-down", "feature-store-writes-link", "network"),
        ("feature-store-frozen", "feature-store", "process"),
        ("model-server-crash", "model-server", "process"),
        ("slow-model", "model-server", "model"),
        ("serving-nulls", "feature-store", "data"),
        ("corrupted-batch", "upstream", "data"),
        ("upstream-stopped", "upstream", "data"),
        ("label-flip", "labels", "learning-loop"),
        ("corrupted-training-batch", "training-data", "learning-loop"),
    ],
)
def test_the_answer_follows_the_injector_family_and_the_target(
    name: str, component: str, family: str
) -> None:
    key = answer_key(catalogue(name), ENV)
    assert (key.primary.component, key.primary.family) == (component, family)
    assert key.judge(component, family)


def test_a_network_fault_on_a_link_also_accepts_the_service_behind_it() -> None:
    key = answer_key(catalogue("feature-store-latency"), ENV)
    assert key.judge("feature-store", "network")
    assert not key.judge("feature-store", "process")  # the family says it is the link
    assert not key.judge("feature-store-link", "data")
    assert not key.judge("model-server", "network")
    writes = answer_key(catalogue("feature-store-writes-down"), ENV)
    assert writes.judge("feature-store", "network")
    assert not writes.judge("feature-store-link", "network")  # the other link


def test_a_paused_service_is_not_its_link() -> None:
    key = answer_key(catalogue("feature-store-frozen"), ENV)
    assert key.primary.components == ("feature-store",)
    assert not key.judge("feature-store-link", "process")
    assert not key.judge("feature-store", "network")


def test_a_data_fault_accepts_the_service_its_target_names() -> None:
    """Upstream batches come from the producer; a payload fault on a link is the service's."""
    assert answer_key(catalogue("corrupted-batch"), ENV).judge("producer", "data")
    assert not answer_key(catalogue("corrupted-batch"), ENV).judge("pipeline", "data")
    assert answer_key(catalogue("serving-nulls"), ENV).judge("feature-store-link", "data")


def test_learning_loop_faults_accept_the_data_family_and_the_feeding_service() -> None:
    assert answer_key(catalogue("label-flip"), ENV).judge("labels", "data")
    training = answer_key(catalogue("corrupted-training-batch"), ENV)
    assert training.judge("label-feed", "learning-loop")  # it serves the training batches
    assert not training.judge("trainer", "learning-loop")
    assert not answer_key(catalogue("corrupted-batch"), ENV).judge("upstream", "learning-loop")


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
    key = answer_key(scenario, ENV)
    assert key.judge("feature-store-link", "network")
    assert key.judge("model-server", "process")
    assert not key.judge("model-server", "network")


def test_the_embedded_stacks_choices_are_its_services_links_and_feeds_in_order() -> None:
    labels = [c.label for c in environment_components(ENV)]
    assert labels == [
        "feature-store",
        "model-server",
        "pipeline",
        "producer",
        "drift-monitor",
        "label-feed",
        "trainer",
        "feature-store link (network path to feature-store)",
        "feature-store-writes link (network path to feature-store)",
        "upstream (batches from producer)",
        "labels (served by label-feed)",
        "training-data (served by label-feed)",
    ]


def test_every_catalogue_answer_is_a_choice_and_the_choices_do_not_depend_on_the_pick() -> None:
    scenarios = [s for s in load_scenarios([CATALOGUE]) if s.faults]
    components, families = choices_for(scenarios, ENV)
    assert (components, families) == (environment_components(ENV), FAMILIES)
    for scenario in scenarios:
        for culprit in answer_key(scenario, ENV).culprits:
            assert set(culprit.components) <= {c.key for c in components}
            assert set(culprit.families) <= {f.key for f in families}


def test_another_stacks_choices_are_its_own_targets_and_none_of_the_embedded_stacks() -> None:
    scenarios = platform_scenarios()
    components, families = choices_for(scenarios.values(), PLATFORM)
    assert [c.label for c in components] == [
        "redis",
        "ingest",
        "producer",
        "fraud-model",
        "ranking-model",
        "personalization-model",
        "feature-store link (network path to redis)",
        "upstream (batches)",
    ]
    assert families == FAMILIES
    shown = " ".join(f"{c.key} {c.label}" for c in components)
    assert EMBEDDED_ONLY and not [name for name in EMBEDDED_ONLY if name in shown]
    assert not [c for c in components if c.key == "feature-store"]  # its service is redis


def test_on_another_stack_a_link_fault_accepts_link_and_service_a_kill_only_the_service() -> None:
    scenarios = platform_scenarios()
    latency = answer_key(scenarios["redis-latency"], PLATFORM)
    assert latency.judge("feature-store-link", "network") and latency.judge("redis", "network")
    assert not latency.judge("redis", "process")
    killed = answer_key(scenarios["ranking-model-killed"], PLATFORM)
    assert killed.primary.components == ("ranking-model",)
    assert killed.judge("ranking-model", "process")
    assert not killed.judge("fraud-model", "process")
    assert not killed.judge("feature-store-link", "process")
    nulls = answer_key(scenarios["upstream-null-merchant-risk"], PLATFORM)
    assert nulls.primary.components == ("upstream",) and nulls.judge("upstream", "data")


def test_a_target_and_a_family_unknown_to_the_environment_become_choices() -> None:
    scenario = parse_scenario(
        "name: plugin\ntimeline: {fault: 5s}\nfaults: [{injector: custom.flag, target: orders}]\n"
        "expect: [{recovered: {within: 10s}}]",
        registry=loader_injectors(),
    )
    components, families = choices_for([scenario], ENV)
    assert components[-1].key == "orders" and families[-1].key == "custom"
    assert answer_key(scenario, ENV).judge("orders", "custom")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("8", "feature-store-link"),
        (" 2 ", "model-server"),
        ("feature-store", "feature-store"),
        ("Feature Store Link", "feature-store-link"),
        ("feature_store writes link", "feature-store-writes-link"),
        ("upstream", "upstream"),
        ("upstream (batches from producer)", "upstream"),
        ("feature-store link (network path to feature-store)", "feature-store-link"),
        ("drift", "drift-monitor"),
        ("feature-store l", "feature-store-link"),
        ("TRAINER", "trainer"),
        ("labels", "labels"),
    ],
)
def test_a_component_is_named_by_number_name_alias_or_unambiguous_prefix(
    text: str, key: str
) -> None:
    choice = parse_choice(text, environment_components(ENV))
    assert choice is not None and choice.key == key


@pytest.mark.parametrize("text", ["", "0", "13", "feat", "labe", "database", "-1"])
def test_no_choice_for_empty_out_of_range_ambiguous_or_unknown_text(text: str) -> None:
    assert parse_choice(text, environment_components(ENV)) is None


def test_families_read_with_spaces_or_dashes() -> None:
    assert parse_choice("learning loop", FAMILIES).key == "learning-loop"  # type: ignore[union-attr]
    assert parse_choice("learning-loop", FAMILIES).key == "learning-loop"  # type: ignore[union-attr]
    assert parse_choice("5", FAMILIES).key == "learning-loop"  # type: ignore[union-attr]
