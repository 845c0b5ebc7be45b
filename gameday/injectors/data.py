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

Whether a fault took effect is judged from what revert returned: the batches it changed
(``data.stale``: dropped), the labels it flipped, drew under the new concept or held back,
the training rows it corrupted. None means the window saw nothing to change; a fault the
service no longer held at revert (its TTL ran out) leaves it unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gameday.evidence.model import Effect
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
    """A data fault the producer applies to the batches it emits.

    ``counter`` names the revert evidence that shows the fault took effect (a count, or a
    list of ids), ``changed`` what it counts, ``unchanged`` what it means when it is zero;
    ``also`` the other counts worth showing with it.
    """

    target_kinds: ClassVar[tuple[str, ...]] = ("batch_source",)
    kind: ClassVar[str]
    answer_key: ClassVar[str] = "producer_fault"
    counter: ClassVar[str] = "batches"
    changed: ClassVar[str] = "batch(es) changed"
    unchanged: ClassVar[str] = "no batch was emitted while the fault was on"
    also: ClassVar[tuple[str, ...]] = ("rows",)

    def producer_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The params as the producer's fault kind takes them."""
        return dict(params)

    def undo_record(self, target: Target, fault_id: str) -> dict[str, str]:
        """What ``revert`` needs: where the fault lives, and its id."""
        return {"producer": setting(target, "producer"), "fault": fault_id}

    def faults_url(self, undo: Mapping[str, Any]) -> str:
        """The faults collection the fault of ``undo`` lives in."""
        return f"{undo['producer']}/internal/faults"

    def apply(self, ctx: FaultContext) -> Applied:
        undo = self.undo_record(ctx.target, ctx.fault_id)
        params = {**self.producer_params(ctx.params), "seed": ctx.seed}
        body = {"id": ctx.fault_id, "kind": self.kind, "params": params, "ttl_s": ctx.ttl_s}
        answer = call("POST", self.faults_url(undo), body)
        return Applied(self.name, ctx.fault_id, ctx.target.name, undo, {self.answer_key: answer})

    def undo_for(self, ctx: FaultContext) -> Applied:
        """The service keys the fault by its fault id: removing it needs nothing from apply."""
        return Applied(
            self.name, ctx.fault_id, ctx.target.name, self.undo_record(ctx.target, ctx.fault_id)
        )

    def enforces_ttl(self, target: Target) -> bool:
        """gameday's producer drops a fault by itself when its TTL runs out."""
        return bool(target.settings.get("producer"))

    def revert(self, applied: Applied) -> Mapping[str, Any]:
        """Stop the fault; return what it changed (batch ids, rows, columns, labels), or
        ``{"unknown": why}`` when the service no longer held it."""
        fault = applied.undo["fault"]
        gone = call("DELETE", f"{self.faults_url(applied.undo)}/{fault}", missing_ok=True)
        if not gone:
            return {"unknown": f"fault {fault} was gone before the revert (its TTL ran out, or "
                               "the service restarted): what it changed is unknown"}  # fmt: skip
        if not isinstance(gone.get("evidence"), dict):
            return {"unknown": "the service returned no evidence of what the fault changed"}
        return dict(gone["evidence"])

    def effect(self, applied: Applied, reverted: Mapping[str, Any]) -> Effect | None:
        """Took effect iff ``counter`` in the revert evidence is above zero."""
        if "unknown" in reverted:
            return Effect(took_effect=None, detail=str(reverted["unknown"]))
        count = _count(reverted.get(self.counter))
        evidence: dict[str, Any] = {self.counter: count}
        evidence |= {key: _count(reverted[key]) for key in self.also if key in reverted}
        detail = f"{count} {self.changed}"
        if len(evidence) > 1:
            detail += " (" + ", ".join(f"{k}: {v}" for k, v in list(evidence.items())[1:]) + ")"
        if count > 0:
            return Effect(took_effect=True, detail=detail, evidence=evidence)
        return Effect(took_effect=False, detail=self.unchanged, evidence=evidence)


def _count(value: Any) -> int:
    """A count as the services report it: a number, or a list of ids."""
    if isinstance(value, list):
        return len(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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
    counter = "dropped"
    changed = "batch(es) dropped"
    unchanged = "no batch was due while the upstream was stopped: none was dropped"
    also = ()


class _FeedFault(_BatchFault):
    """A fault on the learning loop's feeds (ground truth, training data), applied by the label
    feed service through the stack's control API (target settings ``control``, ``service``):
    ``DELETE {control}/services/{service}/faults/{id}`` removes it, from any process."""

    answer_key = "feed_fault"

    def undo_record(self, target: Target, fault_id: str) -> dict[str, str]:
        control, service = setting(target, "control"), setting(target, "service")
        return {"control": control, "service": service, "fault": fault_id}

    def faults_url(self, undo: Mapping[str, Any]) -> str:
        return f"{undo['control']}/services/{undo['service']}/faults"

    def enforces_ttl(self, target: Target) -> bool:
        """The label feed drops a fault by itself when its TTL runs out."""
        return bool(target.settings.get("control"))


class LabelFlipInjector(_FeedFault):
    """Flip a fraction of ground-truth labels (a buggy labelling job, a bad vendor batch)."""

    name = "data.label_flip"
    summary = "a fraction of ground-truth labels is flipped"
    kind = "label_flip"
    counter = "flipped"
    changed = "label(s) flipped"
    unchanged = "no label was flipped while the fault was on"
    also = ()
    params = (Param("fraction", float, 0.2, minimum=0.0001, maximum=1.0),)


class ConceptDriftInjector(_FeedFault):
    """The world changes: labels follow another concept while every input stays put."""

    name = "data.concept_drift"
    summary = "the relationship between inputs and labels changes; inputs do not"
    kind = "concept_drift"
    counter = "labels"
    changed = "label(s) drawn under the changed concept"
    unchanged = "no label was drawn while the fault was on"
    also = ("changed",)  # labels that differ from what the unchanged concept would say
    params = (Param("concept", str, "shifted", choices=F.CONCEPTS[1:]),)


class LabelDelayInjector(_FeedFault):
    """Ground truth lags by ``delay_s`` (or stops entirely with ``stop: true``)."""

    name = "data.label_delay"
    summary = "ground truth arrives late, or not at all"
    kind = "label_delay"
    counter = "held_back"
    changed = "label(s) held back"
    unchanged = "no label was held back while the fault was on"
    also = ()
    params = (
        Param("delay_s", float, 60.0, minimum=0, maximum=86_400),
        Param("stop", bool, False, doc="no label at all while the fault lasts"),
    )


class CorruptTrainingBatchInjector(_FeedFault):
    """Corrupt the training data the trainer reads (labels shuffled, nulls, garbage)."""

    name = "data.corrupt_training_batch"
    summary = "the trainer's training data is corrupted"
    kind = "corrupt_training_batch"
    counter = "rows"
    changed = "training row(s) corrupted"
    unchanged = "no training row was corrupted while the fault was on"
    also = ("batches",)
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
