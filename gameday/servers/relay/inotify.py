"""Linux inotify through ctypes: learn at once that a file was renamed into, or closed in, a folder.

The relay polls every location, but on a local folder it also watches with inotify, so a batch
renamed into upstream moves on within a millisecond instead of a poll interval later.
Where inotify is missing (another OS, a remote filesystem) :meth:`Inotify.open` returns None.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import struct
import sys

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_Q_OVERFLOW = 0x00004000
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


class Inotify:
    """An inotify instance watching one folder for completed files (non-blocking reads)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.overflowed = False

    @classmethod
    def open(cls, folder: str, mask: int = IN_CLOSE_WRITE | IN_MOVED_TO) -> Inotify | None:
        """Watch ``folder``; None where inotify is unavailable."""
        libc = _libc()
        if libc is None:
            return None
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            return None
        if libc.inotify_add_watch(fd, os.fsencode(folder), mask) < 0:
            os.close(fd)
            return None
        return cls(fd)

    def fileno(self) -> int:
        return self.fd

    def read(self) -> list[str]:
        """Names of the files events were reported for since the last read (may be empty).

        After a queue overflow :attr:`overflowed` is set: events were lost, scan the folder.
        """
        names: list[str] = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return names
            names.extend(self._parse(data))

    def _parse(self, data: bytes) -> list[str]:
        names, offset = [], 0
        while offset + _HEADER.size <= len(data):
            _, mask, _, length = _HEADER.unpack_from(data, offset)
            raw = data[offset + _HEADER.size : offset + _HEADER.size + length]
            offset += _HEADER.size + length
            if mask & IN_Q_OVERFLOW:
                self.overflowed = True
            elif raw:
                names.append(os.fsdecode(raw.rstrip(b"\0")))
        return names

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
