"""The trainee's side of a drill: paged, acknowledges, diagnoses; one runner tick at a time.

:meth:`Trainee.step` is the runner's ``fault_until`` hook: called every tick of the fault
phase, it shows alerts as they fire, pages the trainee (the first alert firing; or, when
nothing fires, a report from a colleague after a while), asks for an acknowledgement and
then for a diagnosis (component and fault family), gives hints on a schedule, and returns
true once the drill is over: diagnosed, given up (``give up``, or end of input) or out of
time. The fault phase, hence the fault, lasts exactly that long.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from gameday.drill.answers import AnswerKey, Choice, parse_choice
from gameday.drill.lines import InputLines
from gameday.drill.pager import Pager, label_text
from gameday.drill.sheet import Event, Sheet
from gameday.run.record import RunRecord

GIVE_UP = ("give up", "giveup", "reveal", "quit")
ENDINGS = {  # how the timeline words each way a drill can end without a diagnosis
    "gave up": "answer revealed on request",
    "time up": "time limit reached, answer revealed",
    "aborted": "drill stopped by the run (faults reverted)",
}
RULE = "=" * 72
Hints = Callable[[int, RunRecord], list[str] | None]
"""``hints(i, record)``: the lines of hint number ``i`` (from 0), or None when none is left."""


class Stage(enum.Enum):
    WAITING = "waiting for the page"
    ACK = "ack> "
    COMPONENT = "component> "
    FAMILY = "family> "
    DONE = "done"


ASKING = (Stage.ACK, Stage.COMPONENT, Stage.FAMILY)


@dataclass(frozen=True)
class Given:
    """One diagnosis the trainee gave (choice keys) and whether it was right."""

    at: float
    component: str
    family: str
    correct: bool

    def to_json(self) -> dict[str, object]:
        return {
            "at": self.at,
            "component": self.component,
            "family": self.family,
            "correct": self.correct,
        }


@dataclass
class Score:
    """What the trainee did and when (Unix seconds). Times to acknowledge and to diagnose are
    measured from ``origin``: the first alert seen firing, else the fault's apply time."""

    fault_at: float | None = None
    paged_at: float | None = None
    paged_by: str = ""
    origin: float | None = None
    acked_at: float | None = None
    diagnosed_at: float | None = None
    given: list[Given] = field(default_factory=list)
    hints: int = 0
    ended: str = ""

    @property
    def wrong(self) -> int:
        return sum(not g.correct for g in self.given)

    @property
    def time_to_acknowledge_s(self) -> float | None:
        return _since(self.origin, self.acked_at)

    @property
    def time_to_diagnosis_s(self) -> float | None:
        return _since(self.origin, self.diagnosed_at)


def _since(origin: float | None, t: float | None) -> float | None:
    return None if origin is None or t is None else round(max(0.0, t - origin), 2)


@dataclass(frozen=True)
class Settings:
    """Hints every ``hint_after_s`` after the page; the drill ends ``max_s`` after the fault
    phase began; with no alert firing, a colleague reports trouble ``report_after_s`` after
    the fault."""

    hint_after_s: float = 120.0
    max_s: float = 900.0
    report_after_s: float = 60.0


class Trainee:
    """The drill's conversation with the trainee (see the module docstring)."""

    def __init__(
        self,
        out: TextIO,
        lines: InputLines,
        key: AnswerKey,
        choices: tuple[Sequence[Choice], Sequence[Choice]],
        pager: Pager,
        hints: Hints,
        settings: Settings,
        sheet: Sheet | None = None,
    ):
        self.out, self.lines, self.key, self.pager, self.hints = out, lines, key, pager, hints
        self.components, self.families = choices
        self.settings, self.sheet = settings, sheet or Sheet(None)
        self.stage = Stage.WAITING
        self.score = Score()
        self.events: list[Event] = []
        self._pending: deque[str] = deque()
        self._component: Choice | None = None
        self._record: RunRecord | None = None
        self._prompt_open = False
        self._no_more_hints = False

    def step(self, record: RunRecord) -> bool:
        """One tick of the fault phase; True once the drill is over (the fault may end)."""
        now = time.time()
        self._record = record
        if self.score.fault_at is None:
            self.score.fault_at = record.fault_start
        self._watch(now)
        if self.stage is Stage.WAITING:
            self._maybe_page(now)
        self._take_input()
        self._hint_if_due(now)
        phase = record.phase("fault")
        if self.stage is not Stage.DONE and phase and now - phase.start >= self.settings.max_s:
            self._finish("time up", f"Time is up ({self.settings.max_s / 60:g} min).")
        return self.stage is Stage.DONE

    def close(self, ended: str) -> None:
        """End the conversation from outside (the run stopped first): no prompt is left open."""
        if self.stage is not Stage.DONE:
            self._end_prompt()
            self.stage, self.score.ended = Stage.DONE, self.score.ended or ended
            self._note(ENDINGS.get(ended, ended))

    # --- output -------------------------------------------------------------------------

    def _end_prompt(self) -> None:
        if self._prompt_open:  # close the open prompt line before anything else is said
            self.out.write("\n")
            self._prompt_open = False

    def say(self, lines: Sequence[str]) -> None:
        """Print lines for the trainee; an open prompt is closed first and asked again after."""
        reopen = self._prompt_open
        self._end_prompt()
        self.out.write("".join(f"{line}\n" for line in lines))
        if reopen:
            self._cue()
        self.out.flush()

    def _cue(self) -> None:
        self.out.write(self.stage.value)
        self.out.flush()
        self._prompt_open = True

    def _prompt(self) -> None:
        if self.stage is Stage.ACK:
            self.say(["Acknowledge the page: press Enter (or type ack)."])
        elif self.stage is Stage.COMPONENT:
            self.say(["Root cause: which component? (number or name)", *_numbered(self.components)])
        elif self.stage is Stage.FAMILY:
            self.say(["Fault family? (number or name)", *_numbered(self.families)])
        self._cue()

    def _note(self, what: str, *, keep: bool = True) -> None:
        """An event for the facilitator's sheet and (``keep``) the drill's timeline."""
        event = Event(time.time(), what)
        self.sheet.event(event)
        if keep:
            self.events.append(event)

    # --- page -----------------------------------------------------------------------------

    def _watch(self, now: float) -> None:
        for sighting in self.pager.poll(now):
            self.say(self.pager.render(sighting))
            what = f"seen {sighting.state}: {sighting.alert.name} {label_text(sighting.alert)}"
            self._note(what, keep=False)

    def _maybe_page(self, now: float) -> None:
        first = self.pager.first_firing_at
        if first is not None:
            name = next(iter(self.pager.fired.values())).name
            self._page(first, name, f"PAGE: {name} is firing. You are on call.")
        elif self.score.fault_at and now - self.score.fault_at >= self.settings.report_after_s:
            words = "PAGE: no alert fired, but a downstream team reports that predictions look off."
            self._page(self.score.fault_at, "report", words)

    def _page(self, origin: float, by: str, words: str) -> None:
        self.score.paged_at, self.score.paged_by, self.score.origin = time.time(), by, origin
        self._note(f"paged ({'first alert: ' + by if by != 'report' else 'a report, no alert'})")
        tips = "At any prompt: 'hint' for a hint, 'give up' to see the answer."
        self.say([RULE, words, *self.pager.links.where_to_look(), tips, RULE])
        self.stage = Stage.ACK
        self._prompt()

    # --- answers --------------------------------------------------------------------------

    def _take_input(self) -> None:
        self._pending.extend(self.lines.poll())
        while self._pending and self.stage in ASKING:
            self._answer(self._pending.popleft())
        if self.lines.eof and not self._pending and self.stage in ASKING:
            self._finish("gave up", "No more answers (end of input): giving up.")

    def _answer(self, text: str) -> None:
        if self._prompt_open and not self.out.isatty():  # piped: show the answer in the log
            self.out.write(text + "\n")
        self._prompt_open = False
        command = " ".join(text.lower().split())
        if command in GIVE_UP:
            self._finish("gave up", "Giving up.")
        elif command == "hint":
            self._give_hint()
            self._prompt()
        elif self.stage is Stage.ACK:
            self._acknowledge()
        else:
            self._choose(text)

    def _acknowledge(self) -> None:
        self.score.acked_at = time.time()
        self._note("acknowledged")
        self.say([f"Acknowledged after {self.score.time_to_acknowledge_s:.1f} s."])
        self.stage = Stage.COMPONENT
        self._prompt()

    def _choose(self, text: str) -> None:
        choices = self.components if self.stage is Stage.COMPONENT else self.families
        choice = parse_choice(text, choices)
        if choice is None:
            self.say(
                [
                    f"{text.strip()!r} is not one of the choices: type its number "
                    f"(1-{len(choices)}) or its name."
                ]
            )
        elif self.stage is Stage.COMPONENT:
            self._component, self.stage = choice, Stage.FAMILY
        else:
            self._judge(choice)
            if self.stage is Stage.DONE:
                return
        self._prompt()

    def _judge(self, family: Choice) -> None:
        component = self._component
        assert component is not None
        correct = self.key.judge(component.key, family.key)
        now = time.time()
        self.score.given.append(Given(now, component.key, family.key, correct))
        answer = f"{component.label}, family {family.label}"
        if correct:
            self.score.diagnosed_at = now
            self._note(f"diagnosed: {answer}")
            took = self.score.time_to_diagnosis_s or 0.0
            self._finish("diagnosed", f"Correct: {answer}. Diagnosed {took:.1f} s after the page.")
            return
        self._note(f"hypothesis ruled out: {answer}")
        self.say(
            [
                f"Not the root cause: {answer} does not explain what the stack shows. "
                f"Keep looking ({self.score.wrong} ruled out so far; 'hint' for a hint)."
            ]
        )
        self.stage = Stage.COMPONENT

    def _finish(self, ended: str, words: str) -> None:
        self._end_prompt()
        self.stage, self.score.ended = Stage.DONE, ended
        if ended != "diagnosed":
            self._note(ENDINGS.get(ended, ended))
        self.say(
            [
                words,
                "Reverting the fault and watching the stack recover; "
                "the answer and its evidence follow.",
            ]
        )

    # --- hints ----------------------------------------------------------------------------

    def _hint_if_due(self, now: float) -> None:
        paged = self.score.paged_at
        if paged is None or self.stage is Stage.DONE or self._no_more_hints:
            return
        if now >= paged + (self.score.hints + 1) * self.settings.hint_after_s:
            self._give_hint()

    def _give_hint(self) -> None:
        lines = None if self._record is None else self.hints(self.score.hints, self._record)
        if lines is None:
            self._no_more_hints = True
            self.say(["No more hints: the runbooks and the traces are all there is."])
            return
        self.score.hints += 1
        self._note(f"hint {self.score.hints} given")
        self.say(lines)


def _numbered(choices: Sequence[Choice]) -> list[str]:
    return [f"  {i}) {c.label}" for i, c in enumerate(choices, 1)]
