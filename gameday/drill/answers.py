"""The drill's answer key: the component and the fault family a scenario's faults amount to.

Components are the reference stack's services and its two proxied links, plus any target a
given scenario uses that the reference stack does not have. The choice lists are built from
*every* scenario the drill may pick, so they are the same whichever one the seed draws and
never hint at the answer.

The rules, chosen to be fair (README, "Training new on-call staff"):

* A ``network.*`` fault on a link (``feature-store``: model server → feature store;
  ``feature-store-writes``: pipeline → feature store): the link is the answer, and the
  feature store itself is accepted too. From the caller's side a slow link and a slow store
  look alike; the family answer (network) is what says "it is the link".
* A ``data.*`` fault on ``upstream``: the producer / upstream data, family data.
* Faults on the learning loop's feeds: family "learning loop" (data accepted too);
  ``labels`` is the label feed, ``training-data`` the trainer (the label feed, which serves
  those batches, accepted too).
* ``process.*`` and ``model.*`` on a service: that service (the producer is "producer /
  upstream data"), family process or model. A paused feature store is *not* its link.
* Any other target is its own component; any other injector family its own family.

With several faults, naming any one of them (component and family of the same fault) is a
correct diagnosis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gameday.scenario.model import Fault, Scenario


@dataclass(frozen=True)
class Choice:
    """One answer the trainee can give: a stable ``key``, the ``label`` shown, and aliases."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()


COMPONENTS: tuple[Choice, ...] = (
    Choice("model-server", "model-server"),
    Choice("feature-store", "feature-store"),
    Choice(
        "feature-store-link",
        "feature-store link (network: model server -> feature store)",
        ("feature-store link",),
    ),
    Choice(
        "feature-store-writes-link",
        "feature-store writes link (network: pipeline -> feature store)",
        ("feature-store writes link", "writes link"),
    ),
    Choice("pipeline", "pipeline"),
    Choice("upstream", "producer / upstream data", ("producer", "upstream", "upstream data")),
    Choice("drift-monitor", "drift-monitor"),
    Choice("label-feed", "label-feed (ground truth)", ("labels", "ground truth")),
    Choice("trainer", "trainer (training data)", ("training data",)),
)
FAMILIES: tuple[Choice, ...] = (
    Choice("network", "network"),
    Choice("data", "data"),
    Choice("process", "process"),
    Choice("model", "model"),
    Choice("learning-loop", "learning loop"),
)

# target -> (the link's component, the service also accepted), for network faults
_LINKS = {
    "feature-store": ("feature-store-link", "feature-store"),
    "feature-store-writes": ("feature-store-writes-link", "feature-store"),
}
# target -> (component, also accepted), whatever the family
_FEEDS = {
    "upstream": ("upstream", ()),
    "labels": ("label-feed", ()),
    "training-data": ("trainer", ("label-feed",)),
}
_LOOP_TARGETS = frozenset({"labels", "training-data"})
_SERVICE_COMPONENT = {"producer": "upstream"}


@dataclass(frozen=True)
class Culprit:
    """What one fault is, as an answer: its component and family, and what is also accepted."""

    component: str
    family: str
    also_components: tuple[str, ...] = ()
    also_families: tuple[str, ...] = ()
    fault: str = ""

    @property
    def components(self) -> tuple[str, ...]:
        return (self.component, *self.also_components)

    @property
    def families(self) -> tuple[str, ...]:
        return (self.family, *self.also_families)

    def accepts(self, component: str, family: str) -> bool:
        """Whether naming ``component`` and ``family`` (keys) diagnoses this fault."""
        return component in self.components and family in self.families


@dataclass(frozen=True)
class AnswerKey:
    """The truth of one scenario: one :class:`Culprit` per fault (any one is a diagnosis)."""

    culprits: tuple[Culprit, ...]

    def judge(self, component: str, family: str) -> bool:
        """Whether the answer (choice keys) names a component and family of the same fault."""
        return any(c.accepts(component, family) for c in self.culprits)

    @property
    def primary(self) -> Culprit:
        return self.culprits[0]


def culprit(fault: Fault) -> Culprit:
    """The answer for one fault (the rules are in the module docstring)."""
    prefix, target = fault.injector.split(".", 1)[0], fault.target
    family = prefix
    also_families: tuple[str, ...] = ()
    if prefix == "data" and target in _LOOP_TARGETS:
        family, also_families = "learning-loop", ("data",)
    also: tuple[str, ...] = ()
    if prefix == "network" and target in _LINKS:
        component, service = _LINKS[target]
        also = (service,)
    elif target in _FEEDS:
        component, also = _FEEDS[target]
    else:
        component = _SERVICE_COMPONENT.get(target, target)
    return Culprit(component, family, also, also_families, describe(fault))


def answer_key(scenario: Scenario) -> AnswerKey:
    """The answer key of ``scenario``; a scenario without faults has nothing to diagnose."""
    if not scenario.faults:
        raise ValueError(f"scenario {scenario.name} has no fault to diagnose")
    return AnswerKey(tuple(culprit(f) for f in scenario.faults))


def describe(fault: Fault) -> str:
    """The fault in one line: ``network.latency on feature-store (latency_ms=800)``."""
    params = ", ".join(f"{k}={v}" for k, v in fault.params.items())
    return f"{fault.injector} on {fault.target}" + (f" ({params})" if params else "")


def choices_for(scenarios: Iterable[Scenario]) -> tuple[tuple[Choice, ...], tuple[Choice, ...]]:
    """The component and family choices for a drill over ``scenarios`` (the same for every
    pick): the reference lists plus any component or family only these scenarios use."""
    components, families = list(COMPONENTS), list(FAMILIES)
    for scenario in scenarios:
        for c in (culprit(f) for f in scenario.faults):
            _add(components, c.components)
            _add(families, c.families)
    return tuple(components), tuple(families)


def _add(choices: list[Choice], keys: Iterable[str]) -> None:
    known = {c.key for c in choices}
    choices.extend(Choice(k, k) for k in keys if k not in known)


def label_of(key: str, choices: Sequence[Choice]) -> str:
    """The label shown for ``key`` (the key itself when it is not a choice)."""
    return next((c.label for c in choices if c.key == key), key)


def _norm(text: str) -> str:
    # "Feature_Store  Link" and "feature-store link" are the same answer
    return re.sub(r"[\s_-]+", " ", text.strip().lower())


def parse_choice(text: str, choices: Sequence[Choice]) -> Choice | None:
    """The choice ``text`` names: its number (1-based), its key, label or an alias (case,
    dashes and spaces do not matter), or an unambiguous prefix of one; else ``None``."""
    wanted = _norm(text)
    if not wanted:
        return None
    if wanted.isdigit():
        n = int(wanted)
        return choices[n - 1] if 1 <= n <= len(choices) else None
    names = [(c, _norm(n)) for c in choices for n in (c.key, c.label, *c.aliases)]
    exact = {c.key: c for c, n in names if n == wanted}
    if len(exact) == 1:
        return next(iter(exact.values()))
    prefixed = {c.key: c for c, n in names if n.startswith(wanted)}
    return next(iter(prefixed.values())) if len(prefixed) == 1 else None
