"""The facilitator's sheet, and the runner's console as the trainee sees it.

The sheet (``--facilitator FILE``) starts with the hidden scenario and the answer key, then
gets one line per event as it happens, flushed at once (``tail -f`` follows the drill). The
:class:`TraineeConsole` hands every runner message to the sheet but shows the trainee only
what an on-call engineer would see: never the fault, its injector, target or params.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from gameday.drill.answers import AnswerKey, describe
from gameday.evidence.requests import LoadStats
from gameday.run.console import Console
from gameday.scenario.model import Scenario

# Runner messages the trainee sees. Aborts and failed reverts are shown even when they name
# the fault: safety comes before the game.
SHOWN = (
    "load:",
    "starting the embedded",
    "reference stack up",
    "aborted:",
    "!!",
    "guard breached",
)


@dataclass(frozen=True)
class Event:
    """One moment of the drill: when (Unix seconds), what happened, and where it came from
    (``drill``: the trainee; ``fault``, ``alert``, ``run``: the run and the stack)."""

    at: float
    what: str
    source: str = "drill"

    def to_json(self) -> dict[str, object]:
        return {"at": self.at, "event": self.what, "source": self.source}


class Sheet:
    """The facilitator's sheet; with no path every call does nothing."""

    def __init__(self, path: Path | None):
        self.path = path
        self._file: TextIO | None = path.open("w", encoding="utf-8") if path else None

    def header(self, scenario: Scenario, key: AnswerKey, seed: int, max_s: float) -> None:
        """The hidden scenario: name, summary, faults, expectations, and the answer key."""
        lines = [
            "# gameday drill: facilitator's sheet (do not show the trainee)",
            "",
            f"scenario: {scenario.name}" + (f" ({scenario.source})" if scenario.source else ""),
            f"summary:  {' '.join(scenario.summary.split())}",
            f"seed:     {seed} (same seed and files: same scenario)",
            f"runbook:  {scenario.runbook or '-'}",
            f"faults (held until diagnosed, at most {max_s / 60:g} min):",
            *(f"  - {describe(f)}, from +{f.start:g} s" for f in scenario.faults),
            "expectations:",
            *(f"  - {e.title}" for e in scenario.expect),
            "answer:",
            *(
                f"  - component {' or '.join(c.components)}; family {' or '.join(c.families)}"
                for c in key.culprits
            ),
            "",
            "## live timeline",
        ]
        self._write("\n".join(lines) + "\n")

    def event(self, event: Event) -> None:
        """One timeline line, written and flushed at once."""
        clock = time.strftime("%H:%M:%S", time.localtime(event.at))
        self._write(f"{clock}  [{event.source}] {event.what}\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, text: str) -> None:
        if self._file is not None:
            self._file.write(text)
            self._file.flush()


class TraineeConsole(Console):
    """The runner's console for a drill: every message goes to the sheet; the trainee sees
    only the messages in :data:`SHOWN`, and no status line (it would overwrite prompts)."""

    def __init__(self, stream: TextIO, sheet: Sheet):
        super().__init__(stream)
        self.live = False
        self.sheet = sheet

    def event(self, message: str) -> None:
        self.sheet.event(Event(time.time(), message, "run"))
        if message.startswith(SHOWN):
            super().event(message)

    def status(self, phase: str, left_s: float, stats: LoadStats, firing: list[str]) -> None:
        """Shown to nobody: the trainee watches alerts, the facilitator the timeline."""
