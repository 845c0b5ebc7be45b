"""What a scenario expects the observability stack to notice: one frozen model per kind.

Every kind has a ``kind`` class attribute (the key that introduces it in an ``expect`` item)
and a human ``title`` used by ``gameday list``, reports and drills. Third-party verifiers
bring their own kinds by subclassing :class:`Expectation` and naming it as their ``spec``.

An ``expect`` item is a mapping in which exactly one key is a known kind. If that key's value
is a mapping, the value is the spec (``- slo: {phase: fault, ...}``, no sibling keys);
otherwise the whole item is the spec (the flat form: ``- alert: X`` then ``fires_within``
beside it), which only works for kinds that have a field named like the kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from gameday.scenario.durations import PositiveDuration, human_duration
from gameday.scenario.yamlsafe import Document, FileModel, KeyPath, did_you_mean

AlertName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_:][A-Za-z0-9_:]*$")]
"""A Prometheus alert rule name (``ModelLatencyHigh``)."""

Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Fraction = Annotated[float, Field(gt=0, le=1, strict=True)]
Count = Annotated[StrictInt, Field(ge=0)]


def _label_text(value: Any) -> Any:
    # Label values are strings in Prometheus; `code: 500` in YAML is an int, and obviously meant.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


LabelValue = Annotated[
    str, BeforeValidator(_label_text), WithJsonSchema({"type": ["string", "number"]})
]


def one_of_keys(*keys: str) -> dict[str, Any]:
    """JSON Schema for "exactly one of these keys", mirroring a model validator."""
    return {"oneOf": [{"required": [key]} for key in keys]}


def _any_of(*keys: str) -> dict[str, Any]:
    """JSON Schema for "at least one of these keys", mirroring a model validator."""
    return {"anyOf": [{"required": [key]} for key in keys]}


class Expectation(FileModel):
    """Base of every expectation kind; subclasses set ``kind`` and override ``title``."""

    kind: ClassVar[str] = ""

    @property
    def title(self) -> str:
        """One human line saying what is expected."""
        return self.kind


class AlertExpectation(Expectation):
    """An alert fires within a bound after the fault starts, or never fires (``silent``)."""

    kind: ClassVar[str] = "alert"
    model_config = ConfigDict(json_schema_extra=one_of_keys("fires_within", "silent"))
    alert: AlertName
    fires_within: PositiveDuration | None = None
    silent: Annotated[StrictBool, WithJsonSchema({"const": True})] | None = None
    labels: Mapping[str, LabelValue] = Field(default_factory=dict)
    receiver: Text | None = None

    @model_validator(mode="after")
    def _one_of_fires_or_silent(self) -> AlertExpectation:
        if (self.fires_within is None) == (self.silent is None):
            raise ValueError("an alert item takes exactly one of fires_within (e.g. 45s) or silent")
        if self.silent is False:
            raise ValueError("silent must be true; to expect the alert to fire use fires_within")
        if self.silent and self.receiver is not None:
            raise ValueError("receiver goes with fires_within: a silent alert notifies nobody")
        return self

    @property
    def title(self) -> str:
        labels = ", ".join(f'{k}="{v}"' for k, v in self.labels.items())
        name = f"{self.alert}{{{labels}}}" if labels else self.alert
        if self.silent:
            return f"{name} stays silent"
        assert self.fires_within is not None  # the validator guarantees one of the two
        notified = f", notifying {self.receiver}" if self.receiver else ""
        return f"{name} fires within {human_duration(self.fires_within)}{notified}"


class RootCauseExpectation(Expectation):
    """Traces of slow or failed requests in the fault window blame ``service`` (and ``span``)."""

    kind: ClassVar[str] = "root_cause"
    service: Text
    span: Text | None = None
    min_share: Fraction = 0.8
    min_traces: Annotated[StrictInt, Field(ge=1, le=300)] = Field(
        default=20,
        description="fewest analysed traces for a verdict (fewer: undecided); at most 300",
    )
    per_entry: StrictBool = Field(
        default=False,
        description=(
            "also hold min_share within the traces of each entry service (each model of a"
            " platform) with at least 5 analysed traces"
        ),
    )

    @property
    def title(self) -> str:
        culprit = f"{self.service} ({self.span})" if self.span else self.service
        each = " of every entry service" if self.per_entry else ""
        return f"traces blame {culprit} in >= {self.min_share * 100:g}% of slow traces{each}"


class RecoveredExpectation(Expectation):
    """Every fault-related alert resolves within ``within`` of the revert.

    ``within`` defaults to the whole recovery phase (the loader fills it in).
    """

    kind: ClassVar[str] = "recovered"
    within: PositiveDuration | None = None

    @property
    def title(self) -> str:
        if self.within is None:
            return "fault alerts resolve during recovery"
        return f"fault alerts resolve within {human_duration(self.within)} of revert"


class SloExpectation(Expectation):
    """Load in one ``phase`` (or the whole ``run``) stays under an error rate and/or a p95."""

    kind: ClassVar[str] = "slo"
    model_config = ConfigDict(json_schema_extra=_any_of("error_rate_below", "p95_below_ms"))
    phase: Literal["baseline", "fault", "recovery", "run"] = "run"
    error_rate_below: Annotated[float, Field(ge=0, le=1, strict=True)] | None = None
    p95_below_ms: Annotated[float, Field(gt=0, strict=True)] | None = None

    @model_validator(mode="after")
    def _at_least_one_bound(self) -> SloExpectation:
        if self.error_rate_below is None and self.p95_below_ms is None:
            raise ValueError("an slo item needs error_rate_below and/or p95_below_ms")
        return self

    @property
    def title(self) -> str:
        bounds = []
        if self.error_rate_below is not None:
            bounds.append(f"error rate < {self.error_rate_below * 100:g}%")
        if self.p95_below_ms is not None:
            bounds.append(f"p95 < {self.p95_below_ms:g} ms")
        return f"SLO in {self.phase}: {', '.join(bounds)}"


class DataQualityExpectation(Expectation):
    """Injected bad batches never reach the feature store and sit in quarantine."""

    kind: ClassVar[str] = "data_quality"
    model_config = ConfigDict(
        json_schema_extra=_any_of("corrupt_rows_stored", "bad_batches_quarantined")
    )
    corrupt_rows_stored: Count | None = None
    bad_batches_quarantined: Literal["all"] | Count | None = None

    @model_validator(mode="after")
    def _at_least_one_check(self) -> DataQualityExpectation:
        if self.corrupt_rows_stored is None and self.bad_batches_quarantined is None:
            raise ValueError(
                "a data_quality item needs corrupt_rows_stored and/or bad_batches_quarantined"
            )
        return self

    @property
    def title(self) -> str:
        parts = []
        if self.corrupt_rows_stored is not None:
            parts.append(f"{self.corrupt_rows_stored} corrupt rows stored")
        if self.bad_batches_quarantined is not None:
            parts.append(f"{self.bad_batches_quarantined} bad batches quarantined")
        return f"data quality: {', '.join(parts)}"


class ModelExpectation(Expectation):
    """The serving model version changed during the run (a promotion) or did not."""

    kind: ClassVar[str] = "model"
    version_changed: StrictBool

    @property
    def title(self) -> str:
        return (
            "model version changes (promotion)"
            if self.version_changed
            else ("model version unchanged")
        )


class PagesExpectation(Expectation):
    """How many notification groups (pages) one receiver got during the fault and recovery:
    exactly one of ``at_most``, ``at_least``, ``exactly``."""

    kind: ClassVar[str] = "pages"
    model_config = ConfigDict(json_schema_extra=one_of_keys("at_most", "at_least", "exactly"))
    receiver: Text
    at_most: Count | None = None
    at_least: Count | None = None
    exactly: Count | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> PagesExpectation:
        given = [b for b in ("at_most", "at_least", "exactly") if getattr(self, b) is not None]
        if len(given) != 1:
            raise ValueError(
                "a pages item takes exactly one of at_most, at_least, exactly"
                + (f"; this one has {', '.join(given)}" if given else "")
            )
        return self

    @property
    def bound(self) -> tuple[Literal["at_most", "at_least", "exactly"], int]:
        """The one bound given, as ``(name, value)``."""
        if self.at_most is not None:
            return "at_most", self.at_most
        if self.at_least is not None:
            return "at_least", self.at_least
        assert self.exactly is not None  # the validator guarantees one of the three
        return "exactly", self.exactly

    def allows(self, pages: int) -> bool:
        """Whether ``pages`` notification groups meet the bound."""
        name, value = self.bound
        if name == "at_most":
            return pages <= value
        if name == "at_least":
            return pages >= value
        return pages == value

    @property
    def title(self) -> str:
        name, value = self.bound
        words = {"at_most": "at most", "at_least": "at least", "exactly": "exactly"}[name]
        return f"{self.receiver} gets {words} {value} page{'s' if value != 1 else ''}"


class InhibitedExpectation(Expectation):
    """The alert was active in Prometheus during the fault, Alertmanager inhibited it because
    of the alert ``by``, and nobody was notified of it."""

    kind: ClassVar[str] = "inhibited"
    alert: AlertName
    by: AlertName
    labels: Mapping[str, LabelValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _not_by_itself(self) -> InhibitedExpectation:
        if self.alert == self.by:
            raise ValueError("an alert is not inhibited by itself: by names another alert")
        return self

    @property
    def title(self) -> str:
        labels = ", ".join(f'{k}="{v}"' for k, v in self.labels.items())
        name = f"{self.alert}{{{labels}}}" if labels else self.alert
        return f"{name} inhibited by {self.by}"


class GroupedExpectation(Expectation):
    """The firing notifications ``receiver`` got for ``alerts`` span at most ``max_groups``
    notification groups, and each alert reached it."""

    kind: ClassVar[str] = "grouped"
    alerts: Annotated[tuple[AlertName, ...], Field(min_length=1)]
    receiver: Text
    max_groups: Annotated[StrictInt, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _distinct_alerts(self) -> GroupedExpectation:
        repeated = sorted({a for a in self.alerts if self.alerts.count(a) > 1})
        if repeated:
            raise ValueError(f"alerts are named once each; repeated: {', '.join(repeated)}")
        return self

    @property
    def title(self) -> str:
        groups = "one group" if self.max_groups == 1 else f"at most {self.max_groups} groups"
        return f"{', '.join(self.alerts)} reach {self.receiver} in {groups}"


BUILTIN_EXPECTATIONS: Mapping[str, type[Expectation]] = {
    cls.kind: cls
    for cls in (
        AlertExpectation,
        RootCauseExpectation,
        RecoveredExpectation,
        SloExpectation,
        DataQualityExpectation,
        ModelExpectation,
        PagesExpectation,
        InhibitedExpectation,
        GroupedExpectation,
    )
}
"""Every installation's expectation kinds, by ``kind``."""


def expectation_from_item(
    doc: Document, at: KeyPath, kinds: Mapping[str, type[Expectation]]
) -> Expectation:
    """The expectation written as the ``expect`` item at ``at`` (the rule in the module doc).

    ``kinds`` maps every known kind to its model. Raises a located ScenarioError for an item
    that is not a mapping, has no known kind or several, or mixes the two forms.
    """
    item = doc.get(at)
    known = ", ".join(sorted(kinds))
    if not isinstance(item, dict) or not item:
        raise doc.error(f"an expect item is a mapping with one of: {known}", at)
    found = [key for key in item if key in kinds]
    if not found:
        key = next(iter(item))
        hint = did_you_mean(key, list(kinds))
        raise doc.error(f"unknown expectation {key!r}; known kinds: {known}{hint}", at)
    if len(found) > 1:
        raise doc.error(f"one expect item per kind; this one has {', '.join(found)}", at)
    return _spec_at(doc, at, found[0], kinds[found[0]])


def _spec_at(doc: Document, at: KeyPath, kind: str, model: type[Expectation]) -> Expectation:
    item = doc.get(at)
    if isinstance(item[kind], dict):
        siblings = [key for key in item if key != kind]
        if siblings:
            message = f"{kind} is given as a mapping, so {siblings[0]!r} belongs inside it"
            raise doc.error(message, (*at, siblings[0]))
        return doc.validate(model, (*at, kind))
    if kind not in model.model_fields:
        fields = ", ".join(model.model_fields)
        raise doc.error(f"{kind} takes a mapping, e.g. {kind}: {{{fields}}}", (*at, kind))
    return doc.validate(model, at)
