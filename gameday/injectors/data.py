"""Data faults: what reaches the pipeline turns bad, the way ML pipelines really fail.

Each injector acts on whichever kind of target the environment gives it
(:mod:`gameday.injectors._channels`):

- a **batch relay** (``targets: {upstream: {relay: NAME}}``): batches are transformed, held
  back or duplicated on their way from the upstream location to the landing one; the original
  bytes are never modified and are kept until the fault is reverted;
- a **proxied HTTP link** (``{proxy: NAME}``, gameday's toxiproxy-compatible server): the JSON
  ``field`` of responses (or requests) is nulled, scaled, offset, retyped or set;
- a **producer** (``{producer: URL}``) or a **service** with a control API (``{service: NAME}``):
  the fault is applied where the data is made, through its faults API.

Column names come from the data, never from a list: a relay checks them against the batches
it sees, and ``gameday validate --env`` against the last batch a running relay saw. Every
fault is seeded (``ctx.seed``), carries its TTL, and on revert returns exactly what it
changed: batch ids, rows, columns, labels; whether it took effect is judged from that.

- ``data.corrupt_batch``: ``mode`` garbage, out_of_range values, wrong_type text,
  swapped_columns, or the sentinel -1, in a ``fraction`` of rows.
- ``data.null_column``: a column (or JSON field) nulled in a ``fraction`` of rows.
- ``data.drift``: a column shifted by ``shift_sigma`` standard deviations and/or scaled.
- ``data.unit_change``: a column multiplied by ``factor``.
- ``data.type_change``: a numeric column arrives as text ("12 units").
- ``data.duplicate_batch`` / ``data.empty_batch`` / ``data.stale``: batches replayed, empty,
  or held back (stale: delivered in order once the fault is reverted).
- The learning loop's ``data.label_flip``, ``data.concept_drift``, ``data.label_delay``,
  ``data.corrupt_training_batch``: on a label service, or (flip and delay) on a relay of
  label batches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from gameday.errors import InjectionError
from gameday.evidence.model import Effect, JsonMap
from gameday.injectors import _relay as relay_api
from gameday.injectors._channels import CHANNELS, Request, channel_for
from gameday.injectors.base import Applied, FaultContext, Injector, Param, Target

_BATCHES = Param(
    "batches",
    int,
    0,
    minimum=0,
    maximum=100_000,
    doc="how many batches to affect (0: every batch while the fault lasts)",
)
_COLUMN = Param("column", str, "", doc="the column (batch targets)")
_FIELD = Param("field", str, "", doc="the JSON path, e.g. features.merchant_risk (HTTP targets)")
_FRACTION = Param("fraction", float, 1.0, minimum=0.0001, maximum=1.0, doc="share of rows")
_KINDS = ("relay", "proxy", "batch_source")


def _needs(params: Mapping[str, Any], key: str, where: str) -> str:
    value = str(params.get(key) or "")
    if not value:
        raise ValueError(f"{key} is required on {where} targets")
    return value


class _DataFault(Injector):
    """A data fault: how it reads on each channel, and how its effect is judged."""

    target_kinds: ClassVar[tuple[str, ...]] = _KINDS
    producer_kind: ClassVar[str] = ""
    counter: ClassVar[str] = "batches"
    changed: ClassVar[str] = "batch(es) changed"
    unchanged: ClassVar[str] = "no batch was emitted while the fault was on"
    also: ClassVar[tuple[str, ...]] = ("rows",)  # other counts worth showing with the counter

    # --- what the fault is on each channel (None: this fault cannot act there) --------------

    def relay(self, params: Mapping[str, Any]) -> Request | None:
        return None

    def proxy(self, params: Mapping[str, Any]) -> Request | None:
        return None

    def producer(self, params: Mapping[str, Any]) -> Request | None:
        return Request(self.producer_kind, dict(params)) if self.producer_kind else None

    def service(self, params: Mapping[str, Any]) -> Request | None:
        return None

    def request(self, channel: str, params: Mapping[str, Any]) -> Request:
        """The fault as ``channel`` takes it; ``ValueError`` saying why it cannot be."""
        found = getattr(self, channel)(params)
        if found is None:
            raise ValueError(f"{self.name} cannot act on a {channel} target")
        return found

    @classmethod
    def check_target(cls, params: Mapping[str, Any], target: Target) -> None:
        """Refuse, before anything runs, params that cannot act on ``target``'s kind: a
        missing or malformed JSON ``field`` on an HTTP link, a ``column`` the relay's last
        batch lacks (when a running relay has seen one)."""
        channel = channel_for(target)
        cls().request(channel, params)
        if channel == "proxy" and not valid_path(str(params.get("field") or "")):
            raise ValueError(f"field {params.get('field')!r} is not a JSON path like a.b[*].c")
        column = str(params.get("column") or params.get("feature") or "")
        if channel == "relay" and column:
            _check_column(target, column)

    # --- the injector seam -------------------------------------------------------------------

    def apply(self, ctx: FaultContext) -> Applied:
        channel = channel_for(ctx.target)
        try:
            request = self.request(channel, {**ctx.params, "seed": ctx.seed})
        except ValueError as exc:
            raise InjectionError(f"{self.name} on {ctx.target.name!r}: {exc}") from None
        undo, evidence = CHANNELS[channel].apply(ctx, request)
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, evidence)

    def undo_for(self, ctx: FaultContext) -> Applied:
        """Every channel keys the fault by its fault id: undoing needs nothing from apply."""
        undo = CHANNELS[channel_for(ctx.target)].undo(ctx)
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo)

    def enforces_ttl(self, target: Target) -> bool:
        return CHANNELS[channel_for(target)].enforces_ttl(target)

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        """Remove the fault; what it changed, or ``{"unknown": why}``."""
        return CHANNELS[str(applied.undo.get("via", "producer"))].revert(applied.undo)

    def effect(self, applied: Applied, reverted: Mapping[str, Any]) -> Effect | None:
        """Took effect iff what it counts (batches, held, changed messages, labels) is > 0."""
        if "unknown" in reverted:
            return Effect(took_effect=None, detail=str(reverted["unknown"]))
        via = str(applied.undo.get("via", "producer"))
        if via == "proxy":
            changed = "JSON message(s) changed"
            unchanged = "no JSON message crossed the link while the fault was on"
            return _counted("changed", changed, unchanged, ("messages", "passed"), reverted)
        if via == "relay":
            return _relayed(self.unchanged, reverted)
        return _counted(self.counter, self.changed, self.unchanged, self.also, reverted)


# The grammar of gameday's http_json toxic: keys separated by dots, each followed by any number
# of [*] (every element) or [N]; a path may start with an index when the document is an array.
_INDEX = r"\[(?:\*|\d+)\]"
_KEY = r"[^.\[\]]+"
_PATH = re.compile(rf"(?:{_KEY}|{_INDEX})(?:{_INDEX})*(?:\.{_KEY}(?:{_INDEX})*)*")


def valid_path(path: str) -> bool:
    """Whether ``path`` is a JSON path (``a.b``, ``items[*].score``, ``rows[0]``, ``[*].x``)."""
    return bool(_PATH.fullmatch(path))


def _check_column(target: Target, column: str) -> None:
    """``column`` must be in the last batch the target's relay saw, when it saw one."""
    try:
        url, relay = relay_api.locate(target)
        columns = relay_api.schema(url, relay)
    except InjectionError:
        return  # no relay server to ask yet (gameday run may start it): checked when applied
    if columns is not None and column not in columns:
        known = ", ".join(sorted(columns))
        raise ValueError(f"column {column!r} is not in the batches relay {relay!r} sees: {known}")


def _count(value: Any) -> int:
    """A count as the services report it: a number, or a list of ids."""
    if isinstance(value, list):
        return len(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _counted(
    counter: str,
    changed: str,
    unchanged: str,
    also: tuple[str, ...],
    reverted: Mapping[str, Any],
) -> Effect:
    """Took effect iff ``reverted[counter]`` > 0; the detail shows ``also`` beside it."""
    count = _count(reverted.get(counter))
    evidence: JsonMap = {counter: count}
    evidence |= {key: _count(reverted[key]) for key in also if key in reverted}
    if count <= 0:
        return Effect(took_effect=False, detail=unchanged, evidence=evidence)
    extra = ", ".join(f"{k}: {v}" for k, v in list(evidence.items())[1:])
    detail = f"{count} {changed}" + (f" ({extra})" if extra else "")
    return Effect(took_effect=True, detail=detail, evidence=evidence)


def _relayed(unchanged: str, reverted: Mapping[str, Any]) -> Effect:
    """A relay fault took effect iff it changed, held, released or dropped some batch."""
    keys = ("batches", "rows", "held", "released", "dropped")
    evidence: JsonMap = {k: _count(reverted[k]) for k in keys if k in reverted}
    moved = sum(_count(reverted.get(k)) for k in ("batches", "held", "released", "dropped"))
    if moved <= 0:
        return Effect(took_effect=False, detail=unchanged, evidence=evidence)
    shown = ", ".join(f"{k}: {v}" for k, v in evidence.items() if v)
    return Effect(
        took_effect=True, detail=f"the relay acted on batches ({shown})", evidence=evidence
    )


def _json(field: str, action: str, params: Mapping[str, Any], **value: int | float) -> Request:
    attributes = {"path": field, "action": action, "share": params.get("fraction", 1.0), **value}
    return Request("http_json", attributes)


def _relay_attrs(params: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {"seed": params.get("seed", 0), "batches": params.get("batches", 0), **extra}


class CorruptBatchInjector(_DataFault):
    """Corrupt a fraction of rows in each batch; validation must quarantine every one."""

    name = "data.corrupt_batch"
    summary = "corrupt rows in each batch (garbage, out of range, wrong type, swapped, sentinel)"
    producer_kind = "corrupt_batch"
    params = (
        Param("fraction", float, 0.2, minimum=0.0001, maximum=1.0, doc="share of rows corrupted"),
        Param(
            "mode",
            str,
            "garbage",
            choices=("garbage", "out_of_range", "wrong_type", "swapped_columns", "sentinel"),
            doc="how rows are corrupted",
        ),
        Param("column", str, "", doc="column corrupted (default: the first numeric column)"),
        _FIELD,
        _BATCHES,
    )
    _HTTP: ClassVar[dict[str, tuple[str, int | float | None]]] = {
        "sentinel": ("set", -1), "out_of_range": ("scale", 1e6), "wrong_type": ("type", None),
    }  # fmt: skip

    def relay(self, params: Mapping[str, Any]) -> Request:
        keys = ("mode", "fraction", "column")
        return Request("corrupt", _relay_attrs(params, **{k: params[k] for k in keys}))

    def proxy(self, params: Mapping[str, Any]) -> Request | None:
        field = _needs(params, "field", "HTTP")
        mode = str(params["mode"])
        if mode not in self._HTTP:
            raise ValueError(f"mode {mode} needs a batch target; on HTTP: {', '.join(self._HTTP)}")
        action, value = self._HTTP[mode]
        return _json(field, action, params, **({} if value is None else {"value": value}))


class NullColumnInjector(_DataFault):
    """Null a column in a fraction of rows: a schema change upstream (fraction 1.0)."""

    name = "data.null_column"
    summary = "a column arrives null (schema change upstream)"
    producer_kind = "null_column"
    params = (_COLUMN, _FIELD, _FRACTION, _BATCHES)

    def relay(self, params: Mapping[str, Any]) -> Request:
        column = _needs(params, "column", "batch")
        return Request(
            "null_column", _relay_attrs(params, column=column, fraction=params["fraction"])
        )

    def proxy(self, params: Mapping[str, Any]) -> Request:
        return _json(_needs(params, "field", "HTTP"), "null", params)

    def producer(self, params: Mapping[str, Any]) -> Request:
        _needs(params, "column", "batch")
        return Request(self.producer_kind, dict(params))


class DriftInjector(_DataFault):
    """Shift (in standard deviations) and/or scale a feature; values stay valid."""

    name = "data.drift"
    summary = "a feature's distribution moves (values stay within their valid range)"
    producer_kind = "drift"
    params = (
        Param("feature", str, "", doc="the column (batch targets)"),
        _FIELD,
        Param("shift_sigma", float, 0.0, minimum=-20, maximum=20, doc="shift, in std devs"),
        Param("scale", float, 1.0, minimum=0.01, maximum=100, doc="spread around the mean"),
        _BATCHES,
    )

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        if params["shift_sigma"] == 0 and params["scale"] == 1:
            raise ValueError("data.drift needs shift_sigma != 0 and/or scale != 1")

    def relay(self, params: Mapping[str, Any]) -> Request:
        column = _needs(params, "feature", "batch")
        moves = {"shift_sigma": params["shift_sigma"], "scale": params["scale"]}
        return Request("drift", _relay_attrs(params, column=column, **moves))

    def proxy(self, params: Mapping[str, Any]) -> Request:
        field = _needs(params, "field", "HTTP")
        if params["shift_sigma"]:
            raise ValueError("shift_sigma needs a batch target (the spread comes from the data)")
        return _json(field, "scale", {}, value=float(params["scale"]))

    def producer(self, params: Mapping[str, Any]) -> Request:
        return Request(self.producer_kind, {**params, "column": _needs(params, "feature", "batch")})


class UnitChangeInjector(_DataFault):
    """Multiply a column by ``factor``: units changed upstream (cents, metres, ...)."""

    name = "data.unit_change"
    summary = "a column's unit changes upstream (x10, x1000)"
    producer_kind = "unit_change"
    params = (
        _COLUMN,
        _FIELD,
        Param("factor", float, 1000.0, minimum=0.000001, maximum=1e9, doc="e.g. 100: cents"),
        _BATCHES,
    )

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        if params["factor"] == 1:
            raise ValueError("data.unit_change needs a factor other than 1")

    def relay(self, params: Mapping[str, Any]) -> Request:
        column = _needs(params, "column", "batch")
        return Request("unit_change", _relay_attrs(params, column=column, factor=params["factor"]))

    def proxy(self, params: Mapping[str, Any]) -> Request:
        return _json(_needs(params, "field", "HTTP"), "scale", {}, value=float(params["factor"]))

    def producer(self, params: Mapping[str, Any]) -> Request:
        _needs(params, "column", "batch")
        return Request(self.producer_kind, dict(params))


class TypeChangeInjector(_DataFault):
    """A numeric column arrives as text ("12 units")."""

    name = "data.type_change"
    summary = "a numeric column arrives as text"
    producer_kind = "type_change"
    params = (_COLUMN, _FIELD, _BATCHES)

    def relay(self, params: Mapping[str, Any]) -> Request:
        return Request(
            "type_change", _relay_attrs(params, column=_needs(params, "column", "batch"))
        )

    def proxy(self, params: Mapping[str, Any]) -> Request:
        return _json(_needs(params, "field", "HTTP"), "type", {})

    def producer(self, params: Mapping[str, Any]) -> Request:
        _needs(params, "column", "batch")
        return Request(self.producer_kind, dict(params))


class _WholeBatch(_DataFault):
    """A fault on whole batches: only batch targets."""

    target_kinds: ClassVar[tuple[str, ...]] = ("relay", "batch_source")
    relay_type: ClassVar[str]

    def relay(self, params: Mapping[str, Any]) -> Request:
        return Request(self.relay_type, _relay_attrs(params))


class DuplicateBatchInjector(_WholeBatch):
    """Each batch is followed by a byte-identical copy (a replay upstream)."""

    name = "data.duplicate_batch"
    summary = "batches are delivered twice (replayed upstream)"
    producer_kind = relay_type = "duplicate_batch"
    params = (_BATCHES,)

    def relay(self, params: Mapping[str, Any]) -> Request:
        return Request("duplicate", _relay_attrs(params))

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        """On a relay, the bad batches are the copies it delivered (``<id>-dup``, which a
        pipeline must quarantine), not the batches it copied (stored as they should be);
        the relay lists the latter, kept here as ``copied``."""
        reverted = dict(super().revert(applied))
        listed = reverted.get("batches")
        if applied.undo.get("via") == "relay" and isinstance(listed, list):
            copies = [b if str(b).endswith("-dup") else f"{b}-dup" for b in map(str, listed)]
            reverted |= {"copied": listed, "batches": copies}
        return reverted


class EmptyBatchInjector(_WholeBatch):
    """Batches arrive with a header and no rows."""

    name = "data.empty_batch"
    summary = "batches arrive empty"
    producer_kind = "empty_batch"
    relay_type = "empty"
    params = (_BATCHES,)


class StaleInjector(_WholeBatch):
    """The upstream stops delivering: no batch reaches the pipeline for the fault window (a
    relay holds them back and delivers them, in order, once the fault is reverted)."""

    name = "data.stale"
    summary = "the upstream stops delivering (features go stale)"
    producer_kind = "stale"
    relay_type = "stale"
    params = ()
    counter = "dropped"
    changed = "batch(es) dropped"
    unchanged = "no batch was due while the upstream was stopped"
    also = ()

    def relay(self, params: Mapping[str, Any]) -> Request:
        return Request("stale", {"seed": params.get("seed", 0)})


class _FeedFault(_DataFault):
    """A fault on the learning loop's feeds (ground truth, training data): applied by a label
    service through its control API, or (some of them) on a relay of label batches."""

    target_kinds: ClassVar[tuple[str, ...]] = ("service", "relay")

    def service(self, params: Mapping[str, Any]) -> Request:
        return Request(self.producer_kind, dict(params))

    def producer(self, params: Mapping[str, Any]) -> Request | None:
        return None


class LabelFlipInjector(_FeedFault):
    """Flip a fraction of ground-truth labels (a buggy labelling job, a bad vendor batch)."""

    name = "data.label_flip"
    summary = "a fraction of ground-truth labels is flipped"
    producer_kind = "label_flip"
    counter = "flipped"
    changed = "label(s) flipped"
    unchanged = "no label was flipped while the fault was on"
    also = ()
    params = (
        Param("fraction", float, 0.2, minimum=0.0001, maximum=1.0, doc="share of labels"),
        Param("column", str, "label", doc="the 0/1 label column (relay targets)"),
    )

    def relay(self, params: Mapping[str, Any]) -> Request:
        attrs = {"column": params["column"], "fraction": params["fraction"]}
        return Request("label_flip", _relay_attrs(params, **attrs))

    def service(self, params: Mapping[str, Any]) -> Request:
        return Request(self.producer_kind, {"fraction": params["fraction"]})


class ConceptDriftInjector(_FeedFault):
    """The world changes: labels follow another concept while every input stays put."""

    name = "data.concept_drift"
    summary = "the relationship between inputs and labels changes; inputs do not"
    producer_kind = "concept_drift"
    counter = "labels"
    changed = "label(s) drawn under the changed concept"
    unchanged = "no label was drawn while the fault was on"
    also = ("changed",)  # labels that differ from what the unchanged concept would say
    target_kinds = ("service",)
    params = (Param("concept", str, "shifted", doc="the label service's name of a concept"),)


class LabelDelayInjector(_FeedFault):
    """Ground truth lags by ``delay_s`` (or stops entirely with ``stop: true``)."""

    name = "data.label_delay"
    summary = "ground truth arrives late, or not at all"
    producer_kind = "label_delay"
    counter = "held_back"
    changed = "label(s) held back"
    unchanged = "no label was held back while the fault was on"
    also = ()
    params = (
        Param("delay_s", float, 60.0, minimum=0, maximum=86_400, doc="how late labels arrive"),
        Param("stop", bool, False, doc="no label at all while the fault lasts"),
    )

    def relay(self, params: Mapping[str, Any]) -> Request:
        if params["stop"]:
            return Request("stale", {"seed": params.get("seed", 0)})
        return Request("delay", _relay_attrs(params, delay_s=params["delay_s"]))


class CorruptTrainingBatchInjector(_FeedFault):
    """Corrupt the training data the trainer reads (labels shuffled, nulls, garbage)."""

    name = "data.corrupt_training_batch"
    summary = "the trainer's training data is corrupted"
    producer_kind = "corrupt_training_batch"
    counter = "rows"
    changed = "training row(s) corrupted"
    unchanged = "no training row was corrupted while the fault was on"
    also = ("batches",)
    target_kinds = ("service",)
    params = (
        Param(
            "mode",
            str,
            "shuffled_labels",
            choices=("shuffled_labels", "nulls", "garbage"),
            doc="how the training rows are corrupted",
        ),
        Param("fraction", float, 0.5, minimum=0.0001, maximum=1.0, doc="share of rows"),
    )


INJECTORS = (
    LabelFlipInjector,
    ConceptDriftInjector,
    LabelDelayInjector,
    CorruptTrainingBatchInjector,
    CorruptBatchInjector,
    NullColumnInjector,
    DriftInjector,
    UnitChangeInjector,
    TypeChangeInjector,
    DuplicateBatchInjector,
    EmptyBatchInjector,
    StaleInjector,
)
