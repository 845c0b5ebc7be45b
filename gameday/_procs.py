"""Launching side of gameday's own processes: start, wait for the readiness line, stop.

Children are started in their own session, and on Linux are told to die with their parent
(``PR_SET_PDEATHSIG``), so neither Ctrl-C in a terminal nor a killed launcher leaves orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from gameday.errors import StackUnavailable

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """A started process: its name, ``Popen``, and what its readiness line said."""

    name: str
    popen: subprocess.Popen[bytes]
    info: dict[str, object] = field(default_factory=dict)
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def port(self) -> int:
        return int(self.info["port"])  # type: ignore[call-overload]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; also continues a paused process first."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout)


def python_module(module: str, *args: str) -> list[str]:
    """The argv that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def spawn(
    name: str,
    argv: list[str],
    *,
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
    unset: Collection[str] = (),
    handshake: bool = True,
) -> Child:
    """Start ``argv`` without waiting; stderr goes to ``log_path`` (or is discarded).

    The child gets this process's environment plus ``env``, without the variables in ``unset``.
    With ``handshake`` its stdout is kept for :func:`wait_ready`.
    """
    stderr = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if handshake else stderr,
            stderr=stderr,
            env={k: v for k, v in {**os.environ, **(env or {})}.items() if k not in unset},
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
    except OSError as exc:
        raise StackUnavailable(f"{name}: cannot start {argv[0]}: {exc}") from exc
    finally:
        if log_path:
            stderr.close()  # type: ignore[union-attr]
    return Child(name, popen, log_path=log_path)


def wait_ready(child: Child, timeout: float = 30.0) -> Child:
    """Wait up to ``timeout`` s for the child's JSON readiness line; keep what it says."""
    child.info = _read_handshake(child, timeout)
    return child


def start(
    name: str,
    argv: list[str],
    *,
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
    handshake: bool = True,
    timeout: float = 30.0,
) -> Child:
    """Start ``argv``; if ``handshake``, wait up to ``timeout`` s for its JSON readiness line.

    Raises ``StackUnavailable`` naming the process and the end of its log if it exits or
    stays silent.
    """
    child = spawn(name, argv, log_path=log_path, env=env, handshake=handshake)
    return wait_ready(child, timeout) if handshake else child


def _read_handshake(child: Child, timeout: float) -> dict[str, object]:
    assert child.popen.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(child.popen.stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                child.stop()
                raise StackUnavailable(f"{child.name}: not ready after {timeout:g} s{_tail(child)}")
            chunk = os.read(child.popen.stdout.fileno(), 4096)
            if not chunk:
                child.popen.wait(5)
                raise StackUnavailable(
                    f"{child.name}: exited with code {child.popen.returncode} before it was ready"
                    f"{_tail(child)}"
                )
            buf += chunk
    line = buf.split(b"\n", 1)[0]
    try:
        info = json.loads(line)
    except ValueError as exc:
        child.stop()
        raise StackUnavailable(f"{child.name}: unreadable readiness line {line[:200]!r}") from exc
    return dict(info)


def _tail(child: Child, lines: int = 15) -> str:
    if child.log_path is None or not child.log_path.exists():
        return ""
    text = child.log_path.read_text(errors="replace").splitlines()[-lines:]
    return "\n  " + "\n  ".join(text) if text else ""
