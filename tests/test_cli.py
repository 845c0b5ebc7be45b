"""The ``gameday`` command without a stack: validate, list, schema, and bad input on run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.cli import GamedayCli

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", CATALOGUE, ids=lambda p: p.stem)
def test_every_catalogue_scenario_validates(gameday_cli: GamedayCli, path: Path) -> None:
    result = gameday_cli("validate", str(path), timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"{path}: ok" in result.stdout


def test_malformed_file_exits_2_with_file_and_line_and_no_traceback(
    gameday_cli: GamedayCli, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: broken\nfaults:\n  - injector: network.latncy\n    target: feature-store\n"
    )
    result = gameday_cli("validate", str(bad), timeout=60)
    assert result.returncode == 2
    assert f"{bad}:3: unknown injector 'network.latncy'" in result.stderr
    assert "network.latency" in result.stderr  # the known names are listed
    assert "Traceback" not in result.stderr


def test_yaml_syntax_error_is_located(gameday_cli: GamedayCli, tmp_path: Path) -> None:
    bad = tmp_path / "syntax.yaml"
    bad.write_text("name: x\ntimeline: {baseline: 10s\nfaults: []\n")
    result = gameday_cli("validate", str(bad), timeout=60)
    assert result.returncode == 2
    assert f"{bad}:" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_refuses_bad_input_before_starting_anything(
    gameday_cli: GamedayCli, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntimeline: {fault: soon}\n")
    result = gameday_cli("run", str(bad), timeout=60)
    assert result.returncode == 2
    assert f"{bad}:2:" in result.stderr
    assert "starting the embedded reference stack" not in result.stderr


def test_environment_host_outside_allowlist_is_refused_with_exit_2(
    gameday_cli: GamedayCli, tmp_path: Path
) -> None:
    env = tmp_path / "env.yaml"
    env.write_text(
        "model_server: http://127.0.0.1:8080\ntoxiproxy: http://prod-proxy.internal:8474\n"
    )
    result = gameday_cli(
        "run", str(ROOT / "scenarios" / "feature-store-latency.yaml"), "--env", str(env), timeout=60
    )
    assert result.returncode == 2
    assert f"{env}:2:" in result.stderr
    assert "prod-proxy.internal" in result.stderr and "allow_hosts" in result.stderr


def test_list_shows_the_catalogue(gameday_cli: GamedayCli) -> None:
    result = gameday_cli("list", str(ROOT / "scenarios"), "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert "feature-store-latency" in rows and "control" in rows
    assert rows["feature-store-latency"]["faults"] == ["network.latency@feature-store"]


def test_schema_is_json_schema_naming_every_injector(gameday_cli: GamedayCli) -> None:
    result = gameday_cli("schema", timeout=60)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    text = result.stdout
    for name in ("network.latency", "network.down", "process.kill", "model.slow_inference"):
        assert name in text
