"""Environment files: every contract key, target resolution, the allowlist, and secrets."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from fixtures.plugins import (
    DownInjector,
    FakeFlag,
    KillInjector,
    LatencyInjector,
    NullColumnInjector,
)

from gameday.errors import ScenarioError
from gameday.injectors.base import Target
from gameday.injectors.data import LabelFlipInjector
from gameday.scenario.environment import Environment, load_environment
from gameday.stack.launcher import targets

ENV = Path(__file__).parent / "fixtures" / "env"


def load(tmp_path: Path, text: str) -> Environment:
    path = tmp_path / "env.yaml"
    path.write_text(text)
    return load_environment(path)


def refused(tmp_path: Path, text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load(tmp_path, text)
    assert info.value.path == str(tmp_path / "env.yaml")
    return info.value


def test_contract_environment_is_modelled_key_by_key():
    env = load_environment(ENV / "contract.yaml")
    assert env.model_server == "http://127.0.0.1:8080"
    assert env.toxiproxy == ("http://127.0.0.1:8474",)
    assert (env.prometheus, env.alertmanager) == ("http://127.0.0.1:9090", "http://127.0.0.1:9093")
    assert (env.traces, env.traces_api, env.sink) == (
        "http://127.0.0.1:4318",
        "tempo",
        "http://127.0.0.1:4318",
    )
    assert env.load.workers == 0
    assert env.allow_hosts == ("127.0.0.1", "localhost")
    assert env.target_names() == ["feature-store", "upstream"]


def test_contract_targets_resolve_to_injector_targets():
    env = load_environment(ENV / "contract.yaml")
    assert env.resolve("feature-store", LatencyInjector) == Target(
        "feature-store", "proxy", {"toxiproxy": ["http://127.0.0.1:8474"], "proxy": "feature_store"}
    )
    assert env.resolve("upstream", NullColumnInjector()) == Target(
        "upstream", "batch_source", {"batch_dir": "/srv/landing"}
    )


def test_unknown_target_lists_known_targets():
    env = load_environment(ENV / "contract.yaml")
    with pytest.raises(ScenarioError) as info:
        env.resolve("feature-stor", LatencyInjector)
    assert info.value.message == (
        "unknown target 'feature-stor'; known: feature-store, upstream "
        "(did you mean 'feature-store'?)"
    )


def test_target_kind_must_suit_the_injector():
    env = load_environment(ENV / "contract.yaml")
    with pytest.raises(
        ScenarioError, match=r"process\.kill acts on a service; target 'upstream' is a batch_source"
    ):
        env.resolve("upstream", KillInjector)
    assert env.resolve("upstream", FakeFlag).kind == "batch_source"  # declares no kinds: any


def test_the_embedded_stack_names_its_targets_like_any_environment():
    """The framework knows target kinds, not the stack's names: the stack's endpoints carry
    its targets, one name possibly bound twice (link for network faults, process for process
    faults)."""
    endpoints = json.loads((ENV / "endpoints.json").read_text())
    env = Environment.from_endpoints({**endpoints, "targets": targets()})
    assert env.resolve("feature-store-writes", DownInjector).settings == {
        "toxiproxy": ["http://127.0.0.1:41006"], "proxy": "feature_store_writes",
    }  # fmt: skip
    assert env.resolve("upstream", NullColumnInjector).settings == {
        "relay": "http://127.0.0.1:41011", "name": "batches",
    }  # fmt: skip
    assert env.resolve("training-data", LabelFlipInjector).kind == "service"
    assert env.resolve("feature-store", LatencyInjector).kind == "proxy"
    assert env.resolve("feature-store", KillInjector).settings == {
        "control": "http://127.0.0.1:41005",
        "service": "feature-store",
    }
    for service in ("model-server", "pipeline", "producer", "drift-monitor", "trainer"):
        assert env.resolve(service, KillInjector).settings["service"] == service


def test_an_environment_without_targets_knows_none() -> None:
    env = Environment.from_endpoints(json.loads((ENV / "endpoints.json").read_text()))
    with pytest.raises(ScenarioError, match="unknown target 'feature-store'; known: none"):
        env.resolve("feature-store", LatencyInjector)


def test_a_target_without_its_url_says_which_key_is_missing():
    env = Environment.from_endpoints(
        {"toxiproxy": "http://127.0.0.1:1", "targets": {"model-server": {"service": "x"}}}
    )
    with pytest.raises(ScenarioError, match="target 'model-server' needs 'control'"):
        env.resolve("model-server", KillInjector)


def test_endpoints_file_is_a_valid_environment_file():
    env = load_environment(ENV / "endpoints.json")
    assert (env.feature_store, env.pipeline, env.control) == (
        "http://127.0.0.1:41002", "http://127.0.0.1:41003", "http://127.0.0.1:41005",
    )  # fmt: skip
    assert env.sink == env.traces
    assert env.drift_monitor == "http://127.0.0.1:41010"
    assert env.landing == "/tmp/gameday-stack/batches/landing"
    assert env.sink_token is not None
    assert env.sink_token.get_secret_value() == "s3cr3t-token-value"


def test_at_scale_environment_with_several_toxiproxies_and_plugin_targets():
    env = load_environment(ENV / "at-scale.yaml")
    assert len(env.toxiproxy) == 2
    assert env.resolve("feature-store", LatencyInjector).settings["toxiproxy"] == list(
        env.toxiproxy
    )
    assert env.resolve("feature-store-east", LatencyInjector).settings["toxiproxy"] == [
        "http://toxi-east.staging.example.net:8474"
    ]
    assert env.resolve("feature-store", KillInjector).settings["service"] == "feature-store"
    kafka = env.resolve("kafka-orders", FakeFlag)
    assert (kafka.kind, kafka.settings["topic"], kafka.settings["password"]) == (
        "kafka_topic",
        "orders",
        "pw",
    )
    assert (env.load.workers, env.load.master, env.traces_api) == (4, "10.20.0.9:5557", "jaeger")


def test_env_host_outside_allowlist_is_refused_before_connecting(tmp_path: Path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("loading an environment must not connect anywhere")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    error = refused(
        tmp_path,
        "prometheus: http://127.0.0.1:9090\ntoxiproxy:\n  - http://127.0.0.1:8474\n  - http://prod-db.internal:8474\n",
    )
    assert error.line == 4
    assert error.message == "host 'prod-db.internal' is not in allow_hosts [127.0.0.1, localhost]"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("targets:\n  db:\n    proxy: db\n    toxiproxy: http://evil.example.com:8474\n", 4),
        ("targets:\n  up: {producer: 'http://10.0.0.1:1'}\n", 2),
        ("load:\n  master: 0.0.0.0:5557\n", 2),
        ("targets:\n  q: {broker: 'http://kafka.prod:9092'}\n", 2),
        ("allow_hosts: ['*.staging.net']\nsink: http://staging.net.evil.com\n", 2),
    ],
)
def test_every_target_and_load_host_is_checked_against_the_allowlist(
    tmp_path: Path, text: str, line: int
):
    error = refused(tmp_path, text)
    assert error.line == line
    assert "is not in allow_hosts" in error.message


def test_allowlist_accepts_wildcards_and_cidr_ranges(tmp_path: Path):
    text = (
        "allow_hosts: ['*.stg.net', 10.1.0.0/16, '::1']\n"
        "prometheus: http://p.stg.net\n"
        "traces: http://10.1.2.3:1\n"
        "alertmanager: 'http://[::1]:9093'\n"
    )
    env = load(tmp_path, text)
    assert env.allows("a.b.stg.net")
    assert env.allows("10.1.255.1")
    assert not env.allows("10.2.0.1")


def test_target_settings_are_searched_for_addresses_at_any_depth():
    env = Environment(allow_hosts=("127.0.0.1", "*.stg.net"))
    settings = {
        "proxy": "feature_store",
        "toxiproxy": ["http://127.0.0.1:8474", "http://toxi.stg.net:8474"],
        "control": {"url": "http://10.0.0.9:9000", "headers": ["http://evil.example:1"]},
        "note": "not-a-url.example",
    }
    assert env.refused_addresses(settings) == ["http://10.0.0.9:9000", "http://evil.example:1"]
    assert env.refused_addresses({"toxiproxy": ("http://localhost:1",)}) == ["http://localhost:1"]


def test_secrets_never_appear_in_repr_or_str():
    env = load_environment(ENV / "at-scale.yaml")
    for text in (repr(env), str(env), json.dumps(env.redacted())):
        assert "do-not-print-me" not in text
        assert "hunter2" not in text
        assert not re.search(r"['\"]pw['\"]", text)
    assert env.redacted()["control"] == "http://ops:***@ops.staging.example.net:9000"
    assert env.redacted()["targets"]["kafka-orders"]["password"] == "***"
    assert env.redacted()["sink_token"] == "***"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            "prometheus: localhost:9090\n",
            1,
            "expected an http(s) URL like http://127.0.0.1:9090; got 'localhost:9090'",
        ),
        (
            "traces_api: zipkin\n",
            1,
            "traces_api: Input should be 'tempo' or 'jaeger'; got 'zipkin'",
        ),
        ("load: {workers: -1}\n", 1, "load.workers"),
        (
            "promethues: http://127.0.0.1:9090\n",
            1,
            "unknown key 'promethues'; allowed: model_server, toxiproxy, prometheus",
        ),
        ("targets:\n  db: {proxi: db}\n", 2, "unknown key 'proxi' (did you mean 'proxy'?)"),
        (
            "targets:\n  db: {batch_dir: /x, producer: 'http://127.0.0.1:1'}\n",
            2,
            "batch_dir or producer, not both",
        ),
        ("targets:\n  db: {}\n", 2, "a target needs one of proxy"),
        ("- a\n", 1, "an environment file is a mapping"),
    ],
)
def test_bad_environment_keys_are_refused_with_line_and_allowed_values(
    tmp_path: Path, text, line, fragment
):
    error = refused(tmp_path, text)
    assert error.line == line
    assert fragment in error.message


def test_empty_environment_file_means_defaults(tmp_path: Path):
    env = load(tmp_path, "# nothing\n")
    assert env.allow_hosts == ("127.0.0.1", "localhost")
    assert env.toxiproxy == ()
