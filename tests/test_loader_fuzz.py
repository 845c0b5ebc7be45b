"""Property: whatever the text, the loaders either return a model or raise ScenarioError.

And that ScenarioError always names the file and a line inside it. Four sources of input:
random text, random structures dumped to YAML (keys drawn from the contract's vocabulary),
valid scenarios with one value replaced or one key added or removed, and valid files with
random characters inserted or deleted. Each property runs a few hundred examples (a few
seconds in all); ``database=None`` keeps hypothesis from writing into the repository.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from fixtures.envs import stack_environment
from fixtures.plugins import loader_injectors, loader_verifiers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameday.errors import ScenarioError
from gameday.scenario.environment import Environment, environment_from_document
from gameday.scenario.model import Scenario, parse_scenario
from gameday.scenario.yamlsafe import load_file, load_text

PATH = "fuzz.yaml"
INJECTORS, VERIFIERS = loader_injectors(), loader_verifiers()
STACK = stack_environment(
    {
        "toxiproxy": "http://127.0.0.1:1",
        "producer": "http://127.0.0.1:2",
        "control": "http://127.0.0.1:3",
    }
)
VALID = sorted((Path(__file__).parent / "fixtures" / "scenarios" / "valid").glob("*.yaml"))
VALID_TEXT = [p.read_text() for p in VALID]
VALID_DATA = [load_file(p).data for p in VALID]

FUZZ = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

SCENARIO_WORDS = [
    "name", "summary", "tags", "runbook", "load", "users", "spawn_rate", "locustfile",
    "workers", "master", "host", "timeline", "baseline", "fault", "recovery", "adaptive",
    "faults", "injector", "target", "params", "start", "duration", "expect", "alert",
    "fires_within", "silent", "labels", "receiver", "root_cause", "service", "span", "min_share",
    "recovered", "within", "slo", "phase", "error_rate_below", "p95_below_ms", "data_quality",
    "corrupt_rows_stored", "bad_batches_quarantined", "model", "version_changed", "guards",
    "error_rate_above", "p95_above_ms", "seed", "latency_ms", "jitter_ms", "stream", "toxicity",
    "column", "fraction", "enabled", "queue_depth", "queue", "below",
]  # fmt: skip
ENV_WORDS = [
    "model_server", "toxiproxy", "prometheus", "alertmanager", "traces", "traces_api", "load",
    "workers", "master", "targets", "proxy", "batch_dir", "producer", "service", "allow_hosts",
    "feature_store", "pipeline", "control", "sink", "sink_token", "kind",
]  # fmt: skip
VALUES = [
    "network.latency", "network.down", "data.null_column", "process.kill", "custom.flag",
    "feature-store", "upstream", "20s", "500ms", "2m", "-1s", "1 minute", "60s", "all", "fault",
    "run", "http://127.0.0.1:8474", "http://evil.example.com", "[::1", "localhost:5557", "*.x",
    "10.0.0.0/8", "tempo", "jaeger", "ModelLatencyHigh", "predict_user.py",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.sampled_from([10**30, -(10**30), 2**63])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(VALUES)
)


def structures(words: list[str]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(words) | st.text(max_size=8)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=30,
    )


def max_line(text: str | bytes) -> int:
    if isinstance(text, bytes):
        return text.count(b"\n") + text.count(b"\r") + 2
    return len(re.findall(r"\r\n|[\n\r\x85\u2028\u2029]", text)) + 2


def assert_scenario_or_located_error(text: str | bytes, with_env: bool = False) -> bool:
    """True if ``text`` loaded; False if it raised a ScenarioError located inside it."""
    env = STACK if with_env else None
    outcome = _outcome(
        lambda: parse_scenario(text, PATH, INJECTORS, verifiers=VERIFIERS, environment=env)
    )
    if isinstance(outcome, ScenarioError):
        assert_located(outcome, text)
        return False
    assert isinstance(outcome, Scenario)
    return True


def _outcome(load: Callable[[], Any]) -> Any:
    """What ``load`` returns, or the ScenarioError it raises (anything else propagates)."""
    try:
        return load()
    except ScenarioError as error:
        return error


def assert_located(error: ScenarioError, text: str | bytes) -> None:
    assert error.path == PATH, str(error)
    assert error.line is not None, str(error)
    assert 1 <= error.line <= max_line(text), str(error)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=200))
def test_random_text_only_ever_raises_located_scenario_errors(text):
    assert_scenario_or_located_error(text)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(SCENARIO_WORDS), structures(SCENARIO_WORDS), max_size=8),
    st.booleans(),
)
def test_random_structures_only_ever_raise_located_scenario_errors(data, with_env):
    if "name" not in data:
        data = {"name": "fuzz", **data}
    assert_scenario_or_located_error(dump(data), with_env)


def _mutate(data: dict[str, Any], draw: Any) -> dict[str, Any]:
    """Replace, delete or add one value somewhere inside a (copied) valid scenario."""
    root = yaml.safe_load(dump(data))
    node = root
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        if not isinstance(node[key], dict | list) or not node[key]:
            break
        node = node[key]
    if isinstance(node, dict) and node:
        key = draw(st.sampled_from(list(node)))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del node[key]
        else:
            node[key if action == "replace" else draw(st.sampled_from(SCENARIO_WORDS))] = draw(
                structures(SCENARIO_WORDS)
            )
    elif isinstance(node, list) and node:
        node[draw(st.integers(0, len(node) - 1))] = draw(structures(SCENARIO_WORDS))
    return root


@FUZZ
@given(st.sampled_from(VALID_DATA), st.data(), st.booleans())
def test_mutated_valid_scenarios_only_ever_raise_located_scenario_errors(data, draw, with_env):
    assert_scenario_or_located_error(dump(_mutate(data, draw.draw)), with_env)


@FUZZ
@given(st.sampled_from(VALID_TEXT), st.data())
def test_character_edits_of_valid_files_only_ever_raise_located_scenario_errors(text, draw):
    for _ in range(draw.draw(st.integers(1, 3))):
        at = draw.draw(st.integers(0, len(text)))
        if draw.draw(st.booleans()):
            inserted = draw.draw(st.text(alphabet=":-[]{}&*!#|>'\"\n ,?%@`<\t\\", max_size=3))
            text = text[:at] + inserted + text[at:]
        else:
            text = text[:at] + text[at + draw.draw(st.integers(1, 5)) :]
    assert_scenario_or_located_error(text)


@FUZZ
@given(st.dictionaries(st.sampled_from(ENV_WORDS), structures(ENV_WORDS), max_size=8))
def test_random_environments_only_ever_raise_located_scenario_errors(data):
    text = dump(data)
    outcome = _outcome(lambda: environment_from_document(load_text(text, PATH)))
    if isinstance(outcome, ScenarioError):
        assert_located(outcome, text)
    else:
        assert isinstance(outcome, Environment)


def test_the_fuzzers_also_reach_the_accepting_path():
    """Sanity: the helper accepts valid files (all but the one whose locustfile is relative)."""
    accepted = [assert_scenario_or_located_error(text) for text in VALID_TEXT]
    assert sum(accepted) == len(VALID_TEXT) - 1
