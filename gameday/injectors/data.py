"""Data faults: what the upstream producer emits turns bad, the way ML pipelines really fail.

They act on batches as the producer emits them (its ``/internal/faults`` control API; target
settings ``{"producer": URL, "feed": "upstream"}``), never on files already written: source
data is never modified in place, and reverting restores clean production at once. Each
fault is seeded (``ctx.seed``), so a game day is reproducible, carries its TTL to the
producer (which drops it by itself if the runner dies), and on revert returns exactly what it
changed: the batch ids, the rows, the columns.

What the batches look like under each injector:

- ``data.corrupt_batch``: ``mode`` garbage lines, out_of_range values, wrong_type text,
  swapped_columns, or the sentinel -1, in a ``fraction`` of rows.
- ``data.null_column``: a column nulled in a ``fraction`` of rows (a schema change: 1.0).
- ``data.drift``: a feature shifted by ``shift_sigma`` standard deviations and/or scaled.
- ``data.unit_change``: a column multiplied by ``factor`` (units changed upstream).
- ``data.type_change``: a numeric column arrives as text ("12 units").
- ``data.duplicate_batch``: every batch is followed by a byte-identical copy of the last one.
- ``data.empty_batch``: batches with a header and no rows.
- ``data.stale``: no batch at all: the upstream stopped producing.

The learning loop's feeds (target ``labels`` or ``training-data``, served by the label feed
through the stack's control API): ``data.label_flip``, ``data.concept_drift``,
``data.label_delay``, ``data.corrupt_training_batch``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gameday.injectors._control import call, setting
from gameday.injectors.base import REQUIRED, Applied, FaultContext, Injector, Param, Target
from gameday.stack import features as F

_NUMERIC = F.NUMERIC_NAMES
_ALL = F.FEATURE_NAMES
_BATCHES = Param(
    "batches",
    int,
    0,
    minimum=0,
    maximum=100_000,
    doc="how many batches to affect (0: every batch while the fault lasts)",
)


class _BatchFault(Injector):
    """A data fault the producer applies to the batches it emits."""

    target_kinds: ClassVar[tuple[str, ...]] = ("batch_source",)
    kind: ClassVar[str]

    def producer_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The params as the producer's fault kind takes them."""
        return dict(params)

    def apply(self, ctx: FaultContext) -> Applied:
        producer = setting(ctx.target, "producer")
        params = {**self.producer_params(ctx.params), "seed": ctx.seed}
        body = {"id": ctx.fault_id, "kind": self.kind, "params": params, "ttl_s": ctx.ttl_s}
        answer = call("POST", f"{producer}/internal/faults", body)
        undo = {"producer": producer, "fault": ctx.fault_id}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, {"producer_fault": answer})

    def undo_for(self, ctx: FaultContext) -> Applied:
        """The producer keys the fault by its fault id: removing it needs nothing from apply."""
        undo = {"producer": setting(ctx.target, "producer"), "fault": ctx.fault_id}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo)

    def enforces_ttl(self, target: Target) -> bool:
        """gameday's producer drops a fault by itself when its TTL runs out."""
        return bool(target.settings.get("producer"))

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        """Stop the fault; return what it changed (batch ids, rows, columns)."""
        url = f"{applied.undo['producer']}/internal/faults/{applied.undo['fault']}"
        gone = call("DELETE", url, missing_ok=True)
        return dict(gone.get("evidence", {}))


class CorruptBatchInjector(_BatchFault):
    """Corrupt a fraction of rows in each batch; validation must quarantine every one."""

    name = "data.corrupt_batch"
    summary = "corrupt rows in each batch (garbage, out of range, wrong type, swapped, sentinel)"
    kind = "corrupt_batch"
    params = (
        Param("fraction", float, 0.2, minimum=0.0001, maximum=1.0, doc="share of rows corrupted"),
        Param(
            "mode",
            str,
            "garbage",
            choices=("garbage", "out_of_range", "wrong_type", "swapped_columns", "sentinel"),
        ),
        Param("column", str, "account_age_days", choices=_NUMERIC, doc="column corrupted"),
        _BATCHES,
    )


class NullColumnInjector(_BatchFault):
    """Null a column in a fraction of rows: a schema change upstream (fraction 1.0)."""

    name = "data.null_column"
    summary = "a column arrives null (schema change upstream)"
    kind = "null_column"
    params = (
        Param("column", str, REQUIRED, choices=_ALL),
        Param("fraction", float, 1.0, minimum=0.0001, maximum=1.0, doc="share of rows nulled"),
        _BATCHES,
    )


class DriftInjector(_BatchFault):
    """Shift (in standard deviations) and/or scale a feature; values stay valid."""

    name = "data.drift"
    summary = "a feature's distribution moves (values stay within their valid range)"
    kind = "drift"
    params = (
        Param("feature", str, REQUIRED, choices=_NUMERIC),
        Param("shift_sigma", float, 0.0, minimum=-20, maximum=20),
        Param("scale", float, 1.0, minimum=0.01, maximum=100),
        _BATCHES,
    )

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        if params["shift_sigma"] == 0 and params["scale"] == 1:
            raise ValueError("data.drift needs shift_sigma != 0 and/or scale != 1")

    def producer_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, "column": params["feature"]}


class UnitChangeInjector(_BatchFault):
    """Multiply a column by ``factor``: units changed upstream (cents, metres, ...)."""

    name = "data.unit_change"
    summary = "a column's unit changes upstream (x10, x1000)"
    kind = "unit_change"
    params = (
        Param("column", str, "avg_amount_30d", choices=_NUMERIC),
        Param("factor", float, 1000.0, minimum=0.000001, maximum=1e9),
        _BATCHES,
    )


class TypeChangeInjector(_BatchFault):
    """A numeric column arrives as text ("12 units")."""

    name = "data.type_change"
    summary = "a numeric column arrives as text"
    kind = "type_change"
    params = (Param("column", str, "txn_count_7d", choices=_NUMERIC), _BATCHES)


class DuplicateBatchInjector(_BatchFault):
    """Each batch is followed by a byte-identical copy of the previous one (a replay)."""

    name = "data.duplicate_batch"
    summary = "batches are delivered twice (replayed upstream)"
    kind = "duplicate_batch"
    params = (_BATCHES,)


class EmptyBatchInjector(_BatchFault):
    """Batches arrive with a header and no rows."""

    name = "data.empty_batch"
    summary = "batches arrive empty"
    kind = "empty_batch"
    params = (_BATCHES,)


class StaleInjector(_BatchFault):
    """The upstream stops producing: no batch for the fault window."""

    name = "data.stale"
    summary = "the upstream stops producing (features go stale)"
    kind = "stale"
    params = ()


class _FeedFault(_BatchFault):
    """A fault on the learning loop's feeds (ground truth, training data), applied by the label
    feed service through the stack's control API (target settings ``control``, ``service``)."""

    def apply(self, ctx: FaultContext) -> Applied:
        control, service = setting(ctx.target, "control"), setting(ctx.target, "service")
        params = {**self.producer_params(ctx.params), "seed": ctx.seed}
        body = {"id": ctx.fault_id, "kind": self.kind, "params": params, "ttl_s": ctx.ttl_s}
        answer = call("POST", f"{control}/services/{service}/faults", body)
        undo = {"control": control, "service": service, "fault": ctx.fault_id}
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, {"feed_fault": answer})

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        u = applied.undo
        url = f"{u['control']}/services/{u['service']}/faults/{u['fault']}"
        return dict(call("DELETE", url, missing_ok=True).get("evidence", {}))


class LabelFlipInjector(_FeedFault):
    """Flip a fraction of ground-truth labels (a buggy labelling job, a bad vendor batch)."""

    name = "data.label_flip"
    summary = "a fraction of ground-truth labels is flipped"
    kind = "label_flip"
    params = (Param("fraction", float, 0.2, minimum=0.0001, maximum=1.0),)


class ConceptDriftInjector(_FeedFault):
    """The world changes: labels follow another concept while every input stays put."""

    name = "data.concept_drift"
    summary = "the relationship between inputs and labels changes; inputs do not"
    kind = "concept_drift"
    params = (Param("concept", str, "shifted", choices=F.CONCEPTS[1:]),)


class LabelDelayInjector(_FeedFault):
    """Ground truth lags by ``delay_s`` (or stops entirely with ``stop: true``)."""

    name = "data.label_delay"
    summary = "ground truth arrives late, or not at all"
    kind = "label_delay"
    params = (
        Param("delay_s", float, 60.0, minimum=0, maximum=86_400),
        Param("stop", bool, False, doc="no label at all while the fault lasts"),
    )


class CorruptTrainingBatchInjector(_FeedFault):
    """Corrupt the training data the trainer reads (labels shuffled, nulls, garbage)."""

    name = "data.corrupt_training_batch"
    summary = "the trainer's training data is corrupted"
    kind = "corrupt_training_batch"
    params = (
        Param("mode", str, "shuffled_labels", choices=("shuffled_labels", "nulls", "garbage")),
        Param("fraction", float, 0.5, minimum=0.0001, maximum=1.0),
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
