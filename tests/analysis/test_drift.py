"""Drift statistics: PSI, KS (checked against scipy), nulls, categories, JSON, degenerate data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from gameday.analysis.drift import (
    OTHER,
    PSI_LARGE,
    PSI_MODERATE,
    Reference,
    ks_critical_d,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261128)


def _psi(rng: np.random.Generator, shift: float, n: int) -> float:
    ref = Reference.fit({"x": rng.normal(size=n)})
    return ref.psi({"x": rng.normal(shift, 1.0, size=n)})["x"]


# --- PSI -------------------------------------------------------------------------------


def test_reference_bins_are_deciles_of_the_reference(rng):
    num = Reference.fit({"x": rng.normal(size=10_000)}).numeric["x"]
    assert num.edges.size == 9
    assert num.proportions == pytest.approx(np.full(10, 0.1), abs=1e-3)


def test_psi_of_a_half_sigma_shift_is_about_a_quarter(rng):
    """FACTS: PSI ≈ δ² for a mean shift of δ standard deviations."""
    assert _psi(rng, 0.5, 50_000) == pytest.approx(0.25, abs=0.03)


def test_psi_of_a_one_sigma_shift_is_large(rng):
    psi = _psi(rng, 1.0, 50_000)
    assert psi > PSI_LARGE
    assert psi == pytest.approx(1.0, abs=0.12)


def test_psi_of_a_small_shift_stays_below_moderate(rng):
    assert _psi(rng, 0.05, 5000) < 0.02


def test_psi_of_the_same_distribution_is_near_zero(rng):
    assert _psi(rng, 0.0, 5000) < 0.01
    assert PSI_MODERATE > 0.01


def test_psi_with_many_bins_matches_a_direct_computation(rng):
    """Above 64 edges binning switches to searchsorted; both paths must agree."""
    data, live = rng.normal(size=20_000), rng.normal(0.3, 1, size=20_000)
    live[::7] = np.nan
    num = Reference.fit({"x": data}, bins=200).numeric["x"]
    idx = np.searchsorted(num.edges, live[~np.isnan(live)], side="right")
    p = np.maximum(np.bincount(idx, minlength=num.edges.size + 1) / idx.size, 1e-4)
    q = np.maximum(num.proportions, 1e-4)
    assert num.psi(live) == pytest.approx(float(np.sum((p - q) * np.log(p / q))), rel=1e-12)


def test_infinite_live_values_are_valid_and_land_in_the_end_bins(rng):
    ref = Reference.fit({"x": rng.normal(size=1000)})
    live = np.full(1000, np.inf)
    assert ref.psi({"x": live})["x"] > PSI_LARGE
    assert ref.null_share({"x": live})["x"] == 0.0


# --- KS --------------------------------------------------------------------------------


SAMPLERS = {
    "normal": lambda r, n: r.normal(size=n),
    "shifted": lambda r, n: r.normal(0.2, 1.3, size=n),
    "cauchy": lambda r, n: r.standard_cauchy(size=n),
    "lognormal": lambda r, n: r.lognormal(0, 2, size=n),
    "discrete": lambda r, n: r.integers(0, 6, size=n).astype(float),
    "half-steps": lambda r, n: r.integers(0, 12, size=n) / 2.0,
}


@pytest.mark.parametrize("ref_kind", sorted(SAMPLERS))
@pytest.mark.parametrize("live_kind", ["normal", "shifted", "discrete", "lognormal"])
def test_ks_equals_scipys_statistic_on_random_inputs(rng, ref_kind, live_kind):
    for _ in range(10):
        m, n = (int(v) for v in rng.integers(1, 3000, size=2))
        a, b = SAMPLERS[ref_kind](rng, m), SAMPLERS[live_kind](rng, n)
        ours = Reference.fit({"x": a}).ks({"x": b})["x"]
        assert ours == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-9)


@pytest.mark.parametrize("shift", [0.0, 0.01, 0.3])
def test_ks_equals_scipys_statistic_at_large_sizes(rng, shift):
    a, b = rng.normal(size=100_000), rng.normal(shift, 1, size=300_000)
    ours = Reference.fit({"x": a}).ks({"x": b})["x"]
    assert ours == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-9)


def test_ks_of_float32_live_data_equals_scipy_on_the_same_values(rng):
    a, b = rng.normal(size=5000), rng.normal(size=5000).astype(np.float32)
    ours = Reference.fit({"x": a}).ks({"x": b})["x"]
    assert ours == pytest.approx(stats.ks_2samp(a, b.astype(np.float64)).statistic, abs=1e-9)


def test_ks_critical_d_shrinks_with_size_and_grows_with_bonferroni():
    one = ks_critical_d(10_000, 10_000, alpha=0.05)
    assert one == pytest.approx(1.358 * math.sqrt(2 / 10_000), rel=1e-3)
    assert ks_critical_d(10_000, 10_000, alpha=0.05, tests=20) > one
    assert ks_critical_d(1_000_000, 1_000_000) < one


def test_reference_ks_critical_is_bonferroni_over_its_numeric_features(rng):
    ref = Reference.fit(
        {"a": rng.normal(size=1000), "b": rng.normal(size=1000), "c": np.array(["x"] * 1000)}
    )
    crit = ref.ks_critical(n_live=2000, alpha=0.01)
    assert set(crit) == {"a", "b"}
    assert crit["a"] == pytest.approx(ks_critical_d(1000, 2000, 0.01, tests=2))


@pytest.mark.parametrize(
    ("n_ref", "n_live", "alpha", "tests"), [(0, 10, 0.05, 1), (10, 10, 1.5, 1), (10, 10, 0.05, 0)]
)
def test_ks_critical_d_rejects_meaningless_arguments(n_ref, n_live, alpha, tests):
    with pytest.raises(ValueError, match="ks_critical_d"):
        ks_critical_d(n_ref, n_live, alpha, tests)


# --- nulls -----------------------------------------------------------------------------


def test_nulls_are_invisible_to_psi_and_ks_and_reported_by_null_share(rng):
    """FACTS: nulling 95% of a column leaves drift statistics at "no drift"."""
    data = rng.normal(size=20_000)
    live = rng.normal(size=20_000)
    live[rng.random(20_000) < 0.95] = np.nan
    ref = Reference.fit({"x": data})
    assert ref.psi({"x": live})["x"] < PSI_MODERATE
    valid = live[~np.isnan(live)]
    assert ref.ks({"x": live})["x"] == pytest.approx(
        stats.ks_2samp(data, valid).statistic, abs=1e-9
    )
    assert ref.null_share({"x": live})["x"] == pytest.approx(0.95, abs=0.01)


def test_reference_nulls_are_left_out_of_the_fit(rng):
    data = rng.normal(size=2000)
    data[::2] = np.nan
    num = Reference.fit({"x": data}).numeric["x"]
    assert num.values.size == 1000
    assert num.proportions.sum() == pytest.approx(1.0)


def test_categorical_nulls_are_none_or_nan_in_object_columns():
    live = np.array(["web", None, float("nan"), "app"], dtype=object)
    ref = Reference.fit({"channel": np.array(["web", "app"], dtype=object)})
    assert ref.null_share({"channel": live})["channel"] == 0.5
    assert ref.psi({"channel": live})["channel"] < 1e-9


# --- categorical -----------------------------------------------------------------------


def test_categorical_psi_is_small_for_the_same_mix_and_large_for_a_new_mix(rng):
    channels = np.array(["web", "app", "pos"])
    ref = Reference.fit({"channel": rng.choice(channels, 10_000, p=[0.5, 0.3, 0.2])})
    same = rng.choice(channels, 10_000, p=[0.5, 0.3, 0.2])
    moved = rng.choice(channels, 10_000, p=[0.2, 0.3, 0.5])
    assert ref.psi({"channel": same})["channel"] < 0.01
    assert ref.psi({"channel": moved})["channel"] > PSI_LARGE


def test_unseen_categories_fall_in_the_other_bucket(rng):
    cat = Reference.fit({"c": rng.choice(["web", "app"], 1000)}).categorical["c"]
    assert cat.categories == ("app", "web")
    counts = cat.counts(np.array(["web", "kiosk", "atm", "app", "kiosk"]))
    assert counts.tolist() == [1, 1, 3]
    assert cat.psi(np.array(["kiosk"] * 100)) > PSI_LARGE
    assert OTHER == "__other__"


# --- JSON, shapes and degenerate data -----------------------------------------------------


def _mixed(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    x = rng.normal(shift, 1, size=n)
    x[::10] = np.nan
    return {
        "x": x,
        "k": rng.integers(0, 4, size=n).astype(float),
        "channel": rng.choice(np.array(["web", "app", "pos"], dtype=object), n),
    }


def test_json_round_trip_gives_identical_statistics(rng):
    ref = Reference.fit(_mixed(rng, 5000))
    text = ref.to_json()
    doc = json.loads(text)
    assert doc["format"] == "gameday.drift.reference"
    back = Reference.from_json(text)
    live = _mixed(rng, 3000, shift=0.3)
    assert back.features == ref.features == ("x", "k", "channel")
    assert back.psi(live) == ref.psi(live)
    assert back.ks(live) == ref.ks(live)
    assert back.null_share(live) == ref.null_share(live)
    assert np.array_equal(back.numeric["x"].edges, ref.numeric["x"].edges)


@pytest.mark.parametrize(
    "doc", [{"format": "other", "version": 1}, {"format": "gameday.drift.reference", "version": 1}]
)
def test_from_json_rejects_other_documents(doc):
    with pytest.raises(ValueError, match="drift reference"):
        Reference.from_json(json.dumps(doc))


def test_two_d_arrays_need_names_and_live_defaults_to_reference_order(rng):
    data = rng.normal(size=(4000, 3))
    ref = Reference.fit(data, names=["a", "b", "c"])
    live = rng.normal(size=(4000, 3))
    live[:, 2] += 1.0
    psi = ref.psi(live)
    assert list(psi) == ["a", "b", "c"]
    assert psi["c"] > PSI_LARGE > psi["a"]
    assert ref.ks(live)["b"] == pytest.approx(
        stats.ks_2samp(data[:, 1], live[:, 1]).statistic, abs=1e-9
    )
    with pytest.raises(ValueError, match="one name per column"):
        Reference.fit(data)


def test_live_data_missing_a_reference_feature_is_refused_by_name(rng):
    ref = Reference.fit({"a": rng.normal(size=100), "b": rng.normal(size=100)})
    with pytest.raises(ValueError, match=r"lacks reference feature\(s\) \['b'\]"):
        ref.psi({"a": rng.normal(size=100), "extra": rng.normal(size=100)})


def test_constant_feature_has_its_own_bin_so_moving_off_it_is_drift():
    ref = Reference.fit({"k": np.full(1000, 3.0)})
    assert ref.psi({"k": np.full(500, 3.0)})["k"] == 0.0
    assert ref.psi({"k": np.full(500, 3.5)})["k"] > PSI_LARGE
    assert ref.ks({"k": np.full(500, 3.5)})["k"] == 1.0
    assert ref.ks({"k": np.full(500, 3.0)})["k"] == 0.0


def test_discrete_feature_values_between_reference_atoms_show_as_drift(rng):
    ref = Reference.fit({"k": rng.integers(0, 3, size=3000).astype(float)})
    assert ref.psi({"k": rng.integers(0, 3, size=3000).astype(float)})["k"] < 0.01
    assert ref.psi({"k": np.full(3000, 0.5)})["k"] > PSI_LARGE


def test_all_nan_live_column_gives_nan_statistics_not_zero(rng):
    ref = Reference.fit(_mixed(rng, 1000))
    live = _mixed(rng, 500)
    live["x"] = np.full(500, np.nan)
    live["channel"] = np.array([None] * 500, dtype=object)
    assert math.isnan(ref.psi(live)["x"])
    assert math.isnan(ref.ks(live)["x"])
    assert math.isnan(ref.psi(live)["channel"])
    assert ref.null_share(live)["x"] == 1.0
    assert ref.null_share(live)["channel"] == 1.0


def test_all_nan_reference_column_cannot_judge_drift(rng):
    ref = Reference.fit({"x": np.full(100, np.nan)})
    assert math.isnan(ref.psi({"x": rng.normal(size=10)})["x"])
    assert math.isnan(ref.ks({"x": rng.normal(size=10)})["x"])
    assert Reference.from_json(ref.to_json()).numeric["x"].values.size == 0


def test_empty_live_column_has_nan_null_share(rng):
    ref = Reference.fit({"x": rng.normal(size=10)})
    assert math.isnan(ref.null_share({"x": np.array([])})["x"])


def test_bins_below_one_are_refused(rng):
    with pytest.raises(ValueError, match="bins must be >= 1"):
        Reference.fit({"x": rng.normal(size=10)}, bins=0)


def test_ks_equals_scipy_for_large_discrete_and_mixed_samples(rng):
    """Atoms hold many values per bin: exercises both ways of counting inside open bins."""
    discrete = rng.poisson(4, size=200_000).astype(float)
    mixed = np.where(
        rng.random(200_000) < 0.5, np.round(rng.normal(size=200_000), 1), rng.normal(size=200_000)
    )
    for ref_col, live_col in [
        (discrete, rng.poisson(4.2, size=400_000).astype(float)),
        (mixed, np.round(rng.normal(0.05, 1, size=400_000), 2)),
    ]:
        ours = Reference.fit({"x": ref_col}).ks({"x": live_col})["x"]
        assert ours == pytest.approx(stats.ks_2samp(ref_col, live_col).statistic, abs=1e-9)


def test_extreme_and_infinite_values_match_scipy_without_overflow_warnings(rng):
    ref_col = np.array([-1.7e308, -1.0, 0.0, 1.0, 2.0, 1.7e308, np.inf, -np.inf])
    live_col = np.array([1.7e308, -1.7e308, 5.0, np.inf, 0.5])
    with np.errstate(all="raise"):
        ref = Reference.fit({"x": ref_col})
        ours = ref.ks({"x": live_col})["x"]
        assert math.isfinite(ref.psi({"x": live_col})["x"])
    assert ours == pytest.approx(stats.ks_2samp(ref_col, live_col).statistic, abs=1e-9)


def test_from_json_rejects_a_reference_whose_features_do_not_match_its_columns(rng):
    doc = Reference.fit({"x": rng.normal(size=100)}).to_dict()
    doc["features"] = ["x", "y"]
    with pytest.raises(ValueError, match="malformed gameday drift reference"):
        Reference.from_dict(doc)
