"""With no fault active a relay moves every complete batch to landing byte for byte, in
upstream order, and a pipeline reading landing never sees part of a file."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pytest

from gameday.servers.relay.testing import (
    ArrivalLog,
    encode,
    landed,
    read_rows,
    wait_until,
    write_batch,
    write_rows,
)

ROWS = {"user": [1, 2, 3], "amount": [9.5, 12.25, 3.0], "country": ["fr", "de", "it"]}


@pytest.mark.parametrize("name", ["b-0001.parquet", "b-0001.pq", "b-0001.csv", "b-0001.jsonl"])
def test_a_batch_lands_byte_for_byte_and_leaves_upstream(api, relay, folders, name):
    data = write_rows(folders.upstream, name, ROWS)
    wait_until(lambda: landed(folders.landing) == [name])
    assert (folders.landing / name).read_bytes() == data
    assert landed(folders.upstream) == []
    stats = api.stats(relay)
    assert stats["batches"] == 1
    assert stats["bytes"] == len(data)
    assert stats["held"] == 0
    assert abs(stats["last_batch_at"] - time.time()) < 10


@pytest.mark.parametrize(
    ("name", "types"),
    [
        ("b.parquet", {"user": "int64", "amount": "double", "country": "string"}),
        ("b.csv", {"user": "int64", "amount": "double", "country": "string"}),
        ("b.ndjson", {"user": "int64", "amount": "double", "country": "string"}),
    ],
)
def test_schema_describes_the_last_batch_seen(api, relay, folders, name, types):
    write_rows(folders.upstream, "first.csv", {"other": [1]})
    wait_until(lambda: landed(folders.landing) == ["first.csv"])
    write_rows(folders.upstream, name, ROWS)
    wait_until(lambda: name in landed(folders.landing))
    schema = api.get(f"/relays/{relay}/schema").json()
    fmt = "jsonl" if name.endswith("ndjson") else name.rsplit(".", 1)[1]
    assert schema == {"format": fmt, "columns": types, "batches_seen": 2}


def test_a_fixed_format_applies_whatever_the_file_name(api, make_relay, folders):
    relay = make_relay("fixed", format="csv")["name"]
    write_batch(folders.upstream, "part-0001", encode(ROWS, "csv"))
    wait_until(lambda: landed(folders.landing) == ["part-0001"])
    assert api.get(f"/relays/{relay}/schema").json()["columns"]["amount"] == "double"


def test_files_being_written_are_left_alone(relay, folders):
    (folders.upstream / ".b-0001.parquet").write_bytes(b"partial")
    (folders.upstream / "b-0002.parquet.tmp").write_bytes(b"partial")
    write_rows(folders.upstream, "b-0003.parquet", ROWS)
    wait_until(lambda: landed(folders.landing) == ["b-0003.parquet"])
    time.sleep(0.3)  # several polls: the in-progress files must still be where they were
    assert sorted(os.listdir(folders.upstream)) == [".b-0001.parquet", "b-0002.parquet.tmp"]
    assert landed(folders.landing) == ["b-0003.parquet"]


def test_files_that_are_not_batches_pass_through_unchanged(relay, folders):
    write_batch(folders.upstream, "_SUCCESS", b"")
    write_batch(folders.upstream, "notes.txt", b"hello")
    wait_until(lambda: landed(folders.landing) == ["_SUCCESS", "notes.txt"])
    assert (folders.landing / "notes.txt").read_bytes() == b"hello"


def test_batches_already_in_upstream_move_on_in_modification_order(api, make_relay, folders):
    names = ["c.csv", "a.csv", "b.csv"]
    for i, name in enumerate(names):
        write_rows(folders.upstream, name, {"i": [i]})
        os.utime(folders.upstream / name, (1_700_000_000 + i, 1_700_000_000 + i))
    log = ArrivalLog(folders.landing)
    try:
        make_relay()
        wait_until(lambda: len(log.arrived()) == 3)
        assert log.arrived() == names
    finally:
        log.close()


def test_a_file_written_in_place_slowly_lands_only_once_complete(relay, folders):
    """A producer that does not rename: the relay waits until the size stops changing."""
    payload = encode({"x": list(range(2000))}, "csv")
    chunks = [payload[i : i + 1000] for i in range(0, len(payload), 1000)]
    with open(folders.upstream / "slow.csv", "wb") as f:
        for chunk in chunks:
            f.write(chunk)
            f.flush()
            time.sleep(0.02)
            assert landed(folders.landing) == []
    wait_until(lambda: landed(folders.landing) == ["slow.csv"])
    assert (folders.landing / "slow.csv").read_bytes() == payload


def _other_filesystem(tmp_path: Path) -> Path | None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        return None
    return shm


def _big_parquet(seed: int, rows: int = 400_000) -> bytes:
    rng = np.random.default_rng(seed)
    table = pa.table({"a": rng.normal(size=rows), "b": rng.integers(0, 1 << 40, size=rows)})
    return encode(table, "parquet")


class _Reader:
    """A pipeline reading landing continuously: every complete file it sees must be whole."""

    def __init__(self, folder: Path, expected: dict[str, str]):
        self.folder, self.expected = folder, expected
        self.reads = 0
        self.partial: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            for name in landed(self.folder):
                try:
                    digest = hashlib.sha256((self.folder / name).read_bytes()).hexdigest()
                except FileNotFoundError:
                    continue
                self.reads += 1
                if digest != self.expected.get(name.replace("-dup", "")):
                    self.partial.append(name)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)


@pytest.mark.parametrize("fault", [None, "duplicate"])
def test_landing_never_holds_a_partial_file(api, make_relay, folders, tmp_path, fault):
    """Across filesystems (a copy, not a rename) and through a fault that rewrites batches."""
    other = _other_filesystem(tmp_path)
    upstream = Path(other or tmp_path) / f"relay-up-{os.getpid()}-{fault}"
    upstream.mkdir()
    try:
        make_relay(upstream=str(upstream))
        if fault:
            api.add_fault("batches", type=fault)
        batches = {f"big-{i}.parquet": _big_parquet(i) for i in range(6)}
        expected = {name: hashlib.sha256(data).hexdigest() for name, data in batches.items()}
        reader = _Reader(folders.landing, expected)
        for name, data in batches.items():
            write_batch(upstream, name, data)
        want = len(batches) * (2 if fault else 1)
        wait_until(lambda: len(landed(folders.landing)) == want, timeout=60)
        reader.close()
        assert reader.partial == []
        assert reader.reads > 0
        for name, data in batches.items():
            assert (folders.landing / name).read_bytes() == data
    finally:
        api.delete("/relays/batches")
        for leftover in upstream.iterdir():
            leftover.unlink()
        upstream.rmdir()


def test_any_fsspec_filesystem_works_at_either_end(api, make_relay):
    """fsspec's in-memory filesystem stands in for s3:// or gs:// (no rename, no inotify)."""
    fs = fsspec.filesystem("memory")
    root = f"/relay-{uuid.uuid4().hex[:8]}"
    make_relay("mem", upstream=f"memory://{root}/up", landing=f"memory://{root}/land")
    data = encode(ROWS, "parquet")
    fs.pipe_file(f"{root}/up/b-0001.parquet", data)
    wait_until(lambda: fs.ls(f"{root}/land", detail=False) == [f"{root}/land/b-0001.parquet"])
    assert fs.cat_file(f"{root}/land/b-0001.parquet") == data
    assert fs.ls(f"{root}/up", detail=False) == []
    assert api.get("/relays/mem/schema").json()["columns"]["amount"] == "double"
    api.add_fault("mem", name="s", type="stale")
    api.add_fault("mem", name="n", type="null_column", attributes={"column": "amount"})
    fs.pipe_file(f"{root}/up/b-0002.csv", encode(ROWS, "csv"))
    wait_until(lambda: api.stats("mem")["held"] == 1)
    api.remove_fault("mem", "s")
    landed_csv = fs.cat_file(f"{root}/land/b-0002.csv").decode()
    assert [line.split(",")[1] for line in landed_csv.splitlines()[1:]] == ["", "", ""]


def test_a_csv_byte_order_mark_is_kept_and_not_part_of_a_column_name(api, relay, folders):
    api.add_fault(relay, type="null_column", attributes={"column": "user"})
    write_batch(folders.upstream, "bom.csv", b"\xef\xbb\xbfuser,x\r\n1,2\r\n")
    wait_until(lambda: landed(folders.landing) == ["bom.csv"])
    assert (folders.landing / "bom.csv").read_bytes() == b"\xef\xbb\xbfuser,x\r\n,2\r\n"


def test_read_rows_of_landed_batches(relay, folders):
    """The test helpers round-trip each format."""
    for name in ["r.parquet", "r.csv", "r.jsonl"]:
        write_rows(folders.upstream, name, ROWS)
    wait_until(lambda: len(landed(folders.landing)) == 3)
    for name in ["r.parquet", "r.csv", "r.jsonl"]:
        assert read_rows(folders.landing / name) == ROWS
