"""``gameday sweep``'s bad input: exit 2 with a clear message, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.cli import run as gameday

NO_FIRING = """\
name: only-silent
faults:
  - injector: data.null_column
    target: upstream
    params: {column: amount, fraction: 0.2}
expect:
  - {alert: BatchValidationFailed, silent: true}
"""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scenarios/partial-nulls.yaml", "--from", "0.01", "--to", "0.5"], "needs --param"),
        (["--param", "fraction", "--from", "0.01", "--to", "0.5"], "needs SCENARIO"),
        (
            ["scenarios/partial-nulls.yaml", "--param", "column", "--from", "1", "--to", "2"],
            "no fault has a numeric 'column'",
        ),
        (
            ["scenarios/partial-nulls.yaml", "--param", "fraction", "--from", "0.01", "--to", "3"],
            "partial-nulls.yaml:15: faults[0].params.fraction=3:",
        ),
        (
            ["scenarios/partial-nulls.yaml", "--param", "fraction", "--from", "0.2", "--to", "0.2"],
            "two different numbers",
        ),
        (
            ["scenarios/partial-nulls.yaml", "--param", "fraction", "--from", "0.01", "--to",
             "0.5", "--impact", "happiness"],
            "--impact happiness: no such measure",
        ),
        (["--replay", "x", "scenarios/partial-nulls.yaml"], "takes no SCENARIO"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_and_says_what_is_wrong(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gameday(["sweep", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_scenario_expecting_no_alert_to_fire_has_nothing_to_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "silent.yaml"
    path.write_text(NO_FIRING)
    argv = ["sweep", str(path), "--param", "fraction", "--from", "0.01", "--to", "0.5"]
    assert gameday(argv) == 2
    assert "no alert expectation with fires_within" in capsys.readouterr().err


def test_fewer_than_two_probes_is_refused() -> None:
    with pytest.raises(SystemExit) as caught:
        gameday(["sweep", "scenarios/partial-nulls.yaml", "--param", "fraction", "--probes", "1"])
    assert caught.value.code == 2
