"""Ctrl-C and SIGTERM during a game day: stop the run, but never stop a revert.

Inside :func:`interruptible`, the first SIGINT, SIGTERM or SIGHUP raises :class:`Interrupted` in the
main thread, so the runner unwinds through its reverts. While a :func:`shielded` block runs
(reverting faults), signals are only noted: a second Ctrl-C never abandons a revert; the
interruption is raised once the shield is left.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from types import FrameType

from gameday.errors import Aborted

# SIGHUP too: a closed terminal or a dropped SSH session must revert, not just die.
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Aborted):
    """The user (SIGINT) or the system (SIGTERM) asked the run to stop."""


class _State:
    shield = 0
    pending: str | None = None
    raised = False


def _handler(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if _State.shield:
        _State.pending = _State.pending or name
        print(f"\n{name}: reverting faults first; they are never abandoned", file=sys.stderr)
        return
    if _State.raised:
        print(f"\n{name}: already stopping (reverting and collecting)", file=sys.stderr)
        return
    _State.raised = True
    raise Interrupted(f"interrupted by {name}")


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGINT/SIGTERM/SIGHUP into :class:`Interrupted` for the duration of the block."""
    previous = {sig: signal.signal(sig, _handler) for sig in SIGNALS}
    _State.pending, _State.raised = None, False
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Defer interruptions until the block is done (used around reverts)."""
    _State.shield += 1
    try:
        yield
    finally:
        _State.shield -= 1
    if not _State.shield and _State.pending and not _State.raised:
        name, _State.pending = _State.pending, None
        _State.raised = True
        raise Interrupted(f"interrupted by {name}")


def interrupted() -> bool:
    """Whether an interruption has been requested (raised or pending)."""
    return _State.raised or _State.pending is not None
