"""Build run evidence by hand, for tests of verifiers, reports and plug-ins (no stack needed).

OpenTelemetry ships ``InMemorySpanExporter`` for the same reason: a verifier is a pure
function of an expectation and a :class:`~gameday.evidence.model.RunEvidence`, so its tests
can state exactly what Prometheus, Alertmanager and the load showed, and check the verdict::

    ev = (
        EvidenceBuilder(SCENARIO_YAML)
        .rule("ModelLatencyHigh", "p95 > 0.5", for_s=3)
        .episode("ModelLatencyHigh", pending=23, firing=26, resolved=50)
        .healthy("ModelLatencyHigh")
        .build()
    )
    check = AlertVerifier().check(expectation, ev)

Times given to the builder are seconds since the run started (``t0``); the evidence holds
Unix seconds, as a real run's does. The default timeline is 20 s of baseline, 25 s of fault
(every fault applied 0.1 s into it) and 15 s of recovery, evaluated every second.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gameday.evidence.collect import CapturePlan
from gameday.evidence.impact import Harm, ImpactEvidence, MeasureEvidence, MeasureSeries
from gameday.evidence.model import (
    ActiveSince,
    AlertSeries,
    AlertsEvidence,
    AlertState,
    AlertStatusEvidence,
    BatchBook,
    DataEvidence,
    Effect,
    FaultEvidence,
    InputSeries,
    JsonMap,
    LoadEvidence,
    ModelEvidence,
    NotificationsEvidence,
    NotifiedAlertEvidence,
    PhaseEvidence,
    PlannedTimeline,
    RuleEvidence,
    RuleHealth,
    RunEvidence,
    SightingEvidence,
    SpanEvidence,
    TimelineEvidence,
    TracesEvidence,
    VersionSeen,
    WebhookEvidence,
)
from gameday.evidence.requests import Record, to_columns
from gameday.evidence.traces import Wanted
from gameday.scenario.expectations import AlertExpectation
from gameday.scenario.model import Scenario, parse_scenario, scenario_document
from gameday.telemetry.prometheus import PrometheusAlert

T0 = 1_790_000_000.0


@dataclass
class _Fault:
    index: int
    applied: float | None
    reverted: float | None
    reverted_evidence: JsonMap
    effect: Effect | None


class EvidenceBuilder:
    """A run's evidence, stated piece by piece (see the module docstring)."""

    def __init__(self, scenario: Scenario | str, t0: float = T0, eval_s: float = 1.0) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else parse_scenario(scenario)
        self.t0, self.eval_s, self.scrape_s = t0, eval_s, eval_s
        self.phases = {"baseline": (0.0, 20.0), "fault": (20.0, 45.0), "recovery": (45.0, 60.0)}
        self.aborted: str | None = None
        self._faults: dict[int, _Fault] = {}
        self._rules: dict[str, RuleEvidence] = {}
        self._series: dict[tuple[tuple[str, str], ...], list[tuple[float, AlertState]]] = {}
        self._active_since: list[ActiveSince] = []
        self._health: dict[str, list[RuleHealth]] = {}
        self._inputs: dict[str, list[InputSeries]] = {}
        self._records: list[Record] = []
        self._webhooks: list[WebhookEvidence] = []
        self._sightings: list[SightingEvidence] = []
        self._statuses: list[AlertStatusEvidence] = []
        self._sink_read, self._api_polls = False, 0
        self._group_wait: dict[str, float] = {}
        self._traces, self._data, self._model = TracesEvidence(), DataEvidence(), ModelEvidence()
        self._measures: dict[str, MeasureEvidence] = {}
        self._alerts_missing = False
        for i, _ in enumerate(self.scenario.faults):
            self.fault(i)

    # --- the timeline ---------------------------------------------------------------------------

    def timeline(
        self, baseline: float = 20.0, fault: float = 25.0, recovery: float = 15.0
    ) -> EvidenceBuilder:
        """Phase lengths; faults are applied 0.1 s into the fault phase and reverted at its end."""
        b, f = baseline, baseline + fault
        self.phases = {"baseline": (0.0, b), "fault": (b, f), "recovery": (f, f + recovery)}
        for i in self._faults:
            self.fault(i)
        return self

    def fault(
        self,
        index: int = 0,
        applied: float | None = None,
        reverted: float | None = None,
        reverted_evidence: JsonMap | None = None,
        effect: Effect | None = None,
    ) -> EvidenceBuilder:
        """When fault ``index`` was applied and reverted (default: the fault phase)."""
        start, end = self.phases["fault"]
        self._faults[index] = _Fault(
            index,
            start + 0.1 if applied is None else applied,
            end if reverted is None else reverted,
            reverted_evidence or {},
            effect,
        )
        return self

    def abort(self, reason: str) -> EvidenceBuilder:
        self.aborted = reason
        return self

    # --- Prometheus -----------------------------------------------------------------------------

    def rule(self, name: str, expr: str = "", for_s: float = 3.0) -> EvidenceBuilder:
        """An alerting rule as Prometheus loaded it."""
        self._rules[name] = RuleEvidence(
            name=name, expr=expr or f"{name.lower()}_signal > 1", for_s=for_s,
            group_interval_s=self.eval_s,
        )  # fmt: skip
        return self

    def episode(
        self,
        alert: str,
        *,
        pending: float | None = None,
        firing: float | None = None,
        resolved: float | None = None,
        labels: Mapping[str, str] | None = None,
        active_at: float | None = None,
    ) -> EvidenceBuilder:
        """``ALERTS`` samples of one episode, one per evaluation: pending from ``pending``,
        firing from ``firing``, until ``resolved`` (or the end of the run). ``active_at``
        adds Prometheus's exact ActiveAt (``ALERTS_FOR_STATE``)."""
        start = pending if pending is not None else firing
        assert start is not None, "an episode starts pending or firing"
        # still active: sampled up to the end of the capture window (one second after the run)
        end = resolved if resolved is not None else self.end + 1.0 + self.eval_s / 2
        key = tuple(sorted({"alertname": alert, **(labels or {})}.items()))
        points = self._series.setdefault(key, [])
        t = math.ceil(start / self.eval_s - 1e-9) * self.eval_s
        while t < end - 1e-9:
            state: AlertState = "firing" if firing is not None and t >= firing else "pending"
            points.append((self.t0 + t, state))
            t += self.eval_s
        if active_at is not None:
            held = tuple((at, self.t0 + active_at) for at, _ in points)
            self._active_since.append(ActiveSince(labels=dict(key), points=held))
        return self

    def healthy(
        self, alert: str, start: float = 0.0, end: float | None = None, every: float = 2.0,
        health: str = "ok", error: str = "",
    ) -> EvidenceBuilder:  # fmt: skip
        """The rule's health as polled every ``every`` seconds over ``[start, end]``, with its
        inputs present throughout (use :meth:`inputs` to say otherwise)."""
        end = self.end if end is None else end
        samples = self._health.setdefault(alert, [])
        t = start
        while t <= end + 1e-9:
            at = self.t0 + t
            samples.append(
                RuleHealth(t=at, health=health, last_error=error, last_evaluation=at - 0.1)
            )
            t += every
        rule = self._rules.get(alert)
        if alert not in self._inputs and rule is not None:
            self.inputs(alert, f"{alert.lower()}_signal", 0.0, self.end)
        return self

    def inputs(
        self, alert: str, selector: str, start: float = 0.0, end: float | None = None
    ) -> EvidenceBuilder:
        """One input series of ``alert``'s rule, present over ``[start, end]`` (and only then)."""
        end = self.end if end is None else end
        points = []
        t = 0.0
        while t <= self.end + 1e-9:
            points.append((self.t0 + t, 1.0 if start <= t <= end else 0.0))
            t += self.eval_s
        present = tuple(p for p in points if p[1] > 0)
        self._inputs.setdefault(alert, []).append(InputSeries(selector=selector, points=present))
        return self

    def no_prometheus(self) -> EvidenceBuilder:
        """The run captured nothing from Prometheus."""
        self._alerts_missing = True
        return self

    # --- Alertmanager ---------------------------------------------------------------------------

    def webhook(
        self, at: float, receiver: str, alert: str, *, fired_at: float | None = None,
        labels: Mapping[str, str] | None = None, status: str = "firing", group_key: str = "",
    ) -> EvidenceBuilder:  # fmt: skip
        """A notification Alertmanager delivered to gameday's sink at ``at``."""
        item = NotifiedAlertEvidence(
            status=status,
            labels={"alertname": alert, **(labels or {})},
            starts_at=None if fired_at is None else self.t0 + fired_at,
        )
        self._webhooks.append(
            WebhookEvidence(
                received_at=self.t0 + at, receiver=receiver, status=status,
                group_key=group_key or f"{{}}:{{alertname={alert!r}}}", alerts=(item,),
            )
        )  # fmt: skip
        return self

    def notification(
        self, at: float, receiver: str, group_key: str, alerts: Sequence[str], *,
        status: str = "firing", labels: Mapping[str, str] | None = None,
    ) -> EvidenceBuilder:  # fmt: skip
        """One delivery of the group ``group_key`` to ``receiver`` at ``at``, carrying
        ``alerts`` (each with ``labels``) in ``status``."""
        items = tuple(
            NotifiedAlertEvidence(status=status, labels={"alertname": a, **(labels or {})})
            for a in alerts
        )
        hook = WebhookEvidence(
            received_at=self.t0 + at, receiver=receiver, status=status, group_key=group_key,
            alerts=items,
        )  # fmt: skip
        self._webhooks.append(hook)
        return self

    def sink(self) -> EvidenceBuilder:
        """gameday's webhook sink was read (with no delivery, unless others say so)."""
        self._sink_read = True
        return self

    def polled(self, polls: int = 1) -> EvidenceBuilder:
        """Alertmanager's API was polled ``polls`` times (with nothing to show, unless
        :meth:`am_status` or :meth:`sighting` say so)."""
        self._api_polls = max(self._api_polls, polls)
        return self

    def am_status(
        self, alert: str, first: float, last: float, *, state: str = "suppressed",
        inhibited_by: Sequence[str] = (), labels: Mapping[str, str] | None = None,
        receivers: Sequence[str] = (),
    ) -> EvidenceBuilder:  # fmt: skip
        """Alertmanager's API showed ``alert`` in ``state`` from ``first`` to ``last``,
        inhibited by the alerts named ``inhibited_by``."""
        self._statuses.append(
            AlertStatusEvidence(
                labels={"alertname": alert, **(labels or {})}, fingerprint=f"fp-{alert}",
                state=state, inhibited_by=tuple(f"fp-{n}" for n in inhibited_by),
                inhibited_by_names=tuple(inhibited_by), receivers=tuple(receivers),
                first_seen=self.t0 + first, last_seen=self.t0 + last,
            )
        )  # fmt: skip
        return self.polled()

    def sighting(
        self, at: float, alert: str, receivers: Sequence[str],
        labels: Mapping[str, str] | None = None,
    ) -> EvidenceBuilder:  # fmt: skip
        """Alertmanager's API first showed ``alert`` active at ``at``, routed to ``receivers``."""
        full = {"alertname": alert, **(labels or {})}
        self._sightings.append(
            SightingEvidence(
                labels=full, receivers=tuple(receivers), first_seen=self.t0 + at,
                fingerprint="fp-" + ",".join(f"{k}={v}" for k, v in sorted(full.items())),
            )
        )  # fmt: skip
        return self.polled()

    def group_wait(self, receiver: str, seconds: float) -> EvidenceBuilder:
        self._group_wait[receiver] = seconds
        return self

    # --- load, traces, data, model --------------------------------------------------------------

    def requests(self, records: Sequence[Record]) -> EvidenceBuilder:
        """The load's requests (times as given: Unix seconds)."""
        self._records = list(records)
        return self

    def steady_load(
        self, rps: float = 10.0, ms: float = 20.0, fault_ms: float | None = None,
        fault_errors: float = 0.0, trace_prefix: str = "",
    ) -> EvidenceBuilder:  # fmt: skip
        """Requests at ``rps`` over the whole run, ``ms`` each (``fault_ms`` under the fault,
        with a ``fault_errors`` share failing), each with its own trace id."""
        fault = self.phases["fault"]
        out, n = [], int(self.end * rps)
        for i in range(n):
            t = i / rps
            inside = fault[0] <= t < fault[1]
            slow = fault_ms if inside and fault_ms is not None else ms
            ok = not (inside and fault_errors and (i % max(1, round(1 / fault_errors)) == 0))
            trace = f"{trace_prefix}{i:032x}"[-32:]
            out.append(
                Record(self.t0 + t, slow + (i % 7), ok, 200 if ok else 500, "/predict", trace)
            )
        self._records = out
        return self

    def traces(self, evidence: TracesEvidence) -> EvidenceBuilder:
        self._traces = evidence
        return self

    def trace(self, trace_id: str, spans: Sequence[SpanEvidence] | None) -> EvidenceBuilder:
        """One stored trace (``None``: the backend did not have it), wanted for the fault."""
        tr = self._traces
        self._traces = tr.model_copy(
            update={
                "fetched": True,
                "fault_ids": (*tr.fault_ids, trace_id),
                "candidates": tr.candidates + 1,
                "traces": {**tr.traces, trace_id: None if spans is None else tuple(spans)},
            }
        )
        return self

    def books(
        self, stored: Mapping[str, int], quarantined: Mapping[str, Sequence[str]]
    ) -> EvidenceBuilder:
        """The pipeline's books: rows written per batch, and quarantine reasons."""
        self._data = DataEvidence(
            collected=True,
            stored={b: BatchBook(written=n, current=n) for b, n in stored.items()},
            quarantined={b: tuple(r) for b, r in quarantined.items()},
        )
        return self

    def versions(self, *versions: tuple[str, float, float]) -> EvidenceBuilder:
        """Served model versions: ``(version, first seen, last seen)``."""
        seen = tuple(
            VersionSeen(version=v, first_seen=self.t0 + a, last_seen=self.t0 + b)
            for v, a, b in versions
        )
        self._model = ModelEvidence(collected=True, versions=seen, samples=len(seen) * 10)
        return self

    def measure(
        self, name: str, baseline: float, fault: float, harm: Harm = "change",
        labels: Mapping[str, str] | None = None, error: str | None = None,
    ) -> EvidenceBuilder:  # fmt: skip
        """An impact measure (the environment's ``impact:``) reading ``baseline`` outside the
        fault phase and ``fault`` inside it, a point per evaluation (another call with the
        same name adds a series)."""
        a, b = self.phases["fault"]
        points = tuple(
            (self.t0 + t, fault if a <= t < b else baseline)
            for t in (i * self.eval_s for i in range(int(self.end / self.eval_s)))
        )
        old = self._measures.get(name)
        new = MeasureSeries(labels=dict(labels or {}), points=points)
        series = (*(old.series if old else ()), new)
        self._measures[name] = MeasureEvidence(
            query=f"{name}_query", harm=harm, series=() if error else series, error=error
        )
        return self

    # --- the result -----------------------------------------------------------------------------

    @property
    def end(self) -> float:
        return max(end for _, end in self.phases.values())

    def build(self) -> RunEvidence:
        """The evidence as a bundle would hold it."""
        t0 = self.t0
        return RunEvidence(
            captured_at=t0 + self.end + 1.0,
            scenario=scenario_document(self.scenario),
            named_alerts=self._named(),
            timeline=self._timeline(),
            alerts=None if self._alerts_missing else self._alerts(),
            notifications=NotificationsEvidence(
                webhooks=tuple(self._webhooks),
                sightings=tuple(self._sightings),
                statuses=tuple(self._statuses),
                sink_read=self._sink_read,
                api_polls=self._api_polls,
                group_wait_s=dict(self._group_wait),
            ),
            load=LoadEvidence(
                users=self.scenario.load.users if self.scenario.load else 0,
                requests=to_columns(self._records),
            ),
            traces=self._traces,
            data=self._data,
            model=self._model,
            impact=ImpactEvidence(collected=bool(self._measures), measures=dict(self._measures)),
        )

    def _named(self) -> tuple[str, ...]:
        names = {e.alert for e in self.scenario.expect if isinstance(e, AlertExpectation)}
        names |= {g.alert for g in self.scenario.guards if g.alert}
        return tuple(sorted(names))

    def _timeline(self) -> TimelineEvidence:
        t = self.scenario.timeline
        faults = []
        for i, fault in enumerate(self.scenario.faults):
            f = self._faults[i]
            faults.append(
                FaultEvidence(
                    index=i, fault_id=f"{self.scenario.name}-{i}", injector=fault.injector,
                    target=fault.target, params=dict(fault.params), start_s=fault.start,
                    duration_s=fault.duration,
                    applied_at=None if f.applied is None else self.t0 + f.applied,
                    reverted_at=None if f.reverted is None else self.t0 + f.reverted,
                    reverted=f.reverted_evidence, effect=f.effect,
                )
            )  # fmt: skip
        return TimelineEvidence(
            started_at=self.t0,
            finished_at=self.t0 + self.end,
            planned=PlannedTimeline(
                baseline=t.baseline,
                fault=t.fault,
                recovery=t.recovery,
                silent_window=t.silent_window,
                adaptive=t.adaptive,
            ),
            phases={
                n: PhaseEvidence(name=n, start=self.t0 + a, end=self.t0 + b, planned_s=b - a)
                for n, (a, b) in self.phases.items()
            },
            faults=tuple(faults),
            baselines=1,
            aborted=self.aborted,
        )

    def _alerts(self) -> AlertsEvidence:
        start = self.t0 - 30.0
        end = self.t0 + self.end + 1.0
        return AlertsEvidence(
            scrape_interval_s=self.scrape_s,
            evaluation_interval_s=self.eval_s,
            start=start,
            end=end,
            step=self.eval_s,
            series=tuple(
                AlertSeries(labels=dict(k), points=tuple(sorted(v)))
                for k, v in self._series.items()
            ),
            active_since=tuple(self._active_since),
            rules=dict(self._rules),
            health={k: tuple(v) for k, v in self._health.items()},
            inputs={k: tuple(v) for k, v in self._inputs.items()},
        )


class ScriptedSource:
    """An evidence source with no network, for runner tests: Prometheus fires what
    ``firing(now)`` says (alert names, state firing), and every other part is empty.

    ``ticks`` counts the runner's loop turns; ``on_tick`` runs on each one (to provoke a
    failure at a chosen moment).
    """

    def __init__(
        self,
        firing: Callable[[float], Sequence[str]] | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.firing = firing or (lambda _now: ())
        self.on_tick = on_tick
        self.ticks = 0
        self.plan: CapturePlan | None = None

    def begin(self, plan: CapturePlan) -> None:
        self.plan = plan

    def active_alerts(self) -> list[PrometheusAlert]:
        now = time.time()
        return [
            PrometheusAlert(name, {"alertname": name}, {}, "firing", now, 1.0)
            for name in self.firing(now)
        ]

    def tick(self) -> None:
        self.ticks += 1
        if self.on_tick is not None:
            self.on_tick()

    def alerts(self, end: float, *, final: bool) -> AlertsEvidence | None:
        return None

    def notifications(self, since: float, *, final: bool) -> NotificationsEvidence:
        return NotificationsEvidence()

    def traces(self, wanted: Wanted) -> TracesEvidence:
        return TracesEvidence(error="scripted source: no traces")

    def data(self, bad_batches: Sequence[str]) -> DataEvidence:
        return DataEvidence(error="scripted source: no books")

    def model(self, start: float, end: float) -> ModelEvidence:
        return ModelEvidence(error="scripted source: no model series")

    def impact(self, start: float, end: float) -> ImpactEvidence:
        return ImpactEvidence(error="scripted source: no impact measures")
