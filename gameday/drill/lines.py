"""The trainee's answers: lines read from a file descriptor without ever blocking the drill.

The drill runs inside the runner's fault phase, one tick at a time, so input is polled
(``select`` with no wait) rather than read in a thread: nothing is left blocked in a read
when the process exits, and answers piped in ahead of time (CI) are simply taken in order
as the prompts come. Works for pipes, files and terminals (where a line arrives on Enter).
"""

from __future__ import annotations

import os
import select

READ_SIZE = 4096


class InputLines:
    """Complete lines from ``fd`` as they arrive; :attr:`eof` once the writer is done."""

    def __init__(self, fd: int = 0):
        self.fd = fd
        self.eof = False
        self._partial = b""

    def poll(self) -> list[str]:
        """Every complete line available now (without the newline); never blocks.

        At end of input, an unterminated last line is returned as a line of its own.
        """
        lines: list[str] = []
        while not self.eof and self._ready():
            chunk = self._read()
            if not chunk:
                self.eof = True
                if self._partial:
                    lines.append(self._partial.decode(errors="replace"))
                    self._partial = b""
                break
            *done, self._partial = (self._partial + chunk).split(b"\n")
            lines.extend(line.rstrip(b"\r").decode(errors="replace") for line in done)
        return lines

    def _ready(self) -> bool:
        try:
            readable, _, _ = select.select([self.fd], [], [], 0)
        except (OSError, ValueError):  # closed or invalid descriptor: no more input
            self.eof = True
            return False
        return bool(readable)

    def _read(self) -> bytes:
        try:
            return os.read(self.fd, READ_SIZE)
        except OSError:  # EIO: the terminal went away; that is the end of the answers
            return b""
