"""The one family of errors gameday raises on purpose.

Only ``gameday.cli`` turns these into exit codes: ``ScenarioError`` is bad input (exit 2),
``StackUnavailable`` and ``Aborted`` end a run early (exit 3), ``InjectionError`` is a fault
that could not be applied or reverted.
"""

from __future__ import annotations

from pathlib import Path


class GameDayError(Exception):
    """Base of every error gameday raises deliberately."""


class ScenarioError(GameDayError):
    """Bad input: a scenario or environment file, a key, or a value.

    ``str(error)`` reads ``file:line: message`` so editors and CI logs can jump to it.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        if self.path is None:
            return self.message
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


class StackUnavailable(GameDayError):
    """A part of the stack under test or of the observability stack is unreachable or down."""


class InjectionError(GameDayError):
    """A fault could not be applied, or (worse) could not be reverted."""


class Aborted(GameDayError):
    """A run stopped early: steady state broken, a guard breached, or the user interrupted it."""
