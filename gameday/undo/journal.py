"""The undo journal: how to undo every fault in force, on disk before the fault exists.

Before a fault is applied the runner writes its *intent* (injector, fault id, the target as
resolved, params, TTL, when it expires, which process owns it, where it runs); once applied
the entry gains ``apply``'s :class:`~gameday.injectors.base.Applied`; once reverted the entry
is removed. Every write is atomic and durable (temporary file, fsync, rename, fsync of the
folder), so after a crash, a SIGKILL or a power cut an entry is the old or the new version,
never half of one. The journal is all ``gameday recover`` and the watchdog need to undo what
a dead run left behind (:mod:`gameday.undo.recover`, :mod:`gameday.undo.watchdog`).

Entries keep target settings in full (a revert needs the real URLs), so the folder is
created 0700 and its files 0600; whatever is shown from them goes through redaction.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gameday.injectors.base import Applied, FaultContext, Target

DEFAULT_DIR = Path(".gameday") / "journal"
"""Where ``gameday run`` and ``gameday recover`` keep the journal (relative to the cwd)."""

FORMAT = 1
_SUFFIX = ".json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
# session.environment() names the stack a run starts for itself so; it dies with the run.
OWN_STACK_SOURCE = "<embedded stack>"


@dataclass(frozen=True)
class Owner:
    """The process that applied a fault; ``started`` (its start time) tells a reused pid apart."""

    pid: int
    host: str
    started: str | None = None

    @classmethod
    def me(cls) -> Owner:
        return cls(os.getpid(), socket.gethostname(), _start_time(os.getpid()))

    def alive(self) -> bool:
        """Whether the owner still runs here. A process of another host (or of this machine
        under an earlier hostname) cannot be checked: it counts as gone, since reverting a
        fault is always the safe direction."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # someone else's process holds the pid: alive, but is it ours?
        return self.started is None or _start_time(self.pid) == self.started


def _start_time(pid: int) -> str | None:
    """Field 22 of ``/proc/PID/stat`` (start time in clock ticks); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name may contain spaces
    if len(fields) < 20 or fields[0] == "Z":  # a zombie has exited: not alive
        return "zombie" if fields and fields[0] == "Z" else None
    return fields[19]


@dataclass(frozen=True)
class Entry:
    """One fault in the journal: its intent, and ``applied`` once ``apply`` answered.

    ``ttl_enforced`` says the target removes the fault by itself at ``expires_at``;
    ``stack_owned`` that the run started the stack itself (so the fault dies with it).
    """

    fault_id: str
    injector: str
    target: Target
    params: Mapping[str, Any]
    ttl_s: float
    expires_at: float
    ttl_enforced: bool
    owner: Owner
    seed: int = 0
    stack_owned: bool = False
    environment: Mapping[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    applied: Applied | None = None

    def context(self) -> FaultContext:
        """The :class:`FaultContext` the fault was (or was about to be) applied with."""
        return FaultContext(self.fault_id, self.target, self.params, self.ttl_s, self.seed)

    def to_json(self) -> dict[str, Any]:
        target = self.target
        return {
            "format": FORMAT,
            "fault_id": self.fault_id,
            "injector": self.injector,
            "target": {"name": target.name, "kind": target.kind, "settings": target.settings},
            "params": dict(self.params),
            "ttl_s": self.ttl_s,
            "expires_at": self.expires_at,
            "ttl_enforced": self.ttl_enforced,
            "owner": asdict(self.owner),
            "seed": self.seed,
            "stack_owned": self.stack_owned,
            "environment": dict(self.environment),
            "created_at": self.created_at,
            "applied": self.applied.to_json() if self.applied else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        """The entry, or ``KeyError``/``TypeError``/``ValueError`` if ``data`` is not one."""
        target, applied = data["target"], data.get("applied")
        return cls(
            fault_id=str(data["fault_id"]),
            injector=str(data["injector"]),
            target=Target(target["name"], target["kind"], dict(target["settings"])),
            params=dict(data["params"]),
            ttl_s=float(data["ttl_s"]),
            expires_at=float(data["expires_at"]),
            ttl_enforced=bool(data["ttl_enforced"]),
            owner=Owner(**data["owner"]),
            seed=int(data.get("seed", 0)),
            stack_owned=bool(data.get("stack_owned", False)),
            environment=dict(data.get("environment") or {}),
            created_at=float(data.get("created_at", 0.0)),
            applied=Applied.from_json(applied) if applied else None,
        )

    def title(self) -> str:
        """``network.latency on feature-store (fault <id>)``."""
        return f"{self.injector} on {self.target.name} (fault {self.fault_id})"


@dataclass(frozen=True)
class Unreadable:
    """A journal file that is not an entry (hand-edited, or a disk that lost data)."""

    path: Path
    problem: str


class Journal:
    """The journal folder: one file per fault in force, ``<fault id>.json``."""

    def __init__(self, directory: str | Path = DEFAULT_DIR):
        self.directory = Path(directory).absolute()

    def path_for(self, fault_id: str) -> Path:
        return self.directory / (_UNSAFE.sub("_", fault_id) + _SUFFIX)

    def write(self, entry: Entry) -> None:
        """Store ``entry`` durably (it replaces the fault's previous version, atomically)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = json.dumps(entry.to_json(), indent=1).encode()
        _atomic_write(self.path_for(entry.fault_id), data)

    def remove(self, fault_id: str) -> None:
        """Forget a fault (reverted); already gone is fine."""
        path = self.path_for(fault_id)
        if path.exists():
            path.unlink(missing_ok=True)
            _fsync_dir(self.directory)

    def scan(self) -> tuple[list[Entry], list[Unreadable]]:
        """Every entry, oldest first, and every file that could not be read as one.

        Temporary files of an interrupted write are skipped: their entry was never written,
        so its fault was never applied.
        """
        entries, unreadable = [], []
        for path in sorted(self.directory.glob("*" + _SUFFIX)):
            try:
                entries.append(Entry.from_json(json.loads(path.read_bytes())))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                unreadable.append(Unreadable(path, f"{type(exc).__name__}: {exc}"))
        return sorted(entries, key=lambda e: e.created_at), unreadable

    def entries(self) -> list[Entry]:
        """Every readable entry, oldest first."""
        return self.scan()[0]


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # A rename or unlink is durable only once the folder itself is on disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
