"""Helpers for testing a pipeline behind a relay: write batches as a producer does, read what
landed, and watch the order batches land in.

    with running_server() as relay:
        requests.post(relay.url + "/relays", json={"name": "b", "upstream": up, "landing": land})
        write_rows(up, "b-0001.parquet", {"amount": [1.0, 2.0]})
        wait_until(lambda: landed(land) == ["b-0001.parquet"])
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from gameday.servers.relay.formats import format_of, is_candidate
from gameday.servers.relay.inotify import IN_MOVED_TO, Inotify
from gameday.servers.relay.sampling import read_table

Columns = Mapping[str, Sequence[object]]


def encode(rows: Columns | pa.Table, fmt: str) -> bytes:
    """Columns (or a table) as a file of format ``fmt`` (parquet, csv, jsonl)."""
    table = rows if isinstance(rows, pa.Table) else pa.table(dict(rows))
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    elif fmt == "csv":
        pa_csv.write_csv(table, sink, pa_csv.WriteOptions(quoting_style="needed"))
    else:
        lines = [json.dumps(row) for row in table.to_pylist()]
        sink.write("".join(line + "\n" for line in lines).encode())
    return sink.getvalue()


def write_batch(folder: str | Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``folder/name`` the way a well-behaved producer does: a dot-named
    temp file first, then a rename, so no reader ever sees part of it."""
    final = Path(folder) / name
    temp = final.with_name(f".{name}.{uuid.uuid4().hex[:8]}.tmp")
    temp.write_bytes(data)
    os.rename(temp, final)
    return final


def write_rows(folder: str | Path, name: str, rows: Columns | pa.Table) -> bytes:
    """Write ``rows`` as batch ``name`` (format from its suffix) atomically; returns the bytes."""
    fmt = format_of(name, None)
    if fmt is None:
        raise ValueError(f"no batch format for {name!r}: use .parquet, .csv or .jsonl")
    data = encode(rows, fmt)
    write_batch(folder, name, data)
    return data


def landed(folder: str | Path) -> list[str]:
    """Complete files in ``folder`` (no dot-files, no ``*.tmp``), sorted by name."""
    return sorted(n for n in os.listdir(folder) if is_candidate(n))


def read_rows(path: str | Path) -> dict[str, list[object]]:
    """A landed batch's columns as Python lists (format from the suffix)."""
    fmt = format_of(str(path), None)
    assert fmt is not None, path
    return read_table(Path(path), fmt).to_pydict()


def wait_until(predicate: Callable[[], object], timeout: float = 5.0, every: float = 0.01) -> None:
    """Poll ``predicate`` until it is truthy; ``AssertionError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s")
        time.sleep(every)


class ArrivalLog:
    """The order files are renamed into a folder (inotify, Linux), as a pipeline would see it."""

    def __init__(self, folder: str | Path):
        watch = Inotify.open(str(folder), IN_MOVED_TO)
        if watch is None:
            raise OSError("inotify is not available here")
        self._watch = watch
        self.names: list[str] = []

    def arrived(self) -> list[str]:
        """Every complete file renamed into the folder so far, in arrival order."""
        self.names += [n for n in self._watch.read() if is_candidate(n)]
        return list(self.names)

    def close(self) -> None:
        self._watch.close()
