"""Hostile files through the real command line: Python tags, bombs and shell metacharacters
are refused or inert, and nothing is ever executed. (The loader's own properties are fuzzed in
``tests/test_loader_fuzz.py``; the journal's in ``test_recover.py``.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from gameday.stack.launcher import Stack

PACKAGE = Path(__file__).resolve().parents[2] / "gameday"
MARKER = "pwned"
PAYLOADS = [
    f"$(touch {MARKER}-1)",
    f"`touch {MARKER}-2`",
    f"x; touch {MARKER}-3",
    f"| touch {MARKER}-4",
]


def _gameday(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=tmp_path)  # fmt: skip


def _nothing_ran(folder: Path) -> bool:
    return not list(folder.glob(f"{MARKER}*"))


# a billion laughs: each level holds ten of the one before
_LAUGHS = [
    f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
]
PYTHON_TAG = f"!!python/object/apply:os.system ['touch {MARKER}-tag']"
BOMBS = {
    "python-tag": f"name: x\nsummary: {PYTHON_TAG}\n",
    "deep-nesting": "name: x\nsummary: " + "[" * 5000 + "]" * 5000 + "\n",
    "alias-bomb": "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(_LAUGHS),
    "oversize": "name: x\nsummary: '" + "y" * (1 << 21) + "'\n",
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
@pytest.mark.parametrize("where", ["scenario", "environment"])
def test_hostile_yaml_is_refused_with_exit_2_and_runs_nothing(
    tmp_path: Path, kind: str, where: str
) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(BOMBS[kind])
    if where == "scenario":
        done = _gameday(tmp_path, "validate", str(hostile), timeout=20)
    else:
        scenario = Path(__file__).parent / "scenarios" / "interrupt.yaml"
        done = _gameday(tmp_path, "run", str(scenario), "--env", str(hostile), timeout=20)
    assert done.returncode == 2, done.stderr
    assert "hostile.yaml" in done.stderr and "Traceback" not in done.stderr
    assert _nothing_ran(tmp_path)


def test_shell_metacharacters_in_scenario_values_are_only_text(tmp_path: Path) -> None:
    values = ", ".join(repr(p) for p in PAYLOADS)
    scenario = tmp_path / "meta.yaml"
    scenario.write_text(
        f"name: meta\nsummary: {PAYLOADS[0]!r}\ntags: [{values}]\nrunbook: {PAYLOADS[2]!r}\n"
        "timeline: {baseline: 1s, fault: 5s, recovery: 1s}\nexpect:\n"
        f"  - {{alert: ModelLatencyHigh, fires_within: 5s, labels: {{x: {PAYLOADS[1]!r}}}}}\n"
    )
    for args in (["validate", str(scenario)], ["list", str(scenario), "--json"]):
        done = _gameday(tmp_path, *args)
        assert done.returncode == 0, done.stderr
    assert PAYLOADS[3] in done.stdout  # listed verbatim
    assert _nothing_ran(tmp_path)


def test_no_code_path_hands_text_to_a_shell() -> None:
    """Every process gameday starts gets an argument list; nothing goes through /bin/sh."""
    shell = re.compile(r"shell\s*=\s*True|os\.system\(|os\.popen\(|getstatusoutput|getoutput\(")
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{n}"
        for path in PACKAGE.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if shell.search(line)
    ]
    assert offenders == []


@pytest.mark.integration
@pytest.mark.slow
def test_a_locustfile_named_like_a_shell_command_is_only_a_file_name(
    stack: Stack, endpoints_file: Path, tmp_path: Path
) -> None:
    """The one scenario value that reaches another process's command line."""
    weird = tmp_path / f"user;touch {MARKER}-5 $(touch {MARKER}-6).py"
    shutil.copy(str(resources.files("gameday.loadfiles") / "predict.py"), weird)
    scenario = tmp_path / "weird.yaml"
    scenario.write_text(
        f"name: weird-locustfile\nload: {{users: 1, spawn_rate: 1, locustfile: {weird.name!r}}}\n"
        "timeline: {baseline: 1s, fault: 1s, recovery: 0s}\n"
        "expect:\n  - {alert: ModelErrorRateHigh, silent: true}\n"
    )
    done = _gameday(tmp_path, "run", str(scenario), "--env", str(endpoints_file),
                    "--no-history", "--journal", str(tmp_path / "j"), timeout=180)  # fmt: skip
    assert done.returncode in (0, 1, 3), done.stderr
    assert _nothing_ran(tmp_path)
