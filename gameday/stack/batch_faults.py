"""Data faults as the upstream producer applies them to batches it emits.

Each kind transforms a *copy* of a clean batch (or drops or duplicates it) and records in
the fault's evidence exactly what it changed: batch ids, rows, columns. Randomness is
seeded by the fault's ``seed`` and the batch, so a game day is reproducible.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import random
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gameday.stack import features as F
from gameday.stack.service_faults import ActiveFault

CORRUPT_MODES = ("garbage", "out_of_range", "wrong_type", "swapped_columns", "sentinel")


@dataclass
class Batch:
    """One batch about to be written: columns, or ``raw`` bytes once it is no longer CSV-clean."""

    batch_id: str
    columns: dict[str, Any]
    raw: bytes | None = None

    @property
    def row_count(self) -> int:
        return len(self.columns["entity_id"]) if "entity_id" in self.columns else 0


def _fraction(params: Mapping[str, Any], default: float = 1.0) -> float:
    value = float(params.get("fraction", default))
    if not 0 < value <= 1:
        raise ValueError("fraction must be within (0, 1]")
    return value


def _column(params: Mapping[str, Any], default: str, numeric: bool = True) -> str:
    name = str(params.get("column") or params.get("feature") or default)
    allowed = F.NUMERIC_NAMES if numeric else F.FEATURE_NAMES
    if name not in allowed:
        raise ValueError(f"unknown column {name!r}; known: {', '.join(allowed)}")
    return name


def _common(params: Mapping[str, Any]) -> dict[str, Any]:
    batches = int(params.get("batches", 0))
    if batches < 0:
        raise ValueError("batches must be >= 0 (0 = every batch while active)")
    return {"batches": batches, "seed": int(params.get("seed", 0))}


def _corrupt_params(params: Mapping[str, Any]) -> dict[str, Any]:
    mode = str(params.get("mode", "garbage"))
    if mode not in CORRUPT_MODES:
        raise ValueError(f"mode must be one of {', '.join(CORRUPT_MODES)}")
    return {
        **_common(params),
        "mode": mode,
        "fraction": _fraction(params, 0.2),
        "column": _column(params, "account_age_days"),
    }


def _null_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **_common(params),
        "column": _column(params, "merchant_risk", numeric=False),
        "fraction": _fraction(params),
    }


def _drift_params(params: Mapping[str, Any]) -> dict[str, Any]:
    shift, scale = float(params.get("shift_sigma", 0.0)), float(params.get("scale", 1.0))
    if scale <= 0 or (shift == 0 and scale == 1):
        raise ValueError("drift needs shift_sigma != 0 and/or scale > 0 and != 1")
    return {
        **_common(params),
        "column": _column(params, "merchant_risk"),
        "shift_sigma": shift,
        "scale": scale,
    }


def _unit_params(params: Mapping[str, Any]) -> dict[str, Any]:
    factor = float(params.get("factor", 1000))
    if factor <= 0 or factor == 1:
        raise ValueError("factor must be > 0 and != 1")
    return {**_common(params), "column": _column(params, "avg_amount_30d"), "factor": factor}


def _type_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {**_common(params), "column": _column(params, "txn_count_7d")}


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return _common(params)


KINDS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "corrupt_batch": _corrupt_params,
    "null_column": _null_params,
    "drift": _drift_params,
    "unit_change": _unit_params,
    "type_change": _type_params,
    "stale": _plain,
    "duplicate_batch": _plain,
    "empty_batch": _plain,
}


def apply_all(faults: list[ActiveFault], batch: Batch) -> list[Batch]:
    """The batches to write instead of ``batch``, after every active fault had its turn."""
    out = [batch]
    for fault in faults:
        limit = fault.params.get("batches", 0)
        if limit and len(fault.evidence.get("batches", [])) >= limit:
            continue
        out = [b for item in out for b in _apply(fault, item)]
    return out


def _apply(fault: ActiveFault, batch: Batch) -> list[Batch]:
    rng = np.random.default_rng((fault.params.get("seed", 0), zlib.crc32(batch.batch_id.encode())))
    if fault.kind == "stale":
        _record(fault, batch.batch_id, rows=0, dropped=True)
        return []
    if fault.kind == "duplicate_batch":
        previous = fault.state.get("previous")
        fault.state["previous"] = copy.deepcopy(batch.columns)
        if previous is None:
            return [batch]
        dup = Batch(f"{batch.batch_id}-dup", previous)
        _record(fault, dup.batch_id, rows=dup.row_count)
        return [batch, dup]
    changed = copy.deepcopy(batch)
    rows = _TRANSFORMS[fault.kind](fault.params, changed, rng)
    _record(fault, batch.batch_id, rows=rows, column=fault.params.get("column"))
    return [changed]


def _record(
    fault: ActiveFault, batch_id: str, rows: int, column: str | None = None, dropped: bool = False
) -> None:
    ev = fault.evidence
    ev.setdefault("batches", []).append(batch_id)
    ev["rows"] = ev.get("rows", 0) + rows
    if column and column not in ev.setdefault("columns", []):
        ev["columns"].append(column)
    if dropped:
        ev["dropped"] = ev.get("dropped", 0) + 1


def _pick(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    k = max(1, round(n * fraction))
    return np.sort(rng.choice(n, size=min(k, n), replace=False))


def _null(params: dict[str, Any], batch: Batch, rng: np.random.Generator) -> int:
    idx = _pick(rng, batch.row_count, params["fraction"])
    col = batch.columns[params["column"]].astype(object)
    col[idx] = None
    batch.columns[params["column"]] = col
    return len(idx)


def _drift(params: dict[str, Any], batch: Batch, rng: np.random.Generator) -> int:
    name = params["column"]
    feat = F.BY_NAME[name]
    mean, std = _moments(name)
    values = batch.columns[name].astype(float)
    drifted = mean + (values - mean) * params["scale"] + params["shift_sigma"] * std
    # Drift moves values within what validation accepts: it is meant to pass the pipeline.
    batch.columns[name] = np.clip(drifted, feat.low, feat.high)
    return batch.row_count


@functools.cache
def _moments(name: str) -> tuple[float, float]:
    ref = F.generate(np.random.default_rng(0), 20_000, nulls=False)[name]
    return float(ref.mean()), float(ref.std())


def _unit(params: dict[str, Any], batch: Batch, rng: np.random.Generator) -> int:
    name = params["column"]
    batch.columns[name] = batch.columns[name].astype(float) * params["factor"]
    return batch.row_count


def _type_change(params: dict[str, Any], batch: Batch, rng: np.random.Generator) -> int:
    name = params["column"]
    batch.columns[name] = np.array([f"{v:g} units" for v in batch.columns[name]], dtype=object)
    return batch.row_count


def _empty(params: dict[str, Any], batch: Batch, rng: np.random.Generator) -> int:
    rows = batch.row_count
    batch.columns = {k: v[:0] for k, v in batch.columns.items()}
    return rows


def _corrupt(params: dict[str, Any], batch: Batch, rng: np.random.Generator) -> int:
    idx = _pick(rng, batch.row_count, params["fraction"])
    mode, name = params["mode"], params["column"]
    if mode == "garbage":
        return _garbage(batch, idx, rng)
    col = batch.columns[name].astype(object)
    if mode == "out_of_range":
        col[idx] = [F.BY_NAME[name].high * 1000.0 + 1] * len(idx)
    elif mode == "sentinel":
        col[idx] = [-1] * len(idx)
    elif mode == "wrong_type":
        col[idx] = ["N/A"] * len(idx)
    elif mode == "swapped_columns":
        other = "txn_count_7d" if name != "txn_count_7d" else "account_age_days"
        a, b = batch.columns[name].copy(), batch.columns[other].copy()
        batch.columns[name], batch.columns[other] = b, a
        return batch.row_count
    batch.columns[name] = col
    return len(idx)


def _garbage(batch: Batch, idx: np.ndarray, rng: np.random.Generator) -> int:
    lines = to_csv(batch.columns).split(b"\n")
    junk = random.Random(int(rng.integers(2**31)))
    for i in idx:
        lines[i + 1] = bytes(junk.randrange(33, 127) for _ in range(junk.randrange(5, 60)))
    batch.raw = b"\n".join(lines)
    return len(idx)


def to_csv(columns: dict[str, Any]) -> bytes:
    """Columns as CSV text in batch column order (NaN and None written as empty fields)."""
    names = [c for c in F.BATCH_COLUMNS if c in columns] + [
        c for c in columns if c not in F.BATCH_COLUMNS
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    n = len(next(iter(columns.values()))) if columns else 0
    cells = [[_cell(v) for v in columns[name]] for name in names]
    writer.writerows(zip(*cells, strict=True) if n else [])
    return buf.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        return repr(float(value))
    return str(value)


_TRANSFORMS: dict[str, Callable[[dict[str, Any], Batch, np.random.Generator], int]] = {
    "null_column": _null,
    "drift": _drift,
    "unit_change": _unit,
    "type_change": _type_change,
    "empty_batch": _empty,
    "corrupt_batch": _corrupt,
}
