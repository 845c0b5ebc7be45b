"""The game-day timeline of one scenario: settle → baseline → fault → revert → recovery → verify.

One function per phase. Faults are reverted on every way out (normal end, guard breach,
exception, Ctrl-C, SIGTERM), inside a shield that a second Ctrl-C cannot break. With
adaptive phases (the default) the fault and recovery phases end as soon as every check
that depends on them is decided, never later than configured.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gameday import registry
from gameday.errors import Aborted, InjectionError, ScenarioError, StackUnavailable
from gameday.evidence.observe import Observability
from gameday.injectors.base import FaultContext, Injector
from gameday.run import live
from gameday.run.console import Console
from gameday.run.guards import breach
from gameday.run.interrupts import interruptible, shielded
from gameday.run.load import Load, LoadStats, summarize
from gameday.run.record import FaultRecord, Phase, RunRecord
from gameday.run.results import ScenarioResult
from gameday.scenario.environment import Environment, host_of
from gameday.scenario.expectations import Expectation
from gameday.scenario.model import Scenario
from gameday.undo.journal import Journal
from gameday.undo.log import UndoLog
from gameday.verifiers.base import Check, Verifier, verify

TICK_S = 0.25
DECIDE_EVERY_S = 1.0
SETTLE_TIMEOUT_S = 60.0
STEADY_ERROR_RATE = 0.05
TTL_MARGIN_S = 30.0
MIN_PHASE_S = {"fault": 3.0, "recovery": 3.0}
LOAD_MARGIN_S = 120.0


@dataclass
class _Run:
    """The state one scenario's timeline works on."""

    record: RunRecord
    console: Console
    workdir: Path
    checks: list[tuple[Verifier, Expectation]]
    settle_s: float = SETTLE_TIMEOUT_S
    load: Load | None = None
    injectors: dict[int, Injector] = field(default_factory=dict)
    _last_decide: float = 0.0
    undo: UndoLog | None = None
    ttl_margin_s: float = TTL_MARGIN_S
    fault_until: Callable[[RunRecord], bool] | None = None

    @property
    def scenario(self) -> Scenario:
        return self.record.scenario


def run_scenario(
    scenario: Scenario,
    environment: Environment,
    console: Console,
    workdir: Path,
    *,
    settle_s: float = SETTLE_TIMEOUT_S,
    journal: Journal | None = None,
    ttl_margin_s: float = TTL_MARGIN_S,
    fault_until: Callable[[RunRecord], bool] | None = None,
) -> ScenarioResult:
    """Run one scenario against ``environment`` and return its verdict with the evidence.

    ``settle_s`` bounds the wait for a quiet stack (no alert firing) before the baseline.
    Every fault is written to the undo ``journal`` (default ``.gameday/journal``) before it
    is applied, and carries a TTL of its window plus ``ttl_margin_s``.
    ``fault_until`` (used by ``gameday drill``) replaces the adaptive end of the fault phase:
    called every tick with the live record, the phase ends once it returns true (never later
    than configured).
    """
    observe = Observability(environment)
    record = RunRecord(scenario, environment, observe)
    undo = UndoLog(journal or Journal(), environment, console.event)
    run = _Run(record, console, workdir, _verifiers(scenario), settle_s=settle_s, undo=undo,
               ttl_margin_s=ttl_margin_s)  # fmt: skip
    run.fault_until = fault_until
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
    record.finished_at = time.time()
    reached = "fault" in record.phases and not (record.aborted and record.fault_start is None)
    checks = _verify(run) if reached else []
    result = ScenarioResult(scenario, record, checks)
    live.finish(result)
    return result


def _verifiers(scenario: Scenario) -> list[tuple[Verifier, Expectation]]:
    known = registry.verifiers()
    return [(known.get(e.kind)(), e) for e in scenario.expect]


def _timeline(run: _Run) -> None:
    _prepare_faults(run)
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
    known = registry.injectors()
    for i, fault in enumerate(run.scenario.faults):
        injector = known.get(fault.injector)()
        target = env.resolve(fault.target, injector)
        _check_allowed(env, target.settings)
        run.injectors[i] = injector
        run.record.faults.append(FaultRecord(i, fault, f"{run.scenario.name}-{i}-{nonce}"))
    assert run.undo is not None
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
        run.scenario.timeline.total + LOAD_MARGIN_S,
        run.workdir / "load",
        locustfile=spec.locustfile,
        workers=workers or 0,
        master=spec.master or env.load.master,
    )
    run.load.start()
    run.record.requests = run.load.records
    cleanup.callback(run.load.stop)
    run.console.event(f"load: {spec.users} users against {host}")


def _steady_state(run: _Run) -> None:
    """Settle, then a whole baseline with no alert firing; or abort with nothing injected.

    An alert that fires during the baseline sends the run back to settling, within the same
    settle budget: a burn-rate alert can flap for a while after a previous scenario's outage
    (its short window still holds those errors), and a batch should wait that out, not fail.
    A stack that cannot hold a quiet baseline within the budget breaks the steady state.
    """
    deadline = time.monotonic() + run.settle_s
    while disturbed := _baseline(run, deadline):
        if time.monotonic() > deadline:
            raise Aborted(
                f"steady state broken in baseline: {', '.join(disturbed)} firing; "
                "nothing was injected"
            )
        run.console.event(f"baseline disturbed: {', '.join(disturbed)} fired; settling again")


def _settle(run: _Run, deadline: float) -> None:
    """Wait (bounded) until no alert fires, e.g. while a previous scenario's alerts resolve."""
    while firing := _firing(run):
        if time.monotonic() > deadline:
            raise Aborted(
                f"steady state not reached: still firing after {run.settle_s:g} s: "
                f"{', '.join(firing)}; nothing was injected"
            )
        run.console.status("settle", deadline - time.monotonic(), _recent(run), firing)
        time.sleep(1.0)


def _firing(run: _Run) -> list[str]:
    alerts = run.record.observe.prometheus.alerts()
    return sorted({a.name for a in alerts if a.state == "firing"})


def _recent(run: _Run, seconds: float = 5.0) -> LoadStats:
    if run.load:
        run.load.poll()
    return summarize(run.record.requests, time.time() - seconds)


def _baseline(run: _Run, deadline: float) -> list[str]:
    """One baseline after settling: the alerts that fired during it (empty: steady state held).

    Raises Aborted when the load fails: no request, or an error rate over the bound.
    """
    _settle(run, deadline)
    phase = _begin(run, "baseline", run.scenario.timeline.baseline)
    while (left := phase.planned_s - phase.elapsed()) > 0:
        if firing := _firing(run):
            _end(phase)
            return firing
        live.tick(run.record)
        run.console.status("baseline", left, _recent(run), firing)
        _watch_guards(run, "baseline")
        _sleep(min(1.0, left))
    _end(phase)
    stats = run.record.stats("baseline")
    if run.load and stats.requests == 0:
        raise Aborted("steady state broken in baseline: the load made no request")
    if stats.error_rate > STEADY_ERROR_RATE:
        raise Aborted(
            f"steady state broken in baseline: error rate {stats.error_rate:.1%} "
            f"over {STEADY_ERROR_RATE:.0%}; nothing was injected"
        )
    return []


def _begin(run: _Run, name: str, planned: float) -> Phase:
    phase = Phase(name, time.time(), planned_s=planned)
    run.record.phases[name] = phase
    run.console.event(f"{name}: up to {planned:g} s")
    return phase


def _end(phase: Phase) -> None:
    phase.end = time.time()


def _fault(run: _Run) -> None:
    """Apply each fault at its offset, revert each at its end, watch guards, end when decided."""
    phase = _begin(run, "fault", run.scenario.timeline.fault)
    while (elapsed := phase.elapsed()) < phase.planned_s:
        _apply_due(run, elapsed)
        _revert_due(run, elapsed)
        _watch_guards(run)
        if _fault_over(run, elapsed):
            break
        _status(run, "fault", phase.planned_s - elapsed)
        _sleep(TICK_S)
    _end(phase)


def _fault_over(run: _Run, elapsed: float) -> bool:
    """Whether the fault phase may end now: the caller's ``fault_until`` says so, or else
    (adaptive phases) every check is done with the fault."""
    if run.fault_until is not None:
        return run.fault_until(run.record)
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
        window + run.ttl_margin_s,
        run.scenario.fault_seed(fr.index),
    )
    assert run.undo is not None
    with shielded():  # a Ctrl-C mid-apply waits until the fault is on record, then reverts it
        run.undo.intend(injector, ctx)  # durable before anything is touched
        try:
            fr.applied = injector.apply(ctx)
        except Exception as exc:
            fr.error = f"apply failed: {exc}"
            run.undo.failed(injector, ctx)
            raise
        fr.applied_at = time.time()
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
    try:
        fr.revert_evidence = dict(run.injectors[fr.index].revert(fr.applied))
    except Exception as exc:  # noqa: BLE001 - every other fault must still be reverted
        fr.error = f"revert failed: {exc}"
        run.console.event(f"!! REVERT FAILED: {fr.fault.title}: {exc}")
        return False
    fr.reverted_at = time.time()
    if run.undo is not None:
        run.undo.reverted(fr.fault_id)
    run.console.event(f"fault reverted: {fr.fault.injector} on {fr.fault.target}")
    return True


def _watch_guards(run: _Run, phase: str = "fault") -> None:
    """Stop conditions, watched in every phase: a breach aborts (reverting every fault)."""
    reason = breach(run.scenario.guards, run.record, _firing)
    if reason:
        run.console.event(f"guard breached in {phase}: {reason}; reverting every fault")
        done = "nothing was injected" if phase == "baseline" else "every fault reverted"
        raise Aborted(f"guard breached in {phase}: {reason}; {done}")


def _recovery(run: _Run) -> None:
    """Keep the load on while alerts resolve; end when the recovery checks are decided."""
    phase = _begin(run, "recovery", run.scenario.timeline.recovery)
    while (elapsed := phase.elapsed()) < phase.planned_s:
        if _decided(run, "recovery", elapsed):
            run.console.event(f"recovery: every recovery check decided after {elapsed:.1f} s")
            break
        _watch_guards(run, "recovery")
        _status(run, "recovery", phase.planned_s - elapsed)
        _sleep(TICK_S)
    _end(phase)


def _decided(run: _Run, phase: str, elapsed: float) -> bool:
    """Adaptive phases: whether every check is done with ``phase`` (checked once a second)."""
    if not run.scenario.timeline.adaptive or elapsed < MIN_PHASE_S[phase]:
        return False
    if time.monotonic() - run._last_decide < DECIDE_EVERY_S:
        return False
    run._last_decide = time.monotonic()
    if run.load:
        run.load.poll()
    if phase == "fault" and any(fr.applied_at is None for fr in run.record.faults):
        return False
    return all(_done(v, e, run.record, phase) for v, e in run.checks)


def _done(verifier: Verifier, expectation: Expectation, record: RunRecord, phase: str) -> bool:
    try:
        return bool(verifier.done(expectation, record, phase))
    except Exception:  # noqa: BLE001 - a verifier that cannot tell keeps the phase running
        return False


def _status(run: _Run, phase: str, left: float) -> None:
    live.tick(run.record)  # every tick: Alertmanager's view (<= 1/s) and gameday's own metrics
    now = time.monotonic()
    if now - getattr(run, "_last_status", 0.0) < 1.0:
        return
    run._last_status = now  # type: ignore[attr-defined]
    run.console.status(phase, left, _recent(run), _firing(run))


def _sleep(seconds: float) -> None:
    # The timeline's clock: pacing between polls. Every wait above has its own deadline.
    time.sleep(max(0.0, seconds))


def _verify(run: _Run) -> list[Check]:
    if run.load:
        run.load.poll()
    return [verify(v, e, run.record) for v, e in run.checks]
