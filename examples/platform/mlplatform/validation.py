"""What ingestion checks in a batch before its features reach the online store (pandera).

A batch is rejected, with every reason found, when it cannot be read (``unreadable``), has no
rows (``empty``), lacks a column (``missing_column``), holds a non-number where a feature
belongs (``wrong_type``), has more than ``max_null_fraction`` of a feature null or any
entity/timestamp null (``nulls``), a value outside the feature's plausible range
(``out_of_range``), or a malformed customer id (``bad_entity``). Nulls under the limit pass:
the models impute them, and ingestion counts them.

Drift is measured, not rejected: the population stability index (PSI) of each feature in a
batch against the generator's healthy reference, over 10 quantile bins of the reference.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from mlplatform import features as F

REASONS = (
    "unreadable",
    "empty",
    "missing_column",
    "wrong_type",
    "nulls",
    "out_of_range",
    "bad_entity",
    "invalid",
)
DEFAULT_MAX_NULL_FRACTION = 0.5
PSI_BINS = 10
_PSI_FLOOR = 1e-4  # an empty bin would make PSI infinite
_MIN_ROWS_FOR_PSI = 20
_NULL_FRACTION = "null_fraction"


@dataclass(frozen=True)
class Verdict:
    """The outcome of validating one batch: the coerced frame when accepted, else the
    reasons (see :data:`REASONS`) and what failed, column by check."""

    frame: pd.DataFrame | None
    reasons: tuple[str, ...] = ()
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.reasons


def read(path: Path) -> pd.DataFrame:
    """The batch at ``path`` as a frame (raises on a file that is not readable Parquet)."""
    return pd.read_parquet(path)


def null_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Null values of each feature column the batch has."""
    return {name: int(frame[name].isna().sum()) for name in F.FEATURES if name in frame}


def _null_fraction_at_most(limit: float) -> pa.Check:
    return pa.Check(
        lambda s: bool(s.isna().mean() <= limit),
        element_wise=False,
        ignore_na=False,
        name=_NULL_FRACTION,
    )


def schema(max_null_fraction: float = DEFAULT_MAX_NULL_FRACTION) -> pa.DataFrameSchema:
    """The batch contract: entity, timestamp and every feature as float64 within range."""
    columns: dict[str, pa.Column] = {
        F.ENTITY: pa.Column(str, pa.Check.str_matches(r"^c\d{6}$")),
        F.TIMESTAMP: pa.Column(pd.DatetimeTZDtype("ns", "UTC"), coerce=True),
    }
    for name in F.FEATURES:
        low, high = F.RANGES[name]
        columns[name] = pa.Column(
            "float64",
            [pa.Check.in_range(low, high), _null_fraction_at_most(max_null_fraction)],
            nullable=True,
            coerce=True,
        )
    return pa.DataFrameSchema(columns, strict=False)


def _reason(check: str) -> str:
    if check == "column_in_dataframe":
        return "missing_column"
    if check.startswith(("coerce_dtype", "dtype(")):
        return "wrong_type"
    if check in (_NULL_FRACTION, "not_nullable"):
        return "nulls"
    if check.startswith(("in_range", "greater_than", "less_than")):
        return "out_of_range"
    if check.startswith("str_matches"):
        return "bad_entity"
    return "invalid"


def _cases(cases: pd.DataFrame) -> pd.DataFrame:
    """Failure cases with the missing column named, and a column that could not be coerced
    reported once (its range check then fails on text, which says nothing more)."""
    cases = cases.copy()
    missing = cases["check"] == "column_in_dataframe"
    cases.loc[missing, "column"] = cases.loc[missing, "failure_case"]
    cases["check"] = cases["check"].astype(str)
    mistyped = set(cases.loc[cases["check"].map(_reason) == "wrong_type", "column"])
    return cases[~cases["column"].isin(mistyped) | (cases["check"].map(_reason) == "wrong_type")]


def _failures(cases: pd.DataFrame) -> list[dict[str, Any]]:
    """What failed, one entry per (column, check), with a count and a few examples."""
    out = []
    for (column, check), group in cases.groupby(["column", "check"], sort=True):
        examples = [str(v) for v in group["failure_case"].head(3).tolist()]
        out.append(
            {
                "column": str(column),
                "check": str(check),
                "failures": len(group),
                "examples": examples,
            }
        )
    return out


def _utc_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    # A pipeline may write naive timestamps that mean UTC; pandera would refuse to coerce them.
    column = frame.get(F.TIMESTAMP)
    if column is not None and pd.api.types.is_datetime64_dtype(column) and column.dt.tz is None:
        frame = frame.assign(**{F.TIMESTAMP: column.dt.tz_localize("UTC")})
    return frame


def validate(frame: pd.DataFrame, max_null_fraction: float = DEFAULT_MAX_NULL_FRACTION) -> Verdict:
    """Validate ``frame`` against :func:`schema`; every failure is collected (lazy)."""
    if frame.empty:
        return Verdict(None, ("empty",))
    try:
        coerced = schema(max_null_fraction).validate(_utc_timestamps(frame), lazy=True)
    except SchemaErrors as exc:
        cases = _cases(exc.failure_cases)
        reasons = Counter(_reason(str(c)) for c in cases["check"])
        return Verdict(None, tuple(sorted(reasons)), _failures(cases))
    return Verdict(coerced[[F.ENTITY, *F.FEATURES, F.TIMESTAMP]])


class DriftMeter:
    """PSI of a batch's features against the healthy reference, over its decile bins."""

    def __init__(self, reference: pd.DataFrame | None = None, bins: int = PSI_BINS):
        ref = reference if reference is not None else F.reference()
        quantiles = np.linspace(0.0, 1.0, bins + 1)[1:-1]
        self.edges = {n: np.unique(np.quantile(ref[n], quantiles)) for n in F.FEATURES}
        self.expected = {n: self._shares(n, ref[n].to_numpy()) for n in F.FEATURES}

    def _shares(self, name: str, values: np.ndarray) -> np.ndarray:
        bins = np.searchsorted(self.edges[name], values, side="right")
        counts = np.bincount(bins, minlength=len(self.edges[name]) + 1)
        return np.maximum(counts / max(1, len(values)), _PSI_FLOOR)

    def psi(self, frame: pd.DataFrame) -> dict[str, float]:
        """PSI of each numeric feature with enough non-null values; others are left out."""
        out = {}
        for name in F.FEATURES:
            if name not in frame:
                continue
            values = pd.to_numeric(frame[name], errors="coerce").dropna().to_numpy(np.float64)
            if len(values) < _MIN_ROWS_FOR_PSI:
                continue
            actual, expected = self._shares(name, values), self.expected[name]
            out[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
        return out
