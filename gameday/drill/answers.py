"""The drill's answer key: the component and the fault family a scenario's faults amount to.

Components come from the environment's ``targets`` (an environment file, or the embedded
stack's own), never from a list of any particular stack's names: each ``service`` a target
names, each proxied target's link (``<target> link``), and each target that stands for
something of its own (a relay or batch source, a feed served under another service's name,
a plug-in's target), plus any target a scenario uses that the environment does not describe.
The choice lists are built from the environment and from *every* scenario the drill may
pick, so they are the same whichever one the seed draws and never hint at the answer.

The rules, chosen to be fair (README, "Training new on-call staff"):

* A ``network.*`` fault on a target with a ``proxy``: the link is the answer, and the
  service the target names is accepted too. From the caller's side a slow link and a slow
  service look alike; the family answer (network) is what says "it is the link".
* ``process.*`` and ``model.*`` on a target naming a ``service``: that service, family
  process or model. A paused service is *not* its link.
* Any other fault on a relay or batch source: the target, family data; on a target that is
  only a proxy: the service it names (the link accepted too), or the link when it names none.
* Learning-loop faults (:data:`LEARNING_LOOP`): family "learning loop" (data accepted too),
  the target as the component.
* Wherever the target is the answer, the service it names is accepted too.
* Any other target is its own component; any other injector family its own family.

With several faults, naming any one of them (component and family of the same fault) is a
correct diagnosis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gameday.scenario.environment import Environment, TargetSpec
from gameday.scenario.model import Fault, Scenario


@dataclass(frozen=True)
class Choice:
    """One answer the trainee can give: a stable ``key``, the ``label`` shown, and aliases."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()


FAMILIES: tuple[Choice, ...] = (
    Choice("network", "network"),
    Choice("data", "data"),
    Choice("process", "process"),
    Choice("model", "model"),
    Choice("learning-loop", "learning loop"),
)
LEARNING_LOOP = frozenset(
    {"data.label_flip", "data.concept_drift", "data.label_delay", "data.corrupt_training_batch"}
)
"""Faults on the learning loop's feeds (ground truth, training data): family learning loop."""
_SERVICE_FAMILIES = frozenset({"process", "model"})


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


def culprit(fault: Fault, environment: Environment) -> Culprit:
    """The answer for one fault on ``environment``'s targets (rules: the module docstring)."""
    family = fault.injector.split(".", 1)[0]
    families = ("learning-loop", "data") if fault.injector in LEARNING_LOOP else (family,)
    spec = (environment.targets or {}).get(fault.target)
    components = _components(family, fault.target, spec)
    return Culprit(components[0], families[0], components[1:], families[1:], describe(fault))


def _components(family: str, target: str, spec: TargetSpec | None) -> tuple[str, ...]:
    """The component a fault of ``family`` on ``target`` is, then those also accepted."""
    if spec is None:
        return (target,)
    service = spec.service
    if family in _SERVICE_FAMILIES and service:
        return (service,)
    if spec.proxy is not None and family == "network":
        return _unique(link_key(target), service)
    if spec.proxy is not None and not _feeds(spec):
        # a payload fault on a link: the caller sees the service answer with it
        return _unique(service, link_key(target))
    return _unique(target, service)


def _feeds(spec: TargetSpec) -> bool:
    return spec.relay is not None or spec.batch_dir is not None or spec.producer is not None


def _unique(*keys: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k for k in keys if k))


def link_key(target: str) -> str:
    """The component key of ``target``'s proxied link: ``<target>-link``."""
    return f"{target}-link"


def answer_key(scenario: Scenario, environment: Environment) -> AnswerKey:
    """The answer key of ``scenario`` on ``environment``; a scenario without faults has
    nothing to diagnose."""
    if not scenario.faults:
        raise ValueError(f"scenario {scenario.name} has no fault to diagnose")
    return AnswerKey(tuple(culprit(f, environment) for f in scenario.faults))


def describe(fault: Fault) -> str:
    """The fault in one line: ``network.latency on orders-db (latency_ms=800)``."""
    params = ", ".join(f"{k}={v}" for k, v in fault.params.items())
    return f"{fault.injector} on {fault.target}" + (f" ({params})" if params else "")


def choices_for(
    scenarios: Iterable[Scenario], environment: Environment
) -> tuple[tuple[Choice, ...], tuple[Choice, ...]]:
    """The component and family choices for a drill over ``scenarios`` on ``environment``
    (the same for every pick): the environment's components and the families, plus any
    component or family only these scenarios use."""
    components, families = list(environment_components(environment)), list(FAMILIES)
    for scenario in scenarios:
        for c in (culprit(f, environment) for f in scenario.faults):
            _add(components, c.components)
            _add(families, c.families)
    return tuple(components), tuple(families)


def environment_components(environment: Environment) -> tuple[Choice, ...]:
    """Every component ``environment``'s targets offer, in the file's order: the services
    they name, then the proxied links, then the targets that stand for something of their own
    (relays and batch sources, feeds served under another name, plug-ins' targets)."""
    specs = list((environment.targets or {}).items())
    services = [Choice(s.service, s.service) for _, s in specs if s.service]
    links = [_link_choice(name, s) for name, s in specs if s.proxy is not None]
    own = [_own_choice(name, s) for name, s in specs if _stands_alone(name, s)]
    chosen: list[Choice] = []
    for choice in (*services, *links, *own):
        if all(c.key != choice.key for c in chosen):
            chosen.append(choice)
    return tuple(chosen)


def _stands_alone(name: str, spec: TargetSpec) -> bool:
    # a proxied target is its link (and its service); a service target named after its
    # service is that service
    return _feeds(spec) or (spec.proxy is None and name != spec.service)


def _link_choice(name: str, spec: TargetSpec) -> Choice:
    to = f"network path to {spec.service}" if spec.service else "network"
    return Choice(link_key(name), f"{name} link ({to})")


def _own_choice(name: str, spec: TargetSpec) -> Choice:
    if _feeds(spec):
        return Choice(name, f"{name} (batches{f' from {spec.service}' if spec.service else ''})")
    return Choice(name, f"{name} (served by {spec.service})" if spec.service else name)


def _add(choices: list[Choice], keys: Iterable[str]) -> None:
    known = {c.key for c in choices}
    choices.extend(Choice(k, k) for k in keys if k not in known)


def label_of(key: str, choices: Sequence[Choice]) -> str:
    """The label shown for ``key`` (the key itself when it is not a choice)."""
    return next((c.label for c in choices if c.key == key), key)


def _norm(text: str) -> str:
    # "Orders_DB  Link" and "orders-db link" are the same answer
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
