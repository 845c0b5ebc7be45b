"""The watchdog: reverts expired faults on targets that do not expire faults by themselves.

gameday's embedded toxiproxy, the stack's control API and its services drop a fault when
its TTL runs out, whatever happens to the runner. A real toxiproxy-server ignores
``gameday_ttl_s``; for such a target the runner starts this process before it applies the
fault (``python -m gameday.undo.watchdog --journal DIR``), detached in its own session, so it
outlives a runner killed by SIGKILL. Every ``POLL_S`` it reads the undo journal and reverts
each entry that needs it (``ttl_enforced`` false) once its ``expires_at`` has passed, then
removes the entry; it exits when no such entry is left. A failed revert is retried with
backoff until ``GIVE_UP_S`` after expiry, then left to ``gameday recover``.

One watchdog per journal folder: it holds an exclusive ``flock`` on ``watchdog.lock``.
Before exiting it releases the lock and looks once more, so a runner that saw the lock held
just before writing a new entry is never left unwatched.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from gameday.redaction import redact_text
from gameday.undo.journal import DEFAULT_DIR, Entry, Journal
from gameday.undo.recover import revert_entry

POLL_S = 0.5
START_TIMEOUT_S = 10.0
GIVE_UP_S = 3600.0
MAX_BACKOFF_S = 30.0
LOCK_NAME = "watchdog.lock"
LOG_NAME = "watchdog.log"

Log = Callable[[str], None]


def ensure_running(directory: Path, timeout: float = START_TIMEOUT_S) -> bool:
    """Start a watchdog for the journal in ``directory`` unless one runs; True if started.

    Returns once the watchdog holds its lock (so it watches before any fault is applied);
    ``OSError`` if it does not within ``timeout``. The watchdog is detached (own session,
    no parent-death signal, output to ``watchdog.log``) so nothing that ends the runner
    ends it.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = _try_lock(directory)
    if lock is None:
        return False
    lock.close()  # free it for the watchdog started now
    with _private(directory / LOG_NAME) as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "gameday.undo.watchdog", "--journal", str(directory)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    _wait_watching(directory, child, timeout)
    return True


def _wait_watching(directory: Path, child: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not running(directory):
        if child.poll() is not None and not running(directory):
            raise OSError(f"the watchdog exited with {child.returncode} (see {LOG_NAME})")
        if time.monotonic() > deadline:
            raise OSError(f"the watchdog did not start within {timeout:g} s (see {LOG_NAME})")
        time.sleep(0.02)  # polling the lock, bounded by the deadline above


def running(directory: Path) -> bool:
    """Whether a watchdog holds the lock of the journal in ``directory`` now."""
    if not (directory / LOCK_NAME).exists():
        return False
    lock = _try_lock(directory)
    if lock is None:
        return True
    lock.close()
    return False


def _private(path: Path) -> IO[bytes]:
    """``path`` opened for appending, created readable by its owner only (like the journal)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")


def _try_lock(directory: Path) -> IO[bytes] | None:
    """The journal's watchdog lock, held; None if another process holds it."""
    fh = _private(directory / LOCK_NAME)
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def _lock_patiently(directory: Path, wait_s: float = 1.0) -> IO[bytes] | None:
    """The lock, retried for ``wait_s``: a probe (:func:`running`) holds it for microseconds,
    a watchdog for good."""
    deadline = time.monotonic() + wait_s
    while (lock := _try_lock(directory)) is None and time.monotonic() < deadline:
        time.sleep(0.01)  # retrying a lock, bounded by the deadline above
    return lock


def watch(journal: Journal, poll_s: float = POLL_S, log: Log = print) -> int:
    """Revert expired entries until none is left to watch; the exit code (always 0)."""
    lock = _lock_patiently(journal.directory)
    if lock is None:
        log("another watchdog watches this journal")
        return 0
    log(f"watching {journal.directory} (pid {os.getpid()})")
    retry_at: dict[str, tuple[float, int]] = {}
    try:
        while True:
            watched = _watched(journal)
            if not watched:
                lock = _release_unless_new(journal, lock)
                if lock is None:
                    log("nothing left to watch; exiting")
                    return 0
                continue
            _revert_expired(journal, watched, retry_at, log)
            time.sleep(poll_s)  # pacing between looks at the journal, not synchronisation
    finally:
        if lock is not None:
            lock.close()


def _watched(journal: Journal) -> list[Entry]:
    """Entries this watchdog is responsible for: TTL not enforced, not given up on."""
    now = time.time()
    with contextlib.suppress(OSError):
        return [
            e for e in journal.entries() if not e.ttl_enforced and now < e.expires_at + GIVE_UP_S
        ]
    return []


def _release_unless_new(journal: Journal, lock: IO[bytes]) -> IO[bytes] | None:
    """Release the lock; if an entry appeared meanwhile, take it back (None: exit)."""
    lock.close()
    if not _watched(journal):
        return None
    return _lock_patiently(journal.directory)  # None: a newer watchdog took over


def _revert_expired(
    journal: Journal, entries: list[Entry], retry_at: dict[str, tuple[float, int]], log: Log
) -> None:
    now = time.time()
    for entry in entries:
        at, tries = retry_at.get(entry.fault_id, (0.0, 0))
        if now < entry.expires_at or now < at:
            continue
        if entry.stack_owned and not entry.owner.alive():
            journal.remove(entry.fault_id)
            log(f"{entry.title()} went with the embedded stack of its run")
            continue
        try:
            revert_entry(entry)
        except Exception as exc:  # noqa: BLE001 - keep watching every other fault
            delay = min(MAX_BACKOFF_S, 2.0**tries)
            retry_at[entry.fault_id] = (now + delay, tries + 1)
            log(f"REVERT FAILED {entry.title()}: {exc}; retrying in {delay:g} s")
            continue
        journal.remove(entry.fault_id)
        retry_at.pop(entry.fault_id, None)
        late = time.time() - entry.expires_at
        log(f"reverted {entry.title()} {late:.1f} s after its TTL ran out")


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(redact_text(f"{stamp} watchdog: {message}"), flush=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m gameday.undo.watchdog [--journal DIR] [--poll SECONDS]``."""
    parser = argparse.ArgumentParser(
        prog="python -m gameday.undo.watchdog", description="revert expired faults from the journal"
    )
    parser.add_argument("--journal", type=Path, default=DEFAULT_DIR, metavar="DIR")
    parser.add_argument("--poll", type=float, default=POLL_S, metavar="SECONDS")
    args = parser.parse_args(argv)
    return watch(Journal(args.journal), args.poll, _log)


if __name__ == "__main__":
    raise SystemExit(main())
