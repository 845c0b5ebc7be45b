"""Benchmark drift statistics: 1e6 live rows x 20 features against a cached reference.

Side by side, in one run: our PSI vs a plain numpy PSI (searchsorted + bincount per feature,
the FACTS.md anchor), our KS vs ``scipy.stats.ks_2samp`` per feature (and the largest
difference between the two statistics), and Evidently's data-drift preset when it is
importable. The reference goes through JSON first, as the drift monitor loads it.

    /work/venv/bin/python bench/drift.py [--rows 1000000] [--ref-rows 100000] [--features 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from scipy import stats

from gameday.analysis.drift import Reference

TARGET_S = 0.5
T = TypeVar("T")


def _column(rng: np.random.Generator, j: int, n: int, drift: bool) -> np.ndarray:
    """Feature ``j``: a mix of shapes (normal, skewed, heavy-tailed, discrete), some nulls."""
    shift = 0.1 if drift else 0.0
    kind = j % 5
    if kind == 0:
        col = rng.normal(shift, 1.0, n)
    elif kind == 1:
        col = rng.lognormal(shift, 1.0, n)
    elif kind == 2:
        col = rng.standard_t(3, n) * (1.2 if drift else 1.0)
    elif kind == 3:
        col = rng.poisson(4.0 + 4 * shift, n).astype(np.float64)
    else:
        col = rng.exponential(1.0 + shift, n)
    if j % 4 == 1:
        col[rng.random(n) < 0.01] = np.nan
    return col


def _data(rng: np.random.Generator, n: int, features: int, live: bool) -> dict[str, np.ndarray]:
    return {f"f{j:02d}": _column(rng, j, n, live and j % 3 == 0) for j in range(features)}


def _best(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Best wall time over ``repeat`` runs (the least disturbed by the shared cores)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _numpy_psi(ref: Reference, live: dict[str, np.ndarray]) -> dict[str, float]:
    """The straightforward numpy PSI: drop NaNs, searchsorted into the edges, bincount."""
    out = {}
    for k, num in ref.numeric.items():
        x = live[k][~np.isnan(live[k])]
        counts = np.bincount(
            np.searchsorted(num.edges, x, side="right"), minlength=num.edges.size + 1
        )
        p, q = np.maximum(counts / x.size, 1e-4), np.maximum(num.proportions, 1e-4)
        out[k] = float(np.sum((p - q) * np.log(p / q)))
    return out


def _scipy_ks(ref: Reference, live: dict[str, np.ndarray]) -> dict[str, float]:
    return {
        k: float(stats.ks_2samp(num.values, live[k][~np.isnan(live[k])]).statistic)
        for k, num in ref.numeric.items()
    }


def _evidently(
    ref_data: dict[str, np.ndarray], live: dict[str, np.ndarray], method: str
) -> float | str:
    """Seconds for Evidently's drift preset with ``method``, or why it could not run."""
    try:
        import pandas as pd
        from evidently import Report
        from evidently.presets import DataDriftPreset
    except ImportError as exc:
        return f"skipped: Evidently is not importable ({exc})"
    ref_df, live_df = pd.DataFrame(ref_data), pd.DataFrame(live)
    t0 = time.perf_counter()
    try:
        Report([DataDriftPreset(method=method)]).run(live_df, ref_df)
    except Exception as exc:  # noqa: BLE001 (an optional comparison must not end the bench)
        return f"failed: {exc!r}"
    return time.perf_counter() - t0


def _line(name: str, seconds: float, ours: float, note: str = "") -> None:
    print(f"  {name:38s} {seconds:8.3f} s   {seconds / ours:7.1f}x ours {note}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--ref-rows", type=int, default=100_000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-evidently", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    ref_data = _data(rng, args.ref_rows, args.features, live=False)
    live = _data(rng, args.rows, args.features, live=True)
    fit_s, fitted = _best(lambda: Reference.fit(ref_data), 1)
    text = fitted.to_json()
    load_s, ref = _best(lambda: Reference.from_json(text), 1)
    warm_s, _ = _best(lambda: ref.ks({k: v[:10] for k, v in live.items()}), 1)
    print(
        f"reference: {args.ref_rows:,} rows x {args.features} features; fit {fit_s:.3f} s, "
        f"JSON {len(text) / 1e6:.1f} MB, load {load_s:.3f} s, KS tables {warm_s:.3f} s"
    )
    print(f"live: {args.rows:,} rows x {args.features} features (best of {args.repeat})")
    _report(args, ref, ref_data, live)


def _report(
    args: argparse.Namespace,
    ref: Reference,
    ref_data: dict[str, np.ndarray],
    live: dict[str, np.ndarray],
) -> None:
    psi_s, ks_s = _ours_vs_baselines(args, ref, live)
    if not args.no_evidently:
        _versus_evidently(ref_data, live, psi_s, ks_s)


def _ours_vs_baselines(
    args: argparse.Namespace, ref: Reference, live: dict[str, np.ndarray]
) -> tuple[float, float]:
    psi_s, psi = _best(lambda: ref.psi(live), args.repeat)
    ks_s, ks = _best(lambda: ref.ks(live), args.repeat)
    np_s, np_psi = _best(lambda: _numpy_psi(ref, live), max(1, args.repeat // 2))
    sp_s, sp_ks = _best(lambda: _scipy_ks(ref, live), 1)
    print("PSI")
    _line("gameday.analysis.drift Reference.psi", psi_s, psi_s, _verdict(psi_s))
    _line(
        "numpy searchsorted + bincount",
        np_s,
        psi_s,
        f"(max |diff| {max(abs(psi[k] - np_psi[k]) for k in np_psi):.1e})",
    )
    print("KS statistic")
    _line("gameday.analysis.drift Reference.ks", ks_s, ks_s, _verdict(ks_s))
    _line(
        "scipy.stats.ks_2samp per feature",
        sp_s,
        ks_s,
        f"(max |diff| {max(abs(ks[k] - sp_ks[k]) for k in sp_ks):.1e})",
    )
    crit = ref.ks_critical(args.rows, alpha=0.01)
    drifted = [k for k in ks if ks[k] > crit[k]]
    print(
        f"drifted by KS (D > Bonferroni critical D at alpha 0.01, "
        f"{min(crit.values()):.4f}..{max(crit.values()):.4f}): {', '.join(drifted)}"
    )
    print(
        f"their PSI: {', '.join(f'{k} {psi[k]:.3f}' for k in drifted)} (seeded drift: "
        f"0.1 sd shifts or 1.2x scale, below PSI's 'moderate' 0.1)"
    )
    return psi_s, ks_s


def _verdict(seconds: float) -> str:
    return f"(target <= {TARGET_S} s: {'met' if seconds <= TARGET_S else 'MISSED'})"


def _versus_evidently(
    ref_data: dict[str, np.ndarray], live: dict[str, np.ndarray], psi_s: float, ks_s: float
) -> None:
    print("Evidently DataDriftPreset (pandas frames built outside the timing)")
    for method, ours in (("psi", psi_s), ("ks", ks_s)):
        result = _evidently(ref_data, live, method)
        if isinstance(result, str):
            print(f"  method={method}: {result}")
            if result.startswith("skipped"):
                return
        else:
            _line(f"Evidently method={method}", result, ours)


if __name__ == "__main__":
    main()
