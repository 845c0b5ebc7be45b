"""One drill, end to end: pick, run blind, converse, reveal, write the post-mortem.

The scenario runs through the ordinary runner (:func:`gameday.runner.run_scenario`), so the
drill inherits its safety: the undo journal, TTLs, guards, and reverts on every way out
(normal end, Ctrl-C, SIGTERM, a bug). The runner gets the blind copy of the scenario
(:func:`gameday.drill.pick.blind`), a console that hides the fault from the trainee
(:class:`gameday.drill.sheet.TraineeConsole`), and the trainee's conversation as its
``fault_until`` hook, so the fault stays on until the diagnosis (or the time limit).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from gameday.drill import hints as hint_texts
from gameday.drill.answers import (
    AnswerKey,
    Choice,
    answer_key,
    choices_for,
    describe,
    label_of,
)
from gameday.drill.evidence import evidence_lines
from gameday.drill.lines import InputLines
from gameday.drill.observe import Observability
from gameday.drill.outcome import DrillOutcome, write_json, write_text
from gameday.drill.pager import Links, Pager
from gameday.drill.pick import blind, drillable, new_seed, pick
from gameday.drill.postmortem import Facts, render, run_events
from gameday.drill.sheet import Event, Sheet, TraineeConsole
from gameday.drill.trainee import RULE, Settings, Trainee
from gameday.evidence.requests import LoadStats
from gameday.run import session
from gameday.run.batch import Batch, BatchOptions
from gameday.run.interrupts import interruptible
from gameday.run.record import RunRecord
from gameday.run.results import ScenarioResult
from gameday.scenario.environment import Environment, load_environment
from gameday.scenario.expectations import AlertExpectation
from gameday.scenario.files import discover
from gameday.scenario.model import Scenario, load_scenarios

POSTMORTEM = "postmortem.md"  # in the run folder, unless --postmortem says where
REPORT_AFTER_S = 45.0  # no alert expected: a colleague reports trouble after this long
REPORT_MARGIN_S = 10.0  # ... or this long after the latest an expected alert should fire
BANNER = (
    "gameday drill: you are on call for the ML platform. Something is about to go wrong.",
    "When paged: acknowledge, find the root cause, and name its component and fault family.",
    "Waiting for the stack to settle ...",
)


@dataclass(frozen=True)
class DrillOptions:
    """``gameday drill``'s options (see ``gameday drill --help``)."""

    paths: tuple[str, ...]
    seed: int | None = None
    env: str | None = None
    json: Path | None = None
    hint_after_s: float = 120.0
    max_minutes: float = 15.0
    postmortem: Path | None = None
    facilitator: Path | None = None
    journal: str = ".gameday/journal"
    workdir: Path | None = None
    settle_s: float = 60.0


def run_drill(options: DrillOptions, out: TextIO | None = None, stdin_fd: int = 0) -> DrillOutcome:
    """Play one drill: answers read from ``stdin_fd``, everything the trainee sees to ``out``.

    Raises ScenarioError for bad input (nothing started); StackUnavailable or Aborted when
    the environment cannot be used. An outcome with ``aborted`` set means the run stopped
    (interrupted, guard, broken steady state) after its faults were reverted.
    """
    out = out or sys.stdout
    environment = _environment(options.env)
    scenarios = load_scenarios(discover(options.paths), environment=environment)
    seed = options.seed if options.seed is not None else new_seed()
    scenario, max_s = pick(scenarios, seed), options.max_minutes * 60
    played, key = blind(scenario, max_s), answer_key(scenario, environment)
    choices = choices_for(drillable(scenarios), environment)
    sheet = Sheet(options.facilitator)
    try:
        sheet.header(scenario, key, seed, max_s)
        console = TraineeConsole(out, sheet)
        batch = Batch(_batch_options(options), console)
        with interruptible(), batch:
            env = batch.environment
            trainee = _trainee(out, scenario, key, choices, env, options, sheet, stdin_fd)
            trainee.say(BANNER)
            result = batch.run(played, fault_until=trainee.step)
            return _conclude(scenario, seed, key, choices, result, trainee, options)
    finally:
        sheet.close()


def _environment(env_file: str | None) -> Environment:
    """The environment file's (or the embedded stack's) targets: what scenarios are checked
    against and what the answer key and the choices are made of."""
    return load_environment(env_file) if env_file else session.embedded_template()


def _batch_options(options: DrillOptions) -> BatchOptions:
    return BatchOptions(
        env_file=options.env,
        workdir=options.workdir or Path(".gameday") / "drills",
        settle_s=options.settle_s,
        journal=Path(options.journal),
    )


def _trainee(
    out: TextIO,
    scenario: Scenario,
    key: AnswerKey,
    choices: tuple[tuple[Choice, ...], tuple[Choice, ...]],
    env: Environment,
    options: DrillOptions,
    sheet: Sheet,
    stdin_fd: int,
) -> Trainee:
    observe = Observability(env)
    pager = Pager(observe.prometheus.alerts, lambda: observe.rules, Links.of(env))

    def hints(i: int, record: RunRecord) -> list[str] | None:
        try:
            if i == 0:
                return hint_texts.runbook_hint(pager.fired.values(), scenario.runbook)
            if i == 1:
                return hint_texts.trace_hint(record.requests, observe.traces)
        except Exception as exc:  # noqa: BLE001 - a hint that fails must not end the drill
            return [f"(hint unavailable: {type(exc).__name__}: {exc})"]
        return None

    max_s = options.max_minutes * 60
    settings = Settings(options.hint_after_s, max_s, _report_after(scenario, max_s))
    return Trainee(out, InputLines(stdin_fd), key, choices, pager, hints, settings, sheet)


def _report_after(scenario: Scenario, max_s: float) -> float:
    """How long after the fault a colleague reports trouble when no alert has fired: a bit
    after the latest bound the scenario gives its expected alerts (never past half the time)."""
    bounds = [
        e.fires_within
        for e in scenario.expect
        if isinstance(e, AlertExpectation) and e.fires_within is not None
    ]
    after = max(bounds) + REPORT_MARGIN_S if bounds else REPORT_AFTER_S
    return min(after, max_s / 2)


def _conclude(
    scenario: Scenario,
    seed: int,
    key: AnswerKey,
    choices: tuple[tuple[Choice, ...], tuple[Choice, ...]],
    result: ScenarioResult,
    trainee: Trainee,
    options: DrillOptions,
) -> DrillOutcome:
    """Reveal (once a fault was applied), write the outputs, and say how the drill went."""
    aborted = result.aborted
    trainee.close("aborted" if aborted else "time up")
    events, notes = run_events(result.evidence)
    source = str(scenario.source) if scenario.source else None
    timeline = [*trainee.events, *events]
    outcome = DrillOutcome(scenario.name, seed, key, trainee.score, timeline, aborted, source)
    postmortem = None
    if result.evidence.timeline.fault_start is not None:
        trainee.say(_reveal(scenario, key, choices, result))
        postmortem = render(_facts(scenario, key, choices, outcome, notes, result))
    written = _write(options, outcome, postmortem, result.run_dir)
    trainee.sheet.event(Event(time.time(), f"drill over: {outcome.score.ended}", "run"))
    trainee.say([*_scoreline(outcome), *written, RULE])
    return outcome


def _write(
    options: DrillOptions, outcome: DrillOutcome, postmortem: str | None, run_dir: Path | None
) -> list[str]:
    """Write the post-mortem (``--postmortem``, else into the run folder beside the evidence)
    and the outcome; one line per file written, for the trainee."""
    written = []
    target = options.postmortem or (run_dir / POSTMORTEM if run_dir else None)
    if target is not None and postmortem is not None:
        write_text(target, postmortem)
        written.append(f"post-mortem template: {target}")
    if options.json:
        write_json(options.json, outcome)
        written.append(f"outcome: {options.json}")
    return written


def _expected_services(key: AnswerKey) -> set[str]:
    # components named like services (the services faults' targets name are accepted
    # components) mark the chart's rows
    return {c for culprit in key.culprits for c in culprit.components}


def _reveal(
    scenario: Scenario,
    key: AnswerKey,
    choices: tuple[tuple[Choice, ...], tuple[Choice, ...]],
    result: ScenarioResult,
) -> list[str]:
    components, families = choices
    lines = [RULE, "THE ANSWER"]
    for c in key.culprits:
        also = [label_of(k, components) for k in c.also_components]
        lines.append(f"  fault:     {c.fault}")
        lines.append(
            f"  component: {label_of(c.component, components)}"
            + (f" (also accepted: {', '.join(also)})" if also else "")
        )
        lines.append(f"  family:    {' or '.join(label_of(f, families) for f in c.families)}")
    lines.append(f"  scenario:  {scenario.name}: {' '.join(scenario.summary.split())}")
    if scenario.runbook:
        lines.append(f"  runbook:   {scenario.runbook}")
    lines += ["", "EVIDENCE", f"Requests: baseline {_figures(result.stats('baseline'))}; "
              f"under the fault {_figures(result.stats('fault'))}", ""]  # fmt: skip
    lines += evidence_lines(result, _expected_services(key))
    return lines


def _figures(stats: LoadStats) -> str:
    p95 = "-" if stats.p95_ms is None else f"{stats.p95_ms:.0f} ms"
    return f"p95 {p95}, {stats.error_rate:.1%} errors"


def _scoreline(outcome: DrillOutcome) -> list[str]:
    s = outcome.score
    ack = "-" if s.time_to_acknowledge_s is None else f"{s.time_to_acknowledge_s:.1f} s"
    diag = "-" if s.time_to_diagnosis_s is None else f"{s.time_to_diagnosis_s:.1f} s"
    head = f"YOUR DRILL: {s.ended or 'not started'}" + (
        f" (aborted: {outcome.aborted})" if outcome.aborted else ""
    )
    return [
        head,
        f"  time to acknowledge {ack}; time to diagnosis {diag}; "
        f"hypotheses ruled out {s.wrong}; hints {s.hints}",
    ]


def _facts(
    scenario: Scenario,
    key: AnswerKey,
    choices: tuple[tuple[Choice, ...], tuple[Choice, ...]],
    outcome: DrillOutcome,
    notes: list[str],
    result: ScenarioResult,
) -> Facts:
    components, families = choices
    p, s = key.primary, outcome.score
    answer = f"{label_of(p.component, components)}, family {label_of(p.family, families)}"
    return Facts(
        scenario=scenario.name,
        summary=scenario.summary,
        faults=[describe(f) for f in scenario.faults],
        answer=answer,
        ended=s.ended,
        paged_by=s.paged_by,
        fault_at=result.evidence.timeline.fault_start,
        time_to_acknowledge_s=s.time_to_acknowledge_s,
        time_to_diagnosis_s=s.time_to_diagnosis_s,
        ruled_out=s.wrong,
        hints=s.hints,
        baseline=result.stats("baseline"),
        under_fault=result.stats("fault"),
        events=outcome.timeline,
        notes=notes,
        aborted=outcome.aborted,
    )
