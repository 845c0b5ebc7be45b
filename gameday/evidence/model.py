"""The evidence of one run, as the run bundle stores it and verifiers read it.

Everything a verdict uses is here, captured once while the run went on (by
:mod:`gameday.evidence.collect`) and never read from a live system again: the timeline and
its faults, Prometheus's ``ALERTS`` and rule health, Alertmanager's notifications, every
request of the load, the traces root cause analysed, the data and model books, and the
environment's impact measures (:mod:`gameday.evidence.impact`). Verifiers are pure
functions of an expectation and a :class:`RunEvidence`; ``gameday verify`` and ``gameday
report`` rebuild them from a bundle with no network.

Times are Unix seconds. The models are frozen pydantic models: the bundle format is their
JSON (``docs/reference/bundle.md``), versioned by :data:`FORMAT_VERSION`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gameday.evidence.impact import ImpactEvidence

FORMAT = "gameday-bundle"
FORMAT_VERSION = 1

Json = JsonValue
"""Any JSON value: what the bundle keeps of free-form evidence (injector answers, params)."""
JsonMap = dict[str, JsonValue]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the timeline -------------------------------------------------------------------------------


class PhaseEvidence(_Model):
    """One phase of the timeline (``baseline``, ``fault``, ``recovery``) as it ran."""

    name: str
    start: float
    end: float | None = None
    planned_s: float = 0.0


class Effect(_Model):
    """Whether a fault took effect where it was applied, with what showed it.

    ``took_effect`` is ``None`` when the injector cannot tell (a target without counters):
    such a fault never makes a run inconclusive. ``False`` does: the monitoring cannot be
    judged on a fault that changed nothing.
    """

    took_effect: bool | None
    detail: str
    evidence: JsonMap = Field(default_factory=dict)


class FaultEvidence(_Model):
    """One fault of the scenario: what, where, when it was applied and reverted, its effect."""

    index: int
    fault_id: str
    injector: str
    target: str
    target_kind: str = ""
    params: JsonMap = Field(default_factory=dict)
    start_s: float = 0.0
    duration_s: float | None = None
    apply_started_at: float | None = None  # when apply() was called: the fault may act from here
    applied_at: float | None = None  # when apply() returned: the fault is certainly in force
    reverted_at: float | None = None
    applied: JsonMap = Field(default_factory=dict)
    reverted: JsonMap = Field(default_factory=dict)
    error: str | None = None
    effect: Effect | None = None

    @property
    def title(self) -> str:
        return f"{self.injector}@{self.target}"


class PlannedTimeline(_Model):
    """The scenario's timeline as configured (seconds)."""

    baseline: float
    fault: float
    recovery: float
    silent_window: float | None = None
    adaptive: bool = True


class TimelineEvidence(_Model):
    """Phases and faults of the run, and how it ended."""

    started_at: float
    finished_at: float | None = None
    planned: PlannedTimeline
    phases: dict[str, PhaseEvidence] = Field(default_factory=dict)
    faults: tuple[FaultEvidence, ...] = ()
    baselines: int = 0
    aborted: str | None = None

    @property
    def steady_since(self) -> float:
        """The start of the (last) baseline: alerts are judged from here."""
        baseline = self.phases.get("baseline")
        return baseline.start if baseline else self.started_at

    @property
    def fault_start(self) -> float | None:
        """When the first fault began to be applied (what ``fires_within`` is measured from,
        and what "before the fault" means: a kill can act before its API call returns); for a
        scenario without faults (a control run), when its fault phase began."""
        times = [
            f.apply_started_at if f.apply_started_at is not None else f.applied_at
            for f in self.faults
            if f.applied_at is not None
        ]
        if times:
            return min(times)
        phase = self.phases.get("fault")
        return phase.start if phase and not self.faults else None

    @property
    def fault_end(self) -> float | None:
        """When the last fault was reverted; for a control run, when its fault phase ended;
        ``None`` while a fault is still applied."""
        if any(f.applied_at is not None and f.reverted_at is None for f in self.faults):
            return None
        times = [f.reverted_at for f in self.faults if f.reverted_at is not None]
        if times:
            return max(times)
        phase = self.phases.get("fault")
        return phase.end if phase and not self.faults else None

    def window(self, name: str, now: float | None = None) -> tuple[float, float] | None:
        """``(start, end)`` of a phase (``run``: the whole run); an open end is ``now``."""
        end_now = now if now is not None else (self.finished_at or self.started_at)
        if name == "run":
            return self.started_at, self.finished_at or end_now
        phase = self.phases.get(name)
        if phase is None:
            return None
        return phase.start, phase.end if phase.end is not None else end_now

    @property
    def observed_until(self) -> float:
        """The end of the last phase that ran: until when the runner watched (polled rule
        health, the load, the alerts). The capture comes a little later."""
        ends = [p.end for p in self.phases.values() if p.end is not None]
        return max(ends) if ends else (self.finished_at or self.started_at)

    @property
    def silent_window_s(self) -> float:
        """How long silent alerts are watched under the fault before it may end early."""
        planned = self.planned
        return min(planned.silent_window or planned.fault, planned.fault)


# --- alerts -------------------------------------------------------------------------------------

AlertState = Literal["pending", "firing"]


class AlertSeries(_Model):
    """One alert instance's ``ALERTS`` samples: ``(time, state)`` at each evaluation step where
    it was active. ``labels`` include ``alertname``, not ``alertstate``."""

    labels: dict[str, str]
    points: tuple[tuple[float, AlertState], ...]

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


class ActiveSince(_Model):
    """``ALERTS_FOR_STATE`` of one instance: Prometheus's exact ActiveAt, as sampled."""

    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]  # (sample time, ActiveAt)


class RuleEvidence(_Model):
    """An alerting rule as Prometheus loaded it."""

    name: str
    group: str = ""
    file: str = ""
    expr: str
    for_s: float = 0.0
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    group_interval_s: float | None = None


class RuleHealth(_Model):
    """What ``/api/v1/rules`` said of one rule at ``t``."""

    t: float
    health: str
    last_error: str = ""
    last_evaluation: float | None = None


class InputSeries(_Model):
    """One vector selector a rule reads, and how many series matched it at each step."""

    selector: str
    points: tuple[tuple[float, float], ...] = ()  # (time, number of series); absent = none
    error: str | None = None


class AlertsEvidence(_Model):
    """Prometheus's side: ``ALERTS`` over the run window at the evaluation interval, the rules
    (metadata and health through the run) and the input series of the rules the scenario named.
    ``errors`` says what could not be read; a verifier never passes on missing evidence."""

    scrape_interval_s: float
    evaluation_interval_s: float
    start: float = 0.0
    end: float = 0.0
    step: float = 1.0
    series: tuple[AlertSeries, ...] = ()
    active_since: tuple[ActiveSince, ...] = ()
    rules: dict[str, RuleEvidence] = Field(default_factory=dict)
    health: dict[str, tuple[RuleHealth, ...]] = Field(default_factory=dict)
    inputs: dict[str, tuple[InputSeries, ...]] = Field(default_factory=dict)
    health_poll_s: float = 2.0
    errors: tuple[str, ...] = ()

    def of(self, alert: str) -> list[AlertSeries]:
        """Every series of ``alert``."""
        return [s for s in self.series if s.alertname == alert]

    def names(self) -> list[str]:
        """Every alert name active at some point of the window, sorted."""
        return sorted({s.alertname for s in self.series} - {""})


# --- notifications ------------------------------------------------------------------------------


class NotifiedAlertEvidence(_Model):
    """One alert inside a notification."""

    status: str
    labels: dict[str, str]
    starts_at: float | None = None
    ends_at: float | None = None
    fingerprint: str = ""

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


class WebhookEvidence(_Model):
    """One webhook delivery Alertmanager made to gameday's sink."""

    received_at: float
    receiver: str
    status: str
    group_key: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict)
    alerts: tuple[NotifiedAlertEvidence, ...] = ()


class SightingEvidence(_Model):
    """One alert instance as Alertmanager's API first showed it active during the run."""

    labels: dict[str, str]
    receivers: tuple[str, ...]
    starts_at: float | None = None
    first_seen: float
    fingerprint: str = ""

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


class AlertStatusEvidence(_Model):
    """One alert instance in one status, as Alertmanager's API showed it while the run went on.

    ``state`` is Alertmanager's ``status.state`` (``active``, ``suppressed``, ``unprocessed``);
    ``inhibited_by`` holds the fingerprints of the alerts inhibiting it (``status.inhibitedBy``)
    and ``inhibited_by_names`` their ``alertname``, resolved from the same poll (an inhibiting
    alert is itself in Alertmanager's list); ``silenced_by`` holds silence ids. The instance is
    keyed by fingerprint, ``startsAt`` and status: a change of status is a new record, each
    with the first and last poll that showed it.
    """

    labels: dict[str, str]
    fingerprint: str = ""
    starts_at: float | None = None
    state: str
    inhibited_by: tuple[str, ...] = ()
    inhibited_by_names: tuple[str, ...] = ()
    silenced_by: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()
    first_seen: float
    last_seen: float

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


class NotificationsEvidence(_Model):
    """Alertmanager's side: webhook deliveries, sightings in its API, every alert's status in
    its API (active, inhibited, silenced) and the least ``group_wait`` of the routes that lead
    to each receiver (from its configuration).

    ``sink_read`` says the webhook sink was read (so no webhook means none was delivered);
    ``api_polls`` counts the successful polls of Alertmanager's API (0: none, so ``statuses``
    says nothing). Both default to "not read", which is what bundles written before they
    existed mean.
    """

    webhooks: tuple[WebhookEvidence, ...] = ()
    sightings: tuple[SightingEvidence, ...] = ()
    statuses: tuple[AlertStatusEvidence, ...] = ()
    sink_read: bool = False
    api_polls: int = 0
    group_wait_s: dict[str, float] = Field(default_factory=dict)
    errors: tuple[str, ...] = ()

    @property
    def has_webhooks(self) -> bool:
        """Whether the webhook deliveries are known (the sink was read, or some were kept)."""
        return self.sink_read or bool(self.webhooks)

    @property
    def statuses_polled(self) -> bool:
        """Whether the alerts' status (inhibited, silenced) was polled: bundles written before
        gameday kept it polled only active alerts, so their silence on inhibition means
        nothing."""
        return self.api_polls > 0 or bool(self.statuses)

    @property
    def has_api(self) -> bool:
        """Whether Alertmanager's API was polled during the run."""
        return self.api_polls > 0 or bool(self.sightings) or bool(self.statuses)


# --- load ---------------------------------------------------------------------------------------


class RequestColumns(_Model):
    """Every request the load made, one column per field (compact in the bundle)."""

    t: tuple[float, ...] = ()
    ms: tuple[float, ...] = ()
    ok: tuple[bool, ...] = ()
    status: tuple[int, ...] = ()
    name: tuple[int, ...] = ()  # index into ``names``
    names: tuple[str, ...] = ()
    trace_id: tuple[str | None, ...] = ()

    def __len__(self) -> int:
        return len(self.t)


class LoadTick(_Model):
    """The load generator's health as the runner saw it on one tick."""

    t: float
    alive: bool
    users: int | None = None
    state: str = ""
    recent: int = 0  # requests completed in the last LOAD_WINDOW_S


class LoadEvidence(_Model):
    """The load: planned users, every request, and the generator's health through the run."""

    users: int = 0
    requests: RequestColumns = RequestColumns()
    ticks: tuple[LoadTick, ...] = ()
    stopped: str | None = None  # why the runner judged the load broken, if it did


# --- traces, data, model ------------------------------------------------------------------------


class SpanEvidence(_Model):
    """One span as the trace backend returned it."""

    span_id: str
    parent_id: str | None = None
    name: str
    service: str
    start_ns: int
    end_ns: int
    kind: int = 1
    error: bool = False
    status_message: str = ""
    attributes: JsonMap = Field(default_factory=dict)


class TracesEvidence(_Model):
    """The traces fetched for analysis: the fault window's slow or failed requests
    (``fault_ids``, out of ``candidates``) and the baseline's (``baseline_ids``), each trace id
    mapped to its spans, or ``None`` where the backend did not have it. ``fetched`` is False
    when there was no backend to ask."""

    fetched: bool = False
    fault_ids: tuple[str, ...] = ()
    baseline_ids: tuple[str, ...] = ()
    candidates: int = 0
    baseline_p95_ms: float | None = None
    traces: dict[str, tuple[SpanEvidence, ...] | None] = Field(default_factory=dict)
    error: str | None = None


class BatchBook(_Model):
    """What the feature store recorded of one batch: rows ever written from it, and rows
    currently holding its values."""

    written: int = 0
    current: int = 0


class DataEvidence(_Model):
    """The pipeline's books for the batches the data faults changed: rows the feature store
    stored from each, and quarantine reasons. ``collected`` is False where the environment
    offers no such books."""

    collected: bool = False
    stored: dict[str, BatchBook] = Field(default_factory=dict)
    quarantined: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    error: str | None = None


class VersionSeen(_Model):
    """One served model version and when it was first and last seen."""

    version: str
    first_seen: float
    last_seen: float


class ModelEvidence(_Model):
    """The serving model's version over the run (``model_info`` series)."""

    collected: bool = False
    versions: tuple[VersionSeen, ...] = ()
    samples: int = 0
    error: str | None = None


# --- the whole run ------------------------------------------------------------------------------


class RunEvidence(_Model):
    """Everything one run's verdict is computed from (the run bundle's ``evidence.json``)."""

    format: Literal["gameday-bundle"] = "gameday-bundle"
    version: int = FORMAT_VERSION
    gameday_version: str = ""
    captured_at: float
    scenario: JsonMap
    scenario_file: str | None = None
    environment: JsonMap = Field(default_factory=dict)
    named_alerts: tuple[str, ...] = ()
    timeline: TimelineEvidence
    alerts: AlertsEvidence | None = None
    notifications: NotificationsEvidence = NotificationsEvidence()
    load: LoadEvidence = LoadEvidence()
    traces: TracesEvidence = TracesEvidence()
    data: DataEvidence = DataEvidence()
    model: ModelEvidence = ModelEvidence()
    impact: ImpactEvidence = ImpactEvidence()

    @property
    def scenario_name(self) -> str:
        return str(self.scenario.get("name", ""))


def bundle_schema() -> dict[str, object]:
    """The JSON Schema (draft 2020-12) of a bundle's ``evidence.json.gz`` (``gameday schema
    bundle``)."""
    schema = RunEvidence.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"gameday run bundle evidence, format version {FORMAT_VERSION}"
    return schema


def labels_match(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether ``labels`` carry every ``wanted`` label with its value."""
    return all(labels.get(k) == v for k, v in wanted.items())
