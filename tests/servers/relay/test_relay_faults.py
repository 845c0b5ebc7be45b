"""Content faults through the relay, for Parquet, CSV and JSON Lines: what lands, what the
evidence says, and that the original is untouched and kept until the fault is reverted."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gameday.servers.relay.testing import landed, wait_until, write_batch, write_rows

FORMATS = ["parquet", "csv", "jsonl"]
ROWS: dict[str, list[Any]] = {
    "user": list(range(1, 11)),
    "amount": [10.5, 20.25, 30.5, 40.75, 50.5, 60.25, 70.5, 80.75, 90.5, 100.25],
    "label": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    "country": ["fr", "de", "it", "es", "pt", "fr", "de", "it", "es", "pt"],
}


def _cell(text: str) -> object:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def columns(path: Path) -> dict[str, list[Any]]:
    """A landed batch read the way a pipeline would, without the relay's own code."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        return pq.read_table(pa.BufferReader(data)).to_pydict()
    if path.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        names = next(csv.reader(io.StringIO(data.decode())))
        return {n: [_cell(r[n]) for r in rows] for n in names}
    records = [json.loads(line) for line in data.splitlines() if line.strip()]
    names = list(dict.fromkeys(k for r in records for k in r))
    return {n: [r.get(n) for r in records] for n in names}


def produce(folders, fmt: str, name: str = "b-0001", rows: Any = None) -> tuple[Path, bytes]:
    """Write a batch to upstream and wait until it lands; its landing path and original bytes."""
    file = f"{name}.{fmt}"
    data = write_rows(folders.upstream, file, ROWS if rows is None else rows)
    wait_until(lambda: file in landed(folders.landing))
    return folders.landing / file, data


def assert_kept_until_revert(api, relay: str, fault: str, folders, original: bytes) -> None:
    assert [p.read_bytes() for p in folders.kept()] == [original]
    api.remove_fault(relay, fault)
    assert folders.kept() == []


def changed_rows(before: list[Any], after: list[Any]) -> list[int]:
    return [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]


# --- null_column ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_null_column_nulls_a_share_of_the_column(api, relay, folders, fmt):
    api.add_fault(
        relay, name="f", type="null_column", attributes={"column": "amount", "fraction": 0.4}
    )
    path, original = produce(folders, fmt)
    got = columns(path)
    nulled = [i for i, v in enumerate(got["amount"]) if v is None]
    assert len(nulled) == 4
    assert all(got["amount"][i] == ROWS["amount"][i] for i in range(10) if i not in nulled)
    assert {k: v for k, v in got.items() if k != "amount"} == {
        k: v for k, v in ROWS.items() if k != "amount"
    }
    evidence = api.fault(relay, "f")["evidence"]
    assert evidence == {
        "batches": ["b-0001"],
        "rows": 4,
        "columns": ["amount"],
        "held": 0,
        "released": 0,
        "dropped": 0,
    }
    assert_kept_until_revert(api, relay, "f", folders, original)
    assert columns(path)["amount"] == got["amount"]  # what landed stays landed


@pytest.mark.parametrize("fmt", FORMATS)
def test_null_column_keeps_untouched_rows_exact(api, relay, folders, fmt):
    """Rows and columns a fault does not change keep their values (and, for JSON Lines, bytes)."""
    api.add_fault(relay, type="null_column", attributes={"column": "country", "fraction": 0.1})
    path, original = produce(folders, fmt)
    assert columns(path)["user"] == ROWS["user"]
    if fmt == "jsonl":
        lines_before, lines_after = original.splitlines(), path.read_bytes().splitlines()
        assert len(changed_rows(lines_before, lines_after)) == 1


# --- drift ------------------------------------------------------------------------------------


def _normal_rows(seed: int, n: int = 300) -> dict[str, list[Any]]:
    rng = np.random.default_rng(seed)
    return {"id": list(range(n)), "amount": [round(x, 3) for x in rng.normal(100, 10, n)]}


@pytest.mark.parametrize("fmt", FORMATS)
def test_drift_shifts_by_the_clean_batches_sigma_within_their_range(api, relay, folders, fmt):
    clean = [_normal_rows(seed) for seed in range(3)]
    for i, rows in enumerate(clean):
        produce(folders, fmt, f"clean-{i}", rows)
    seen = np.array([v for rows in clean for v in rows["amount"]])
    api.add_fault(relay, name="d", type="drift", attributes={"column": "amount", "shift_sigma": 1})
    batch = _normal_rows(9)
    path, _ = produce(folders, fmt, "drifted", batch)
    got = np.array(columns(path)["amount"], dtype=float)
    before = np.array(batch["amount"])
    assert got.min() >= seen.min() - 1e-9
    assert got.max() <= seen.max() + 1e-9
    expected = np.clip(before + seen.std(), seen.min(), seen.max())
    assert np.allclose(got, expected, atol=1e-6)
    assert got.mean() - before.mean() > 0.8 * seen.std()
    assert columns(path)["id"] == batch["id"]
    evidence = api.fault(relay, "d")["evidence"]
    assert evidence["batches"] == ["drifted"]
    assert evidence["rows"] == len(before)
    assert evidence["columns"] == ["amount"]


def test_drift_with_no_clean_batch_yet_uses_the_batch_itself(api, relay, folders):
    api.add_fault(relay, type="drift", attributes={"column": "amount", "scale": 0.5})
    path, _ = produce(folders, "parquet")
    got = np.array(columns(path)["amount"])
    own = np.array(ROWS["amount"])
    assert np.allclose(got, own.mean() + (own - own.mean()) * 0.5)


def test_drift_of_an_integer_column_stays_integer(api, relay, folders):
    api.add_fault(relay, type="drift", attributes={"column": "user", "shift_sigma": 0.5})
    path, _ = produce(folders, "parquet")
    table = pq.read_table(path)
    assert table.schema.field("user").type == pa.int64()
    assert table.column("user").to_pylist() != ROWS["user"]


# --- unit_change, type_change, label_flip, empty ------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_unit_change_multiplies_the_column(api, relay, folders, fmt):
    api.add_fault(
        relay, name="u", type="unit_change", attributes={"column": "amount", "factor": 1000}
    )
    path, original = produce(folders, fmt)
    assert columns(path)["amount"] == pytest.approx([v * 1000 for v in ROWS["amount"]])
    assert api.fault(relay, "u")["evidence"]["rows"] == 10
    assert_kept_until_revert(api, relay, "u", folders, original)


def test_unit_change_of_integers_by_an_integer_keeps_integers(api, relay, folders):
    api.add_fault(relay, type="unit_change", attributes={"column": "user", "factor": 100})
    path, _ = produce(folders, "parquet")
    table = pq.read_table(path)
    assert table.schema.field("user").type == pa.int64()
    assert table.column("user").to_pylist() == [u * 100 for u in ROWS["user"]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_type_change_turns_numbers_into_text(api, relay, folders, fmt):
    api.add_fault(relay, name="t", type="type_change", attributes={"column": "user"})
    path, original = produce(folders, fmt)
    assert columns(path)["user"] == [f"{u} units" for u in ROWS["user"]]
    if fmt == "parquet":
        assert pq.read_table(path).schema.field("user").type == pa.string()
    assert api.fault(relay, "t")["evidence"]["rows"] == 10
    assert_kept_until_revert(api, relay, "t", folders, original)


@pytest.mark.parametrize("fmt", FORMATS)
def test_label_flip_flips_a_share_of_a_binary_column(api, relay, folders, fmt):
    api.add_fault(
        relay, name="l", type="label_flip", attributes={"column": "label", "fraction": 0.5}
    )
    path, original = produce(folders, fmt)
    got = columns(path)["label"]
    assert set(got) <= {0, 1}
    assert len(changed_rows(ROWS["label"], got)) == 5
    assert api.fault(relay, "l")["evidence"]["rows"] == 5
    assert_kept_until_revert(api, relay, "l", folders, original)


def test_label_flip_flips_booleans(api, relay, folders):
    api.add_fault(relay, type="label_flip", attributes={"column": "ok", "fraction": 1.0})
    path, _ = produce(folders, "parquet", rows={"ok": [True, False, None]})
    assert columns(path)["ok"] == [False, True, None]


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_keeps_the_header_and_drops_every_row(api, relay, folders, fmt):
    api.add_fault(relay, name="e", type="empty")
    path, original = produce(folders, fmt)
    if fmt == "parquet":
        table = pq.read_table(path)
        assert table.num_rows == 0
        assert table.column_names == list(ROWS)
    elif fmt == "csv":
        assert next(csv.reader(io.StringIO(path.read_text()))) == list(ROWS)
        assert columns(path) == {name: [] for name in ROWS}
    else:
        assert path.read_bytes() == b""
    evidence = api.fault(relay, "e")["evidence"]
    assert (evidence["rows"], evidence["dropped"]) == (10, 10)
    assert_kept_until_revert(api, relay, "e", folders, original)


# --- corrupt ------------------------------------------------------------------------------------


def _corrupt(api, relay, mode: str, **attributes: Any) -> None:
    api.add_fault(relay, name="c", type="corrupt", attributes={"mode": mode, **attributes})


def test_corrupt_garbage_tears_a_parquet_file(api, relay, folders):
    _corrupt(api, relay, "garbage")
    path, original = produce(folders, "parquet")
    with pytest.raises(pa.ArrowInvalid):
        pq.read_table(path)
    assert original.startswith(path.read_bytes())
    assert api.fault(relay, "c")["evidence"]["rows"] == 10
    assert_kept_until_revert(api, relay, "c", folders, original)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_corrupt_garbage_garbles_a_share_of_the_rows(api, relay, folders, fmt):
    _corrupt(api, relay, "garbage", fraction=0.2)
    path, original = produce(folders, fmt)
    lines = path.read_bytes().splitlines()
    bad = []
    for i, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(i)
    assert len(bad) == 2
    assert len(lines) == len(original.splitlines())
    good = [line for i, line in enumerate(original.splitlines()) if i not in bad]
    assert [line for i, line in enumerate(lines) if i not in bad] == good
    assert api.fault(relay, "c")["evidence"]["rows"] == 2
    assert_kept_until_revert(api, relay, "c", folders, original)


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_out_of_range_puts_values_far_outside_the_range(api, relay, folders, fmt):
    _corrupt(api, relay, "out_of_range", column="amount", fraction=0.2)
    path, _ = produce(folders, fmt)
    got = columns(path)["amount"]
    far = [i for i, v in enumerate(got) if v > 10 * max(ROWS["amount"])]
    assert len(far) == 2
    assert changed_rows(ROWS["amount"], got) == far


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_wrong_type_puts_text_in_a_numeric_column(api, relay, folders, fmt):
    _corrupt(api, relay, "wrong_type", column="amount", fraction=0.2)
    path, _ = produce(folders, fmt)
    got = columns(path)["amount"]
    assert [v for v in got if isinstance(v, str) and not _is_number(v)] == ["not a number"] * 2


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_swapped_columns_swaps_two_numeric_columns(api, relay, folders, fmt):
    _corrupt(api, relay, "swapped_columns", column="user", fraction=1.0)
    path, _ = produce(folders, fmt)
    got = columns(path)
    assert got["user"] == pytest.approx(ROWS["amount"])
    assert got["amount"] == pytest.approx(ROWS["user"])
    assert api.fault(relay, "c")["evidence"]["columns"] == ["user", "amount"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_sentinel_writes_minus_one(api, relay, folders, fmt):
    _corrupt(api, relay, "sentinel", column="amount", fraction=0.3)
    path, _ = produce(folders, fmt)
    assert sorted(columns(path)["amount"])[:3] == [-1, -1, -1]
    assert api.fault(relay, "c")["evidence"]["rows"] == 3


def test_corrupt_without_a_column_picks_the_first_numeric_one(api, relay, folders):
    _corrupt(api, relay, "sentinel", fraction=1.0)
    path, _ = produce(folders, "parquet", rows={"name": ["a", "b"], "n": [5, 6], "m": [1.0, 2.0]})
    assert columns(path) == {"name": ["a", "b"], "n": [-1, -1], "m": [1.0, 2.0]}
    assert api.fault(relay, "c")["evidence"]["columns"] == ["n"]


# --- duplicate, limits, seeds, batches a fault cannot act on -------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_delivers_a_byte_identical_copy_under_another_name(api, relay, folders, fmt):
    api.add_fault(relay, name="dup", type="duplicate")
    data = write_rows(folders.upstream, f"b-0001.{fmt}", ROWS)
    names = [f"b-0001-dup.{fmt}", f"b-0001.{fmt}"]
    wait_until(lambda: landed(folders.landing) == names)
    assert [(folders.landing / n).read_bytes() for n in names] == [data, data]
    evidence = api.fault(relay, "dup")["evidence"]
    assert (evidence["batches"], evidence["rows"]) == (["b-0001"], 10)
    assert_kept_until_revert(api, relay, "dup", folders, data)


def test_batches_limits_how_many_batches_a_fault_changes(api, relay, folders):
    api.add_fault(
        relay, name="n", type="null_column", attributes={"column": "amount", "batches": 1}
    )
    first, _ = produce(folders, "parquet", "b-0001")
    second, original = produce(folders, "parquet", "b-0002")
    assert set(columns(first)["amount"]) == {None}
    assert second.read_bytes() == original
    assert api.fault(relay, "n")["evidence"]["batches"] == ["b-0001"]


def test_the_same_seed_changes_the_same_rows(api, make_relay, folders, tmp_path):
    landings = []
    for seed, name in [(7, "a"), (7, "b"), (8, "c")]:
        up, land = tmp_path / f"up-{name}", tmp_path / f"land-{name}"
        make_relay(name, upstream=str(up), landing=str(land))
        attributes = {"column": "amount", "fraction": 0.5, "seed": seed}
        api.add_fault(name, type="null_column", attributes=attributes)
        write_rows(up, "b-0001.parquet", ROWS)
        landings.append(_landed_amounts(land / "b-0001.parquet"))
    assert landings[0] == landings[1]
    assert landings[0] != landings[2]


def _landed_amounts(path: Path) -> list[Any]:
    wait_until(path.exists)
    return columns(path)["amount"]


def test_a_batch_without_the_column_passes_unchanged_and_is_not_listed(api, relay, folders):
    api.add_fault(relay, name="n", type="null_column", attributes={"column": "missing"})
    path, original = produce(folders, "csv")
    assert path.read_bytes() == original
    assert api.fault(relay, "n")["evidence"]["batches"] == []
    assert folders.kept() == []


def test_an_unreadable_batch_passes_unchanged(api, relay, folders):
    api.add_fault(relay, name="n", type="null_column", attributes={"column": "amount"})
    write_batch(folders.upstream, "broken.parquet", b"not parquet at all")
    wait_until(lambda: landed(folders.landing) == ["broken.parquet"])
    assert (folders.landing / "broken.parquet").read_bytes() == b"not parquet at all"
    assert api.fault(relay, "n")["evidence"]["batches"] == []


def test_two_faults_on_one_batch_each_keep_the_original_until_their_revert(api, relay, folders):
    api.add_fault(relay, name="n", type="null_column", attributes={"column": "country"})
    api.add_fault(relay, name="u", type="unit_change", attributes={"column": "amount", "factor": 2})
    path, original = produce(folders, "jsonl")
    got = columns(path)
    assert set(got["country"]) == {None}
    assert got["amount"] == pytest.approx([2 * v for v in ROWS["amount"]])
    assert [p.read_bytes() for p in folders.kept()] == [original, original]
    api.remove_fault(relay, "n")
    assert [p.read_bytes() for p in folders.kept()] == [original]
    api.remove_fault(relay, "u")
    assert folders.kept() == []


def test_clean_batches_after_a_revert_pass_unchanged(api, relay, folders):
    api.add_fault(relay, name="n", type="null_column", attributes={"column": "amount"})
    produce(folders, "parquet", "b-0001")
    api.remove_fault(relay, "n")
    path, original = produce(folders, "parquet", "b-0002")
    assert path.read_bytes() == original
    assert not math.isnan(sum(columns(path)["amount"]))
