"""The game-day timeline of one scenario: settle → baseline → fault → revert → recovery →
capture → verify.

One function per phase. Faults are reverted on every way out (normal end, guard breach, a
broken load, exception, Ctrl-C, SIGTERM), inside a shield that a second Ctrl-C cannot break.

The steady state concerns the alerts the scenario names (expected, silent, guards) and those
the environment adds (``steady_state: {alerts: [...]}``): the baseline starts once none of
them is pending or firing, and starts again if one becomes active during it. Alerts nobody
named may fire throughout; the report lists them. The load is watched on every tick: a load
generator that stops, loses users or whose requests stop completing aborts the run.

With adaptive phases (the default) the fault and recovery phases end as soon as every check
is decided on the evidence captured so far, never later than configured. At the end the
collectors capture the evidence once (:mod:`gameday.evidence.collect`), the verifiers judge
it, and the run's bundle is written (:mod:`gameday.evidence.bundle`).

Seams for tests and embedders: a :class:`Clock`, the :class:`EvidenceSource` (what is read
live), and the injector and verifier registries (:class:`Seams`).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from gameday import registry
from gameday.errors import Aborted, InjectionError, ScenarioError, StackUnavailable
from gameday.evidence.bundle import write_bundle
from gameday.evidence.collect import CapturePlan, Collectors, EvidenceSource
from gameday.evidence.model import (
    DataEvidence,
    Effect,
    LoadTick,
    ModelEvidence,
    RunEvidence,
    TracesEvidence,
)
from gameday.evidence.requests import LoadStats, summarize
from gameday.evidence.traces import keeps_trace_id, wanted
from gameday.injectors.base import FaultContext, Injector
from gameday.registry import Registry
from gameday.run import live
from gameday.run.console import Console
from gameday.run.guards import breach, load_problem
from gameday.run.interrupts import interruptible, shielded
from gameday.run.judge import judge, named_alerts, verifiers_for
from gameday.run.load import Load
from gameday.run.record import FaultRecord, Phase, RunRecord
from gameday.run.results import ScenarioResult
from gameday.scenario.environment import Environment, host_of
from gameday.scenario.expectations import DataQualityExpectation, Expectation
from gameday.scenario.model import Scenario, scenario_document
from gameday.telemetry.prometheus import PrometheusAlert
from gameday.undo.journal import Journal
from gameday.undo.log import UndoLog
from gameday.verifiers.base import PhaseName, Verifier, decided_for
from gameday.verifiers.data_quality import bad_batches

TICK_S = 0.25
DECIDE_EVERY_S = 1.0
ALERTS_EVERY_S = 1.0  # Prometheus's active alerts are read at most this often
SETTLE_TIMEOUT_S = 60.0
STEADY_ERROR_RATE = 0.05
TTL_MARGIN_S = 30.0
MIN_PHASE_S: dict[PhaseName, float] = {"fault": 3.0, "recovery": 3.0}
LOAD_MARGIN_S = 120.0
LOAD_TICK_S = 1.0  # the load's health is recorded at most this often


class Clock(Protocol):
    """Wall time (for evidence), monotonic time (for deadlines) and pacing."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        # The timeline's pacing between polls: every wait in this module has its own deadline.
        time.sleep(max(0.0, seconds))


@dataclass(frozen=True)
class RunOptions:
    """How one scenario runs.

    ``settle_s`` bounds the wait for the named alerts to be quiet before the baseline.
    Every fault is written to the undo ``journal`` (default ``.gameday/journal``) before it
    is applied, and carries a TTL of its window plus ``ttl_margin_s``. ``fault_until``
    (``gameday drill``) replaces the adaptive end of the fault phase: called every tick with
    the live record, the phase ends once it returns true (never later than configured).
    """

    settle_s: float = SETTLE_TIMEOUT_S
    ttl_margin_s: float = TTL_MARGIN_S
    journal: Journal | None = None
    tick_s: float = TICK_S
    decide_every_s: float = DECIDE_EVERY_S
    fault_until: Callable[[RunRecord], bool] | None = None


@dataclass(frozen=True)
class Seams:
    """What a run reads and uses, replaceable: the clock, the evidence source (default: the
    environment's collectors) and the plug-in registries (default: the installed ones)."""

    clock: Clock = field(default_factory=SystemClock)
    source: EvidenceSource | None = None
    injectors: Registry[Injector] | None = None
    verifiers: Registry[Verifier[Expectation]] | None = None


@dataclass
class _Run:
    """The state one scenario's timeline works on."""

    record: RunRecord
    console: Console
    workdir: Path
    options: RunOptions
    clock: Clock
    source: EvidenceSource
    known: Registry[Injector]
    checks: list[tuple[Verifier[Expectation], Expectation]]
    named: tuple[str, ...]
    undo: UndoLog
    load: Load | None = None
    injectors: dict[int, Injector] = field(default_factory=dict)
    active: list[PrometheusAlert] = field(default_factory=list)
    last_completion: float = 0.0
    _next_alerts: float = float("-inf")
    _next_decide: float = float("-inf")
    _next_status: float = float("-inf")
    _next_load_tick: float = float("-inf")

    @property
    def scenario(self) -> Scenario:
        return self.record.scenario

    def now(self) -> float:
        return self.clock.time()


def run_scenario(
    scenario: Scenario,
    environment: Environment,
    console: Console,
    workdir: Path,
    options: RunOptions | None = None,
    seams: Seams | None = None,
) -> ScenarioResult:
    """Run one scenario against ``environment``, write its bundle to ``workdir`` and return
    its verdict with the evidence."""
    options, seams = options or RunOptions(), seams or Seams()
    verifiers = seams.verifiers if seams.verifiers is not None else registry.verifiers()
    record = RunRecord(scenario, environment, started_at=seams.clock.time())
    undo = UndoLog(options.journal or Journal(), environment, console.event)
    run = _Run(
        record, console, workdir, options, seams.clock,
        seams.source or Collectors(environment),
        seams.injectors if seams.injectors is not None else registry.injectors(),
        verifiers_for(scenario, verifiers), named_alerts(scenario, environment), undo,
    )  # fmt: skip
    undo.warn_leftovers()
    console.event(f"== {scenario.name}: {scenario.summary}")
    try:
        with interruptible():
            _timeline(run)
    except Aborted as exc:
        record.aborted = str(exc)
        console.event(f"aborted: {exc}")
    except (StackUnavailable, InjectionError) as exc:
        record.aborted = f"{type(exc).__name__}: {exc}"
        console.event(f"aborted: {record.aborted}")
    record.finished_at = run.now()
    evidence = _capture(run)
    result = ScenarioResult(scenario, evidence, judge(scenario, evidence, verifiers), workdir)
    write_bundle(workdir, result)
    live.finish(result)
    return result


def _timeline(run: _Run) -> None:
    _prepare_faults(run)
    run.source.begin(CapturePlan(run.named, run.record.started_at))
    with contextlib.ExitStack() as cleanup:
        _start_load(run, cleanup)
        _steady_state(run)
        cleanup.callback(_revert_all, run)
        _fault(run)
        _revert_all(run)
        _recovery(run)


def _prepare_faults(run: _Run) -> None:
    """Resolve every fault's injector and target now, before anything is touched."""
    env, nonce = run.record.environment, uuid.uuid4().hex[:6]
    for i, fault in enumerate(run.scenario.faults):
        injector = run.known.get(fault.injector)()
        target = env.resolve(fault.target, injector)
        _check_allowed(env, target.settings)
        run.injectors[i] = injector
        fault_id = f"{run.scenario.name}-{i}-{nonce}"
        run.record.faults.append(FaultRecord(i, fault, fault_id, target.kind))
    for fr in run.record.faults:  # only once every target passed the allowlist
        injector = run.injectors[fr.index]
        run.undo.prepare(fr.fault_id, injector, env.resolve(fr.fault.target, injector))


def _check_allowed(env: Environment, settings: object) -> None:
    for value in env.refused_addresses(settings):
        raise ScenarioError(f"target address {value} is not in allow_hosts {list(env.allow_hosts)}")


def _start_load(run: _Run, cleanup: contextlib.ExitStack) -> None:
    spec, env = run.scenario.load, run.record.environment
    if spec is None:
        return
    host = spec.host or env.model_server
    if not host:
        raise ScenarioError("the scenario has load but the environment names no model_server")
    if not env.allows(host_of(host)):
        raise ScenarioError(f"load host {host} is not in allow_hosts {list(env.allow_hosts)}")
    workers = spec.workers if spec.workers is not None else env.load.workers
    run.load = Load(
        host,
        spec.users,
        spec.spawn_rate,
        run.scenario.timeline.total + run.options.settle_s + LOAD_MARGIN_S,
        run.workdir / "load",
        locustfile=spec.locustfile,
        workers=workers or 0,
        master=spec.master or env.load.master,
    )
    run.load.start()
    run.record.requests = run.load.records
    run.last_completion = run.now()
    cleanup.callback(run.load.stop)
    run.console.event(f"load: {spec.users} users against {host}")


# --- every turn of the loop ---------------------------------------------------------------------


def _tick(run: _Run, phase: str) -> None:
    """What every turn of the runner's loop does besides the timeline: poll the evidence
    sources, publish gameday's metrics, watch the load and the guards."""
    run.source.tick()
    live.tick(run.record)
    _watch_load(run, phase)
    _watch_guards(run, phase)


def _active(run: _Run) -> list[PrometheusAlert]:
    """Prometheus's pending and firing alerts, read at most once a second."""
    if run.clock.monotonic() >= run._next_alerts:
        run._next_alerts = run.clock.monotonic() + ALERTS_EVERY_S
        run.active = run.source.active_alerts()
    return run.active


def _named_active(run: _Run) -> list[str]:
    """The named alerts that are pending or firing now, as ``name (state)``."""
    return sorted({f"{a.name} ({a.state})" for a in _active(run) if a.name in run.named})


def _firing(run: _Run) -> list[str]:
    return sorted({a.name for a in _active(run) if a.state == "firing"})


def _watch_load(run: _Run, phase: str) -> None:
    """Record the load generator's health; abort when it stops or its requests stop."""
    if run.load is None:
        return
    new = run.load.poll()
    now = run.now()
    if new:
        run.last_completion = max(run.last_completion, *(r.end for r in new))
    if run.clock.monotonic() < run._next_load_tick:
        return
    run._next_load_tick = run.clock.monotonic() + LOAD_TICK_S
    health = run.load.health()
    recent = summarize(run.record.requests, now - 5.0).requests
    tick = LoadTick(
        t=now, alive=health.alive, users=health.users, state=health.state, recent=recent
    )
    run.record.load_ticks.append(tick)
    problem = load_problem(health, run.load.users, run.last_completion, now)
    if problem:
        run.record.load_stopped = problem
        done = "nothing was injected" if phase in ("settle", "baseline") else "every fault reverted"
        raise Aborted(f"the load broke in {phase}: {problem}; {done}")


def _watch_guards(run: _Run, phase: str) -> None:
    """Stop conditions, watched in every phase: a breach aborts (reverting every fault)."""
    guards = run.scenario.guards
    if not guards:
        return
    now = run.now()
    firing = _firing(run) if any(g.alert for g in guards) else []
    reason = breach(guards, summarize(run.record.requests, now - 5.0), firing)
    if reason:
        run.console.event(f"guard breached in {phase}: {reason}; reverting every fault")
        done = "nothing was injected" if phase in ("settle", "baseline") else "every fault reverted"
        raise Aborted(f"guard breached in {phase}: {reason}; {done}")


def _status(run: _Run, phase: str, left: float) -> None:
    if run.clock.monotonic() < run._next_status:
        return
    run._next_status = run.clock.monotonic() + 1.0
    run.console.status(phase, left, _recent(run), _firing(run))


def _recent(run: _Run, seconds: float = 5.0) -> LoadStats:
    return summarize(run.record.requests, run.now() - seconds)


# --- the steady state ---------------------------------------------------------------------------


def _steady_state(run: _Run) -> None:
    """Settle, then a whole baseline with none of the named alerts active; or abort with
    nothing injected.

    A named alert that becomes active during the baseline sends the run back to settling,
    within the same settle budget: a burn-rate alert can flap for a while after a previous
    scenario's outage, and a batch should wait that out, not fail.
    """
    deadline = run.clock.monotonic() + run.options.settle_s
    while disturbed := _baseline(run, deadline):
        if run.clock.monotonic() > deadline:
            raise Aborted(
                f"steady state broken in baseline: {', '.join(disturbed)}; nothing was injected"
            )
        run.console.event(f"baseline disturbed: {', '.join(disturbed)}; settling again")


def _settle(run: _Run, deadline: float) -> None:
    """Wait (bounded) until none of the named alerts is pending or firing."""
    while active := _named_active(run):
        if run.clock.monotonic() > deadline:
            raise Aborted(
                f"steady state not reached: still active after {run.options.settle_s:g} s: "
                f"{', '.join(active)}; nothing was injected"
            )
        _tick(run, "settle")
        run.console.status("settle", deadline - run.clock.monotonic(), _recent(run), active)
        run.clock.sleep(1.0)


def _baseline(run: _Run, deadline: float) -> list[str]:
    """One baseline after settling: the named alerts that became active during it (empty:
    the steady state held). Raises Aborted when the load fails."""
    _settle(run, deadline)
    run.record.baselines += 1
    phase = _begin(run, "baseline", run.scenario.timeline.baseline)
    while (left := phase.planned_s - phase.elapsed(run.now())) > 0:
        if active := _named_active(run):
            _end(run, phase)
            return active
        _tick(run, "baseline")
        _status(run, "baseline", left)
        run.clock.sleep(min(1.0, left))
    _end(run, phase)
    stats = run.record.stats("baseline", run.now())
    if run.load and stats.requests == 0 and phase.planned_s > 0:  # 0 s: no baseline asked for
        raise Aborted("steady state broken in baseline: the load made no request")
    if stats.error_rate > STEADY_ERROR_RATE:
        raise Aborted(
            f"steady state broken in baseline: error rate {stats.error_rate:.1%} "
            f"over {STEADY_ERROR_RATE:.0%}; nothing was injected"
        )
    return []


def _begin(run: _Run, name: str, planned: float) -> Phase:
    phase = Phase(name, run.now(), planned_s=planned)
    run.record.phases[name] = phase
    run.console.event(f"{name}: up to {planned:g} s")
    return phase


def _end(run: _Run, phase: Phase) -> None:
    phase.end = run.now()


# --- the fault ----------------------------------------------------------------------------------


def _fault(run: _Run) -> None:
    """Apply each fault at its offset, revert each at its end, watch, end when decided."""
    phase = _begin(run, "fault", run.scenario.timeline.fault)
    while (elapsed := phase.elapsed(run.now())) < phase.planned_s:
        _apply_due(run, elapsed)
        _revert_due(run, elapsed)
        _tick(run, "fault")
        if _fault_over(run, elapsed):
            break
        _status(run, "fault", phase.planned_s - elapsed)
        run.clock.sleep(run.options.tick_s)
    _end(run, phase)


def _fault_over(run: _Run, elapsed: float) -> bool:
    """Whether the fault phase may end now: the caller's ``fault_until`` says so, or else
    (adaptive phases) every check is done with the fault."""
    if run.options.fault_until is not None:
        return run.options.fault_until(run.record)
    if _decided(run, "fault", elapsed):
        run.console.event(f"fault: every fault check decided after {elapsed:.1f} s")
        return True
    return False


def _apply_due(run: _Run, elapsed: float) -> None:
    for fr in run.record.faults:
        if fr.applied_at is None and fr.error is None and elapsed >= fr.fault.start:
            _apply(run, fr)


def _apply(run: _Run, fr: FaultRecord) -> None:
    fault, injector = fr.fault, run.injectors[fr.index]
    window = fault.duration or (run.scenario.timeline.fault - fault.start)
    ctx = FaultContext(
        fr.fault_id,
        run.record.environment.resolve(fault.target, injector),
        injector.validated(fault.params),
        window + run.options.ttl_margin_s,
        run.scenario.fault_seed(fr.index),
    )
    with shielded():  # a Ctrl-C mid-apply waits until the fault is on record, then reverts it
        run.undo.intend(injector, ctx)  # durable before anything is touched
        fr.apply_started_at = run.now()
        try:
            fr.applied = injector.apply(ctx)
        except Exception as exc:
            fr.error = f"apply failed: {exc}"
            run.undo.failed(injector, ctx)
            raise
        fr.applied_at = run.now()
        run.undo.applied(fr.applied)
    run.console.event(f"fault applied: {fault.injector} on {fault.target} {dict(fault.params)}")


def _revert_due(run: _Run, elapsed: float) -> None:
    for fr in run.record.faults:
        end = fr.fault.start + fr.fault.duration if fr.fault.duration else None
        if fr.applied_at and fr.reverted_at is None and end is not None and elapsed >= end:
            with shielded():
                _revert(run, fr)


def _revert_all(run: _Run) -> None:
    """Revert every applied fault (idempotent); a failed revert is reported loudly."""
    with shielded():
        failed = [
            fr
            for fr in run.record.faults
            if fr.applied and fr.reverted_at is None and not _revert(run, fr)
        ]
    if failed:
        raise InjectionError(
            "REVERT FAILED for "
            + "; ".join(f"{f.fault.title}: {f.error}" for f in failed)
            + " (run `gameday recover`)"
        )


def _revert(run: _Run, fr: FaultRecord) -> bool:
    assert fr.applied is not None
    injector = run.injectors[fr.index]
    try:
        fr.revert_evidence = dict(injector.revert(fr.applied))
    except Exception as exc:  # noqa: BLE001 - every other fault must still be reverted
        fr.error = f"revert failed: {exc}"
        run.console.event(f"!! REVERT FAILED: {fr.fault.title}: {exc}")
        return False
    fr.reverted_at = run.now()
    run.undo.reverted(fr.fault_id)
    fr.effect = _effect(injector, fr)
    run.console.event(f"fault reverted: {fr.fault.injector} on {fr.fault.target}")
    if fr.effect is not None and fr.effect.took_effect is False:
        run.console.event(f"!! the fault took no effect: {fr.effect.detail}")
    return True


def _effect(injector: Injector, fr: FaultRecord) -> Effect | None:
    assert fr.applied is not None
    try:
        return injector.effect(fr.applied, fr.revert_evidence)
    except Exception as exc:  # noqa: BLE001 - an injector that cannot tell says so
        return Effect(took_effect=None, detail=f"effect unknown: {type(exc).__name__}: {exc}")


# --- the recovery -------------------------------------------------------------------------------


def _recovery(run: _Run) -> None:
    """Keep the load on while alerts resolve; end when the recovery checks are decided."""
    phase = _begin(run, "recovery", run.scenario.timeline.recovery)
    while (elapsed := phase.elapsed(run.now())) < phase.planned_s:
        _tick(run, "recovery")
        if _decided(run, "recovery", elapsed):
            run.console.event(f"recovery: every recovery check decided after {elapsed:.1f} s")
            break
        _status(run, "recovery", phase.planned_s - elapsed)
        run.clock.sleep(run.options.tick_s)
    _end(run, phase)


def _decided(run: _Run, phase: PhaseName, elapsed: float) -> bool:
    """Adaptive phases: whether every check is done with ``phase``, judged on the evidence
    captured so far (at most once every ``decide_every_s``)."""
    if not run.scenario.timeline.adaptive or elapsed < MIN_PHASE_S[phase]:
        return False
    if run.clock.monotonic() < run._next_decide:
        return False
    run._next_decide = run.clock.monotonic() + run.options.decide_every_s
    if phase == "fault" and any(fr.applied_at is None for fr in run.record.faults):
        return False
    snapshot = _snapshot(run)
    return all(decided_for(v, e, snapshot, phase) for v, e in run.checks)


# --- evidence -----------------------------------------------------------------------------------


def _snapshot(run: _Run) -> RunEvidence:
    """The evidence so far, for deciding whether a phase may end (not kept)."""
    now = run.now()
    return RunEvidence.model_construct(
        captured_at=now,
        scenario={},
        named_alerts=run.named,
        timeline=run.record.timeline(),
        alerts=run.source.alerts(now, final=False),
        notifications=run.source.notifications(run.record.started_at, final=False),
        load=run.record.load(),
        traces=TracesEvidence(),
        data=DataEvidence(),
        model=ModelEvidence(),
    )


def _capture(run: _Run) -> RunEvidence:
    """Everything the verdict uses, read once at the end of the run."""
    record, source, scenario = run.record, run.source, run.scenario
    now = run.now()
    timeline = record.timeline()
    reached = timeline.fault_start is not None
    chosen = wanted(record.requests, timeline, now)
    traces = source.traces(chosen) if reached else TracesEvidence()
    load = record.load(lambda r: keeps_trace_id(r, chosen))
    wants_data = any(f.injector.startswith("data.") for f in scenario.faults) or any(
        isinstance(e, DataQualityExpectation) for e in scenario.expect
    )
    data = source.data(bad_batches(timeline.faults)) if wants_data and reached else DataEvidence()
    return RunEvidence(
        gameday_version=_version(),
        captured_at=now,
        scenario=scenario_document(scenario),
        scenario_file=str(scenario.source) if scenario.source else None,
        environment=record.environment.redacted(),
        named_alerts=run.named,
        timeline=timeline,
        alerts=source.alerts(now, final=True),
        notifications=source.notifications(record.started_at, final=True),
        load=load,
        traces=traces,
        data=data,
        model=source.model(record.started_at, now),
        impact=source.impact(record.started_at, now),
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gameday-ml")
    except PackageNotFoundError:
        return "unknown"
