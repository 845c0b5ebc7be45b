"""The verifier seam: how one expectation becomes one check in the verdict.

A verifier is a pure function of its expectation and the run's evidence
(:class:`~gameday.evidence.model.RunEvidence`): it reads nothing live, so ``gameday verify``
re-judges a run from its bundle alone and gets the same verdict. A :class:`Verifier` declares
the expectation ``kind`` it handles and the ``spec`` model that kind is written as, is generic
in that model (``Verifier[AlertExpectation]``), and *returns* a :class:`Check`. It never passes
by default: a verifier that cannot decide returns an undecided check, which is never passed.
:func:`verify` is how the runner calls one, turning any exception into an undecided check
that carries the reason.

Third parties register verifiers through the ``gameday.verifiers`` entry point
(``docs/extending.md``).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Generic, Literal, TypeVar

from gameday.evidence.model import RunEvidence
from gameday.scenario.expectations import Expectation

_BASE_KEYS = ("kind", "name", "passed", "detail", "evidence", "decided")

PhaseName = Literal["fault", "recovery"]
"""The phases a verifier may end early (adaptive timelines)."""

E = TypeVar("E", bound=Expectation)


@dataclass(frozen=True)
class Check:
    """One line of the verdict: did the stack notice what the scenario expected?

    ``detail`` is one human line; ``evidence`` holds what the verifier saw (alert timestamps,
    trace ids, statistics) as JSON data; ``extra`` adds keys to the JSON object
    (``detected_after_s``). ``decided=False`` means the verifier could not tell; such a check
    can never be passed.
    """

    kind: str
    name: str
    passed: bool
    detail: str
    evidence: Mapping[str, object] = field(default_factory=dict)
    decided: bool = True
    extra: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.passed and not self.decided:
            raise ValueError("an undecided check cannot pass")
        clash = sorted(set(self.extra) & set(_BASE_KEYS))
        if clash:
            raise ValueError(f"extra keys {clash} would overwrite the check's own keys")

    @classmethod
    def undecided(
        cls, kind: str, name: str, detail: str, evidence: Mapping[str, object] | None = None
    ) -> Check:
        """A check whose verifier could not decide: failed, and saying why."""
        return cls(kind, name, passed=False, detail=detail, evidence=evidence or {}, decided=False)

    def to_json(self) -> dict[str, object]:
        """The check as the results file writes it, ``extra`` keys merged into the object."""
        out: dict[str, object] = {
            "kind": self.kind,
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "evidence": dict(self.evidence),
            "decided": self.decided,
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Check:
        """Inverse of :meth:`to_json` (the keys beyond the base ones become ``extra``)."""
        evidence = data.get("evidence")
        return cls(
            kind=str(data["kind"]),
            name=str(data["name"]),
            passed=bool(data["passed"]),
            detail=str(data.get("detail", "")),
            evidence=dict(evidence) if isinstance(evidence, Mapping) else {},
            decided=bool(data.get("decided", True)),
            extra={k: v for k, v in data.items() if k not in _BASE_KEYS},
        )


class Verifier(abc.ABC, Generic[E]):
    """Checks one expectation kind against a run's evidence.

    Subclasses set ``kind`` (the ``expect`` key, e.g. ``alert``) and ``spec`` (the
    :class:`~gameday.scenario.expectations.Expectation` subclass that kind is written as),
    and implement :meth:`check`, a pure function of the expectation and the evidence.
    """

    kind: ClassVar[str]
    spec: ClassVar[type[Expectation]]
    summary: ClassVar[str] = ""

    @abc.abstractmethod
    def check(self, expectation: E, evidence: RunEvidence) -> Check:
        """The check for ``expectation`` given the run's ``evidence``; never pass by default."""

    def done(self, expectation: E, evidence: RunEvidence, phase: PhaseName) -> bool:
        """With adaptive phases: may ``phase`` end now, as far as this check is concerned?

        Called about once a second while the phase runs, with the evidence captured so far
        (``evidence.captured_at`` is now). The default, ``False``, keeps the phase to its
        configured length: a verifier must opt in to ending early.
        """
        return False


def _mismatch(verifier: Verifier[E], expectation: Expectation) -> Check | None:
    spec = getattr(verifier, "spec", None)
    if spec is not None and not isinstance(expectation, spec):
        kind = getattr(verifier, "kind", type(verifier).__name__)
        reason = f"verifier {kind!r} takes {spec.__name__}, not {type(expectation).__name__}"
        return Check.undecided(kind, expectation.title, reason)
    return None


def verify(verifier: Verifier[E], expectation: E, evidence: RunEvidence) -> Check:
    """Call ``verifier.check``; an exception or a non-Check answer becomes an undecided check.

    An undecided check is failed: this never returns a pass the verifier did not give.
    """
    kind = getattr(verifier, "kind", type(verifier).__name__)
    wrong = _mismatch(verifier, expectation)
    if wrong is not None:
        return wrong
    try:
        result = verifier.check(expectation, evidence)
    except Exception as exc:  # noqa: BLE001 - a broken verifier must fail its check, not the run
        reason = f"verifier {kind!r} raised {type(exc).__name__}: {exc}"
        return Check.undecided(kind, expectation.title, reason, {"error": repr(exc)})
    if not isinstance(result, Check):
        reason = f"verifier {kind!r} returned {type(result).__name__}, not a Check"
        return Check.undecided(kind, expectation.title, reason)
    return result


def decided_for(
    verifier: Verifier[E], expectation: E, evidence: RunEvidence, phase: PhaseName
) -> bool:
    """``verifier.done``, where an exception counts as "not yet" (the phase keeps running)."""
    if _mismatch(verifier, expectation) is not None:
        return False
    try:
        return bool(verifier.done(expectation, evidence, phase))
    except Exception:  # noqa: BLE001 - a verifier that cannot tell keeps the phase running
        return False
