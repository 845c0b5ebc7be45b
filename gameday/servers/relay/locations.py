"""Where batches are: fsspec locations, listed, read, written atomically and moved between.

A location is a folder URL (a local path, ``file://``, or any fsspec protocol whose package is
installed: ``s3://``, ``gs://``...). Writes are atomic for a reader of the folder: bytes go to
a dot-named ``*.tmp`` file first, then are renamed into place. Between two local folders on
one filesystem a move is a single ``rename`` (atomic, no copy).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from dataclasses import dataclass

import fsspec
from fsspec.implementations.local import LocalFileSystem


@dataclass(frozen=True)
class Entry:
    """A file in a location: its name, size and modification time (seconds)."""

    name: str
    size: int
    mtime: float


class Location:
    """One folder, local or remote, addressed by an fsspec URL."""

    def __init__(self, url: str):
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.root = str(self.root).rstrip("/") or "/"
        self.local = isinstance(self.fs, LocalFileSystem)

    def ensure(self) -> None:
        """Create the folder if it does not exist."""
        self.fs.makedirs(self.root, exist_ok=True)

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def entries(self) -> list[Entry]:
        """The files directly in the folder (sub-folders are not batches)."""
        if self.local:
            return _local_entries(self.root)
        self.fs.invalidate_cache(self.root)
        found = []
        for info in self.fs.ls(self.root, detail=True):
            if info.get("type") == "file":
                name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
                found.append(Entry(name, int(info.get("size") or 0), _mtime(info)))
        return found

    def read(self, name: str) -> bytes:
        if self.local:
            with open(self.path(name), "rb") as f:
                return f.read()
        return bytes(self.fs.cat_file(self.path(name)))

    def delete(self, name: str) -> None:
        if self.local:
            os.unlink(self.path(name))
        else:
            self.fs.rm_file(self.path(name))

    def write(self, name: str, data: bytes) -> None:
        """Write ``data`` as ``name`` atomically (temp file, then rename)."""
        temp = _temp_name(name)
        if self.local:
            with open(self.path(temp), "wb") as f:
                f.write(data)
            os.replace(self.path(temp), self.path(name))
        else:
            self.fs.pipe_file(self.path(temp), data)
            self.fs.mv(self.path(temp), self.path(name))

    def put(self, name: str, source: str) -> None:
        """Copy the local file ``source`` in as ``name`` atomically."""
        temp = _temp_name(name)
        if self.local:
            shutil.copyfile(source, self.path(temp))
            os.replace(self.path(temp), self.path(name))
        else:
            self.fs.put_file(source, self.path(temp))
            self.fs.mv(self.path(temp), self.path(name))


def move(src: Location, name: str, dst: Location, dst_name: str) -> None:
    """Move file ``name`` of ``src`` to ``dst`` as ``dst_name``; a reader of ``dst`` sees the
    whole file or nothing, and the source is deleted only once the copy is in place."""
    if src.local and dst.local:
        try:
            os.rename(src.path(name), dst.path(dst_name))
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        dst.put(dst_name, src.path(name))
    elif src.local:
        dst.put(dst_name, src.path(name))
    else:
        dst.write(dst_name, src.read(name))
    src.delete(name)


def _temp_name(name: str) -> str:
    return f".{name}.relay-{uuid.uuid4().hex[:8]}.tmp"


def _local_entries(root: str) -> list[Entry]:
    found = []
    with os.scandir(root) as it:
        for entry in it:
            try:
                if entry.is_file():
                    st = entry.stat()
                    found.append(Entry(entry.name, st.st_size, st.st_mtime_ns / 1e9))
            except FileNotFoundError:  # moved away while we looked
                continue
    return found


def _mtime(info: dict[str, object]) -> float:
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, int | float):
            return float(value)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
    return 0.0
