"""The pytest plugin under pytester: scenario files as test items, the stack as a fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

QUIET = """\
name: quiet
tags: [control]
timeline: {baseline: 1s, fault: 3s, recovery: 0s}
expect:
  - {alert: ServiceDown, silent: true}
"""

TOO_STRICT = """\
name: too-strict
load: {users: 2, spawn_rate: 2}
timeline: {baseline: 2s, fault: 3s, recovery: 0s}
expect:
  - slo: {phase: fault, p95_below_ms: 0.001}
"""

UNREACHABLE_ENV = """\
prometheus: http://127.0.0.1:9
model_server: http://127.0.0.1:9
"""


@pytest.fixture
def scenarios(pytester: pytest.Pytester) -> Path:
    folder = pytester.mkdir("scenarios")
    (folder / "quiet.yaml").write_text(QUIET)
    (folder / "too-strict.yaml").write_text(TOO_STRICT)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    return folder


def test_each_scenario_file_is_one_item_named_after_the_scenario(
    pytester: pytest.Pytester, scenarios: Path
) -> None:
    result = pytester.runpytest("--gameday", "scenarios", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "scenarios/quiet.yaml::quiet",
            "scenarios/too-strict.yaml::too-strict",
            "2 tests collected*",
        ]
    )
    result.stdout.no_fnmatch_line("*test_plain*")  # only the game days: no paths were named


def test_named_test_paths_run_beside_the_game_days(
    pytester: pytest.Pytester, scenarios: Path
) -> None:
    result = pytester.runpytest("--gameday", "scenarios", "test_plain.py", "--collect-only")
    result.stdout.fnmatch_lines(["*3 tests collected*"])


def test_tags_are_keywords(pytester: pytest.Pytester, scenarios: Path) -> None:
    result = pytester.runpytest("--gameday", "scenarios", "-k", "control", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["scenarios/quiet.yaml::quiet", "1/2 tests collected*"])


def test_without_gameday_a_normal_run_is_unchanged(
    pytester: pytest.Pytester, scenarios: Path
) -> None:
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*quiet*")


def test_an_invalid_scenario_file_is_a_collection_error_with_file_and_line(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.mkdir("scenarios")
    (folder / "bad.yaml").write_text("name: bad\ntimeline: {fault: soon}\n")
    result = pytester.runpytest("--gameday", "scenarios")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*bad.yaml:2:*"])


def test_an_aborted_run_is_an_error_not_a_failure(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("scenarios")
    (folder / "quiet.yaml").write_text(QUIET)
    env = pytester.makefile(".yaml", env=UNREACHABLE_ENV)
    result = pytester.runpytest("--gameday", "scenarios", "--gameday-env", str(env))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*quiet: aborted: StackUnavailable*127.0.0.1:9*"])


def test_gameday_stack_fixture_attaches_to_the_environment_file(
    pytester: pytest.Pytester,
) -> None:
    env = pytester.makefile(".yaml", env=UNREACHABLE_ENV)
    pytester.makepyfile(
        test_mine="""
        def test_uses_the_stack(gameday_stack):
            assert gameday_stack.stack is None
            assert gameday_stack.environment.prometheus == "http://127.0.0.1:9"
            assert gameday_stack.endpoints["model_server"] == "http://127.0.0.1:9"
        """
    )
    result = pytester.runpytest("--gameday-env", str(env))
    result.assert_outcomes(passed=1)


@pytest.mark.integration
@pytest.mark.slow
def test_game_days_pass_and_fail_on_the_running_stack(
    pytester: pytest.Pytester, scenarios: Path, endpoints_file: Path
) -> None:
    result = pytester.runpytest_subprocess(
        "--gameday", "scenarios", "--gameday-env", str(endpoints_file), timeout=300
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*game day too-strict: FAIL*0 of 1 checks passed*",
            "*FAIL SLO in fault: p95 < 0.001 ms*",
            "*over bound: p95*",
            "FAILED scenarios/too-strict.yaml::too-strict*",
        ]
    )
