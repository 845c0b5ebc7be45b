"""The injector seam: what a fault family must provide.

An injector declares its parameters (used to validate scenario files before anything runs,
and to generate the JSON Schema), ``apply`` returns an :class:`Applied` record holding
everything ``revert`` needs, and ``revert`` is idempotent. ``Applied`` is plain JSON data so
the undo journal can persist it and ``gameday recover`` can replay it from another process.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gameday.evidence.model import Effect


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""Marks a :class:`Param` without a default."""

_TYPE_NAMES = {int: "integer", float: "number", str: "string", bool: "boolean"}


@dataclass(frozen=True)
class Param:
    """One declared parameter of an injector: name, type, default and allowed values."""

    name: str
    kind: type
    default: Any = REQUIRED
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.kind, self.kind.__name__)

    def coerce(self, value: Any) -> Any:
        """``value`` as this parameter's type; else ``ValueError`` saying what is expected."""
        out = self._coerce_type(value)
        if self.choices and out not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ValueError(f"{self.name}: {value!r} is not one of {allowed}")
        if self.minimum is not None and out < self.minimum:
            raise ValueError(f"{self.name}: {value!r} is below the minimum {self.minimum:g}")
        if self.maximum is not None and out > self.maximum:
            raise ValueError(f"{self.name}: {value!r} is above the maximum {self.maximum:g}")
        return out

    def _coerce_type(self, value: Any) -> Any:
        if self.kind is bool:
            if isinstance(value, bool):
                return value
        elif self.kind is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
        elif self.kind is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        elif self.kind is str and isinstance(value, str):
            return value
        raise ValueError(f"{self.name}: expected {self.type_name}, got {value!r}")

    def json_schema(self) -> dict[str, Any]:
        """This parameter as a JSON Schema property."""
        schema: dict[str, Any] = {"type": self.type_name}
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if not self.required:
            schema["default"] = self.default
        if self.doc:
            schema["description"] = self.doc
        return schema


def validate_params(params: tuple[Param, ...], given: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``given`` against the declarations; return every parameter with defaults filled in.

    Raises ``ValueError`` naming the first unknown, missing or ill-typed parameter.
    """
    known = {p.name: p for p in params}
    unknown = sorted(set(given) - set(known))
    if unknown:
        names = ", ".join(known) or "none"
        raise ValueError(f"unknown param {unknown[0]!r}; known: {names}")
    out: dict[str, Any] = {}
    for p in params:
        if p.name in given and given[p.name] is not None:
            out[p.name] = p.coerce(given[p.name])
        elif p.required:
            raise ValueError(f"missing required param {p.name!r} ({p.type_name})")
        else:
            out[p.name] = p.default
    return out


@dataclass(frozen=True)
class Target:
    """A logical target resolved by the environment (``feature-store`` → a toxiproxy proxy ...).

    ``kind`` says what it is (``proxy``, ``batch_source``, ``service`` ...); ``settings`` holds
    what the injector needs to reach it (API URLs, proxy names, folders), all JSON data.
    """

    name: str
    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultContext:
    """Everything an injector needs to apply one fault of a scenario."""

    fault_id: str
    target: Target
    params: Mapping[str, Any]
    ttl_s: float
    seed: int = 0


@dataclass(frozen=True)
class Applied:
    """What ``apply`` did, as JSON data: enough for ``revert`` to undo it from any process."""

    injector: str
    fault_id: str
    target: str
    undo: Mapping[str, Any]
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "injector": self.injector,
            "fault_id": self.fault_id,
            "target": self.target,
            "undo": dict(self.undo),
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Applied:
        return cls(
            injector=data["injector"],
            fault_id=data["fault_id"],
            target=data["target"],
            undo=data["undo"],
            evidence=data.get("evidence", {}),
        )


class Injector(abc.ABC):
    """A fault family. Subclasses set ``name``, ``summary``, ``target_kinds`` and ``params``."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    target_kinds: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[tuple[Param, ...]] = ()

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        """Rules across parameters (each one is already valid on its own); ``ValueError`` if
        broken. Called at validation time, before anything runs."""
        return

    @classmethod
    def check_target(cls, params: Mapping[str, Any], target: Target) -> None:
        """Rules between validated params and the kind of target the environment resolves
        (a JSON ``field`` for an HTTP link, a ``column`` for batches); ``ValueError`` if
        broken. Called at validation time when an environment is known."""
        return

    @classmethod
    def validated(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """``given`` checked against the declared params and the cross-parameter rules."""
        params = validate_params(cls.params, given)
        cls.check_params(params)
        return params

    @abc.abstractmethod
    def apply(self, ctx: FaultContext) -> Applied:
        """Apply the fault; ``InjectionError`` if it could not be (and nothing is left behind)."""

    @abc.abstractmethod
    def revert(self, applied: Applied) -> Mapping[str, Any]:
        """Undo ``applied`` (harmless when already undone); return evidence gathered on revert."""

    def undo_for(self, ctx: FaultContext) -> Applied | None:
        """What ``revert`` needs to undo ``ctx``'s fault, known *without* ``apply``'s answer.

        The undo journal records a fault's intent before ``apply``; if the runner dies between
        the two, ``gameday recover`` and the watchdog revert through this. Override it when
        the fault's trace on the target follows from ``ctx`` alone (a toxic named after the
        fault id, a service name); the default ``None`` says "cannot tell": such a fault is
        then left to its TTL.
        """
        return None

    def effect(self, applied: Applied, reverted: Mapping[str, Any]) -> Effect | None:
        """Whether the fault took effect, judged from what ``apply`` and ``revert`` returned
        (added latency or errors seen on the link, rows changed, the process state).

        ``None`` (the default) says "cannot tell"; ``Effect(took_effect=False, ...)`` makes
        the run inconclusive: the monitoring is not judged on a fault that changed nothing.
        """
        return None

    def enforces_ttl(self, target: Target) -> bool:
        """Whether ``target`` itself removes this injector's faults when ``ctx.ttl_s`` runs
        out, so a killed runner cannot leave one behind. The default ``False`` makes the
        runner start a watchdog process that reverts expired faults from the undo journal.
        """
        return False
