"""What the user sees while a game day runs: phase, time left, live figures, alerts.

On a terminal, one status line is redrawn in place each second and events (fault applied,
alert firing) scroll above it. Elsewhere (CI logs, pipes) the same events print as plain
lines, with a status line every few seconds.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from gameday.evidence.requests import LoadStats


class Console:
    """Progress output for one batch of runs."""

    def __init__(
        self, stream: TextIO | None = None, *, quiet: bool = False, plain_every_s: float = 5.0
    ):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() and not quiet
        self.quiet = quiet
        self.plain_every_s = plain_every_s
        self._last_plain = 0.0
        self._status_shown = False

    def event(self, message: str) -> None:
        """A line that stays: a phase change, a fault applied, an alert firing."""
        if self.quiet:
            return
        self._clear()
        self.stream.write(f"{time.strftime('%H:%M:%S')}  {message}\n")
        self.stream.flush()

    def status(self, phase: str, left_s: float, stats: LoadStats, firing: list[str]) -> None:
        """The live figures: redrawn in place on a terminal, every few seconds elsewhere."""
        if self.quiet:
            return
        line = _status_line(phase, left_s, stats, firing)
        if self.live:
            self.stream.write("\r\x1b[2K" + line[: _width()])
            self._status_shown = True
            self.stream.flush()
        elif time.monotonic() - self._last_plain >= self.plain_every_s:
            self._last_plain = time.monotonic()
            self.event(line)

    def _clear(self) -> None:
        if self._status_shown:
            self.stream.write("\r\x1b[2K")
            self._status_shown = False

    def close(self) -> None:
        self._clear()
        self.stream.flush()


def _status_line(phase: str, left_s: float, stats: LoadStats, firing: list[str]) -> str:
    p95 = f"{stats.p95_ms:.0f} ms" if stats.p95_ms is not None else "-"
    alerts = ", ".join(firing) if firing else "none"
    return (
        f"[{phase} {left_s:4.0f} s left]  {stats.rps:6.1f} req/s  p95 {p95}  "
        f"errors {stats.error_rate:.1%}  firing: {alerts}"
    )


def _width() -> int:
    import shutil

    return max(40, shutil.get_terminal_size((120, 20)).columns - 1)
