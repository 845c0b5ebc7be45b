"""The verifier seam: how one expectation becomes one check in the verdict.

A :class:`Verifier` declares the expectation ``kind`` it handles and the ``spec`` model that
kind is written as, and *returns* a :class:`Check`. It never raises on purpose and never
passes by default: a verifier that cannot decide returns an undecided check, which is never
passed. :func:`verify` is how the runner calls one, turning any exception into a failed,
undecided check that carries the reason.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gameday.scenario.expectations import Expectation

_BASE_KEYS = ("kind", "name", "passed", "detail", "evidence", "decided")


@dataclass(frozen=True)
class Check:
    """One line of the verdict: did the stack notice what the scenario expected?

    ``detail`` is one human line; ``evidence`` holds what the verifier saw (alert timestamps,
    trace ids, statistics); ``extra`` adds keys to the JSON object (``detected_after_s``).
    ``decided=False`` means the verifier could not tell; such a check can never be passed.
    """

    kind: str
    name: str
    passed: bool
    detail: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    decided: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.passed and not self.decided:
            raise ValueError("an undecided check cannot pass")
        clash = sorted(set(self.extra) & set(_BASE_KEYS))
        if clash:
            raise ValueError(f"extra keys {clash} would overwrite the check's own keys")

    @classmethod
    def undecided(
        cls, kind: str, name: str, detail: str, evidence: Mapping[str, Any] | None = None
    ) -> Check:
        """A check whose verifier could not decide: failed, and saying why."""
        return cls(kind, name, passed=False, detail=detail, evidence=evidence or {}, decided=False)

    def to_json(self) -> dict[str, Any]:
        """The check as the results file writes it, ``extra`` keys merged into the object."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "evidence": dict(self.evidence),
            "decided": self.decided,
        }
        out.update(self.extra)
        return out


class Verifier(abc.ABC):
    """Checks one expectation kind against a finished run.

    Subclasses set ``kind`` (the ``expect`` key, e.g. ``alert``) and ``spec`` (the
    :class:`~gameday.expectations.Expectation` subclass that kind is written as), and
    implement :meth:`check`.
    """

    kind: ClassVar[str]
    spec: ClassVar[type[Expectation]]
    summary: ClassVar[str] = ""

    @abc.abstractmethod
    def check(self, expectation: Expectation, run: Any) -> Check:
        """Return the check for ``expectation`` given the ``run`` record; never pass by default."""

    def done(self, expectation: Expectation, run: Any, phase: str) -> bool:
        """With adaptive phases: may ``phase`` (``fault`` or ``recovery``) end now, as far as
        this check is concerned? Called while the phase runs. The default, ``False``, keeps
        the phase to its configured length: a verifier must opt in to ending early."""
        return False


def verify(verifier: Verifier, expectation: Expectation, run: Any) -> Check:
    """Call ``verifier.check``; an exception or a non-Check answer becomes an undecided check.

    An undecided check is failed: this never returns a pass the verifier did not give.
    """
    kind = getattr(verifier, "kind", type(verifier).__name__)
    try:
        result = verifier.check(expectation, run)
    except Exception as exc:  # noqa: BLE001 - a broken verifier must fail its check, not the run
        reason = f"verifier {kind!r} raised {type(exc).__name__}: {exc}"
        return Check.undecided(kind, expectation.title, reason, {"error": repr(exc)})
    if not isinstance(result, Check):
        reason = f"verifier {kind!r} returned {type(result).__name__}, not a Check"
        return Check.undecided(kind, expectation.title, reason)
    return result
