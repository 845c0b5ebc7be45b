"""A real sweep, recorded on the embedded stack (``python bench/sweep.py unit-change``: seven
probes of ``scenarios/unit-change.yaml``, factor 1.1 to 110), computed again from its saved
probes alone: the findings a team keeps can be checked later with no stack and no network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gameday.cli import run as gameday
from gameday.sweep.replay import recompute

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "sweeps" / "unit-change"


def test_the_recorded_sweep_gives_the_same_findings_again() -> None:
    result, scenario, differences = recompute(RECORDED)
    assert differences == []
    found = result.to_json()
    assert found["thresholds"] == {"FeatureDriftHigh": 1.47}
    assert found["confidence"]["FeatureDriftHigh"]["confidence"] == "high"  # type: ignore[index]
    assert found["blind_spot"]["magnitude"] == 1.27  # type: ignore[index]
    assert scenario.name == "unit-change"
    magnitudes = sorted(p.magnitude for p in result.probes)
    assert magnitudes == [1.1, 1.27, 1.47, 1.96, 3.48, 11.0, 110.0]
    # each probe's wall time is not in its bundle: it is kept from sweep.json
    assert [p.wall_s for p in result.probes] == [41.6, 36.6, 42.4, 40.5, 40.6, 35.4, 36.3]


def test_a_replay_writes_the_page_and_a_scenario_for_the_blind_spot(tmp_path: Path) -> None:
    out = tmp_path / "again"
    assert gameday(["sweep", "--replay", str(RECORDED), "--report", str(out)]) == 0
    assert json.loads((out / "sweep.json").read_text())["thresholds"] == {"FeatureDriftHigh": 1.47}
    page = (out / "index.html").read_text()
    assert "probe silent blind" in page and "FeatureDriftHigh" in page
    written = out / "unit-change-blind-spot.yaml"
    assert "factor: 1.27" in written.read_text()
    assert gameday(["validate", str(written)]) == 0


def test_a_probe_judged_differently_now_is_reported(tmp_path: Path) -> None:
    copy = tmp_path / "sweep"
    shutil.copytree(RECORDED, copy)
    recorded = json.loads((copy / "sweep.json").read_text())
    recorded["probes"][2]["fired"] = {"FeatureDriftHigh": not recorded["probes"][2]["fired"][
        "FeatureDriftHigh"]}  # fmt: skip
    (copy / "sweep.json").write_text(json.dumps(recorded))
    assert gameday(["sweep", "--replay", str(copy)]) == 1


def test_an_impact_the_bundles_no_longer_give_is_reported(tmp_path: Path) -> None:
    copy = tmp_path / "sweep"
    shutil.copytree(RECORDED, copy)
    recorded = json.loads((copy / "sweep.json").read_text())
    measured = recorded["probes"][3]["impact"]["auc"]
    recorded["probes"][3]["impact"]["auc"] = measured + 0.01
    (copy / "sweep.json").write_text(json.dumps(recorded))
    _, _, differences = recompute(copy)
    assert differences == [
        f"probe 4: impact auc: recorded {measured + 0.01}, recomputed {measured}"
    ]
    assert gameday(["sweep", "--replay", str(copy)]) == 1
