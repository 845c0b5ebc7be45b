"""Training mode: ``gameday drill`` plays one scenario blind for a new on-call engineer.

The trainee is paged by the alerts a hidden fault sets off, acknowledges, and diagnoses the
root cause (component and fault family) while the fault stays on; then the answer is
revealed with its evidence, the fault is reverted, and a blameless post-mortem template is
written, pre-filled with the drill's timeline.

Names are imported on first use: the command line builds its parser from
:mod:`gameday.drill.command` without loading the runner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gameday.drill.answers import AnswerKey, Choice, Culprit, answer_key, parse_choice
    from gameday.drill.outcome import DrillOutcome
    from gameday.drill.pick import blind, pick
    from gameday.drill.play import DrillOptions, run_drill

_EXPORTS = {
    "AnswerKey": "answers",
    "Choice": "answers",
    "Culprit": "answers",
    "answer_key": "answers",
    "parse_choice": "answers",
    "DrillOutcome": "outcome",
    "blind": "pick",
    "pick": "pick",
    "DrillOptions": "play",
    "run_drill": "play",
}
__all__ = [
    "AnswerKey",
    "Choice",
    "Culprit",
    "DrillOptions",
    "DrillOutcome",
    "answer_key",
    "blind",
    "parse_choice",
    "pick",
    "run_drill",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gameday.drill' has no attribute {name!r}")
    return getattr(importlib.import_module(f"gameday.drill.{module}"), name)
