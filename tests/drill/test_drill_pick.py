"""Which scenario a drill plays (seeded), the blind copy the runner gets, and bad input."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.drill_harness import CATALOGUE, LATENCY, catalogue

from gameday.drill.pick import BLIND_NAME, HOLD_MARGIN_S, blind, pick
from gameday.errors import ScenarioError
from gameday.scenario.model import load_scenario, load_scenarios


def test_the_same_seed_picks_the_same_scenario_whatever_the_order_of_the_files() -> None:
    scenarios = load_scenarios([CATALOGUE])
    shuffled = random.Random(7).sample(scenarios, len(scenarios))
    for seed in range(20):
        assert pick(scenarios, seed).name == pick(shuffled, seed).name


def test_seeds_spread_over_the_catalogue_and_never_pick_a_scenario_without_faults() -> None:
    scenarios = load_scenarios([CATALOGUE])
    picked = {pick(scenarios, seed).name for seed in range(200)}
    assert len(picked) > len(scenarios) // 2
    assert "control" not in picked


def test_nothing_to_diagnose_is_bad_input() -> None:
    with pytest.raises(ScenarioError, match="no scenario with a fault"):
        pick([catalogue("control")], 1)


def test_the_blind_copy_names_nothing_and_holds_every_fault_to_the_end() -> None:
    original = catalogue("feature-store-latency")
    copy = blind(original, max_s=300)
    assert (copy.name, copy.summary) == (BLIND_NAME, "")
    assert copy.timeline.fault == 300 + HOLD_MARGIN_S
    for before, after in zip(original.faults, copy.faults, strict=True):
        assert (after.injector, after.target, after.params) == (
            before.injector,
            before.target,
            before.params,
        )
        assert after.start + (after.duration or 0) == copy.timeline.fault  # TTL covers it all
    assert copy.expect == original.expect and copy.load == original.load


def test_a_fault_starting_after_the_time_limit_is_bad_input() -> None:
    scenario = load_scenario(LATENCY)
    late = scenario.model_copy(
        update={"faults": (scenario.faults[0].model_copy(update={"start": 90.0}),)}
    )
    with pytest.raises(ScenarioError, match="--max-minutes"):
        blind(late, max_s=60)


def _drill(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameday", "drill", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def test_bad_input_exits_2_before_anything_starts(tmp_path: Path) -> None:
    control = str(CATALOGUE / "control.yaml")
    no_fault = _drill(control, cwd=tmp_path)
    assert no_fault.returncode == 2 and "no scenario with a fault" in no_fault.stderr
    missing = _drill(str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    zero = _drill(str(LATENCY), "--max-minutes", "0", cwd=tmp_path)
    assert zero.returncode == 2 and "positive" in zero.stderr
    assert not (tmp_path / ".gameday").exists()  # no journal, no run folder: nothing started
