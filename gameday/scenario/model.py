"""Scenario files: what breaks, for how long, and what the observability stack must notice.

:func:`load_scenario` reads one file into a frozen :class:`Scenario`, or raises
:class:`~gameday.errors.ScenarioError` as ``file:line: message`` naming the key and what is
allowed there. Beyond the shape of each key it checks injector names and params against the
injector registry, expectation kinds against the built-in kinds plus the verifier registry,
that every fault fits in the fault phase and, given an environment, that every target
resolves there and every load host is allowed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from gameday.errors import ScenarioError
from gameday.injectors.base import Injector
from gameday.registry import Registry, UnknownName
from gameday.registry import injectors as _default_injectors
from gameday.registry import verifiers as _default_verifiers
from gameday.scenario.durations import Duration, PositiveDuration, format_duration
from gameday.scenario.environment import Environment, Url, host_of
from gameday.scenario.expectations import (
    BUILTIN_EXPECTATIONS,
    AlertExpectation,
    AlertName,
    Expectation,
    RecoveredExpectation,
    Text,
    expectation_from_item,
    one_of_keys,
)
from gameday.scenario.files import discover
from gameday.scenario.yamlsafe import (
    Document,
    FileModel,
    KeyPath,
    dotted,
    load_file,
    load_text,
)
from gameday.verifiers.base import Verifier

NAME_PATTERN = r"^[a-z0-9-]+$"


def _check_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(
            f"a scenario name is lowercase letters, digits and dashes ([a-z0-9-]+), "
            f"e.g. feature-store-latency; got {name!r}"
        )
    return name


ScenarioName = Annotated[
    str, AfterValidator(_check_name), WithJsonSchema({"type": "string", "pattern": NAME_PATTERN})
]
_EPSILON = 1e-9  # durations are floats: 0.1s + 0.2s must still fit in 0.3s
_LISTS = ("faults", "expect")  # checked item by item, with the registries


class Load(FileModel):
    """Locust load during the whole run; ``spawn_rate`` defaults to ``users``.

    ``locustfile`` is resolved against the scenario file's folder (None: the stack's user);
    ``workers`` None lets the environment decide; ``host`` overrides the model server URL.
    """

    users: Annotated[StrictInt, Field(ge=1)] = 10
    spawn_rate: Annotated[float, Field(gt=0, strict=True, description="default: users")] = 10.0
    locustfile: Path | None = None
    workers: Annotated[StrictInt, Field(ge=0)] | None = None
    master: Text | None = None
    host: Url | None = None

    @model_validator(mode="before")
    @classmethod
    def _spawn_rate_defaults_to_users(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("spawn_rate") is None and "users" in data:
            return {**data, "spawn_rate": data["users"]}
        return data


class Timeline(FileModel):
    """Phase lengths in seconds; ``adaptive`` ends fault/recovery once their checks are decided."""

    baseline: Duration = 20.0
    fault: PositiveDuration = 60.0
    recovery: Duration = 40.0
    adaptive: StrictBool = True
    silent_window: PositiveDuration | None = Field(
        default=None,
        description="with adaptive phases: how long silent alerts are watched under the fault "
        "before the fault phase may end early (default: the whole fault phase)",
    )

    @property
    def total(self) -> float:
        """The longest the run can take, in seconds."""
        return self.baseline + self.fault + self.recovery


class Fault(FileModel):
    """One fault: ``injector`` applied to ``target`` from ``start`` for ``duration`` seconds.

    Offsets are inside the fault phase. After loading, ``params`` holds every declared
    param (defaults filled in) and ``duration`` is set (default: the rest of the phase).
    """

    injector: Text
    target: Text
    params: Mapping[str, Any] = Field(default_factory=dict)
    start: Duration = 0.0
    duration: PositiveDuration | None = None

    @property
    def end(self) -> float:
        """Offset inside the fault phase at which the fault is reverted."""
        return self.start + (self.duration or 0.0)

    @property
    def title(self) -> str:
        """``injector@target``, as ``gameday list`` shows it."""
        return f"{self.injector}@{self.target}"


_GUARD_KEYS = ("error_rate_above", "alert", "p95_above_ms")


class Guard(FileModel):
    """A stop condition: a breach reverts every fault and aborts the run. Exactly one key."""

    model_config = ConfigDict(json_schema_extra=one_of_keys(*_GUARD_KEYS))

    error_rate_above: Annotated[float, Field(gt=0, le=1, strict=True)] | None = None
    alert: AlertName | None = None
    p95_above_ms: Annotated[float, Field(gt=0, strict=True)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Guard:
        given = [k for k in _GUARD_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a guard takes exactly one of error_rate_above, alert, p95_above_ms")
        return self

    @property
    def title(self) -> str:
        """The condition in words."""
        if self.alert is not None:
            return f"alert {self.alert} fires"
        if self.error_rate_above is not None:
            return f"error rate above {self.error_rate_above * 100:g}%"
        return f"p95 above {self.p95_above_ms:g} ms"


class Scenario(FileModel):
    """One scenario file. ``seed`` defaults to a number derived from ``name``.

    ``location`` is where ``name`` is written; :attr:`source` is the file.
    """

    name: ScenarioName
    summary: str = ""
    tags: tuple[Text, ...] = ()
    runbook: Text | None = None
    load: Load | None = None
    timeline: Timeline = Timeline()
    faults: tuple[Fault, ...] = ()
    expect: tuple[SerializeAsAny[Expectation], ...] = ()
    guards: tuple[Guard, ...] = ()
    seed: StrictInt = Field(default=0, description="default: a number derived from name")

    @model_validator(mode="before")
    @classmethod
    def _seed_from_name(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("seed") is None
            and isinstance(data.get("name"), str)
        ):
            return {**data, "seed": derived_seed(data["name"])}
        return data

    @property
    def source(self) -> Path | None:
        """The scenario file, when it came from one."""
        return Path(self.location.path) if self.location else None

    def fault_seed(self, index: int) -> int:
        """A reproducible seed for fault ``index``: same scenario seed, same randomness."""
        return derived_seed(f"{self.seed}:{index}")


def scenario_document(scenario: Scenario) -> dict[str, Any]:
    """``scenario`` as a document the loader reads back to an equal scenario (what a run
    bundle keeps): defaults filled in, durations in seconds, the locustfile left out."""
    data = scenario.model_dump(mode="json", exclude={"faults", "expect", "load"}, exclude_none=True)
    data["faults"] = [f.model_dump(mode="json", exclude_none=True) for f in scenario.faults]
    data["expect"] = [_expect_item(e) for e in scenario.expect]
    if scenario.load is not None:
        data["load"] = scenario.load.model_dump(
            mode="json", exclude={"locustfile"}, exclude_none=True
        )
    return data


def _expect_item(expectation: Expectation) -> dict[str, Any]:
    spec = expectation.model_dump(mode="json", exclude_none=True)
    if expectation.kind in type(expectation).model_fields:
        return spec  # the flat form: ``- alert: X`` with its keys beside it
    return {expectation.kind: spec}


def derived_seed(text: str) -> int:
    """A stable 31-bit seed from ``text`` (not ``hash()``, which changes per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") >> 1


def load_scenario(
    path: str | Path,
    registry: Registry[Injector] | None = None,
    *,
    verifiers: Registry[Verifier] | None = None,
    environment: Environment | None = None,
) -> Scenario:
    """Read and check one scenario file; every problem is a ``file:line:`` ScenarioError.

    ``registry`` / ``verifiers`` default to the process-wide registries. With an
    ``environment``, targets must resolve there and load hosts must be allowed.
    """
    return scenario_from_document(load_file(path), registry, verifiers, environment)


def parse_scenario(
    text: str | bytes,
    path: str | Path = "<string>",
    registry: Registry[Injector] | None = None,
    *,
    verifiers: Registry[Verifier] | None = None,
    environment: Environment | None = None,
) -> Scenario:
    """Like :func:`load_scenario` for text already in memory, reported as ``path``."""
    return scenario_from_document(load_text(text, path), registry, verifiers, environment)


def load_scenarios(
    paths: Iterable[str | Path],
    registry: Registry[Injector] | None = None,
    *,
    verifiers: Registry[Verifier] | None = None,
    environment: Environment | None = None,
) -> list[Scenario]:
    """Load every scenario file in ``paths`` (files or folders); names must be unique."""
    seen: dict[str, Scenario] = {}
    for file in discover(paths):
        scenario = load_scenario(file, registry, verifiers=verifiers, environment=environment)
        first = seen.setdefault(scenario.name, scenario)
        if first is not scenario:
            line = scenario.location.line if scenario.location else None
            message = f"scenario name {scenario.name!r} is already used by {first.location}"
            raise ScenarioError(message, file, line)
    return list(seen.values())


def scenario_from_document(
    doc: Document,
    registry: Registry[Injector] | None = None,
    verifiers: Registry[Verifier] | None = None,
    environment: Environment | None = None,
) -> Scenario:
    """Check a parsed scenario document and build the :class:`Scenario`."""
    if not isinstance(doc.data, dict):
        raise doc.error("a scenario file is a mapping of keys, starting with name: my-scenario")
    injectors = registry if registry is not None else _default_injectors()
    kinds = expectation_kinds(verifiers if verifiers is not None else _default_verifiers())
    head = doc.validate(Scenario, data={k: v for k, v in doc.data.items() if k not in _LISTS})
    faults = tuple(
        _fault(doc, ("faults", i), head.timeline, injectors) for i in _indices(doc, "faults")
    )
    expect = tuple(
        _expectation(doc, ("expect", i), head.timeline, kinds) for i in _indices(doc, "expect")
    )
    if not expect:
        raise doc.error(
            "a scenario needs at least one expect item: what must the monitoring notice "
            "(e.g. - alert: ModelLatencyHigh, fires_within: 30s)",
            ("expect",) if "expect" in doc.data else (),
        )
    scenario = head.model_copy(update={"faults": faults, "expect": expect})
    scenario = _with_locustfile(doc, scenario)
    if environment is not None:
        _check_environment(doc, scenario, environment, injectors)
    return scenario.located(doc.location(("name",)))


def expectation_kinds(verifiers: Registry[Verifier]) -> dict[str, type[Expectation]]:
    """Every expectation kind by name: the built-in ones plus each registered verifier's spec."""
    kinds = dict(BUILTIN_EXPECTATIONS)
    kinds.update({name: cls.spec for name, cls in verifiers.items()})
    return kinds


def _indices(doc: Document, key: str) -> range:
    items = doc.get((key,))
    if items is None:
        return range(0)
    if not isinstance(items, list):
        raise doc.error(f"{key} must be a list (items start with '- ')", (key,))
    return range(len(items))


def _fault(doc: Document, at: KeyPath, timeline: Timeline, injectors: Registry[Injector]) -> Fault:
    fault = doc.validate(Fault, at)
    try:
        injector = injectors.get(fault.injector)
    except UnknownName as exc:
        raise doc.error(str(exc), (*at, "injector")) from None
    params = _params(doc, at, injector, fault.params)
    duration = _window(doc, at, fault, timeline)
    fault = fault.model_copy(update={"params": params, "duration": duration})
    return fault.located(doc.location(at))


def _params(
    doc: Document, at: KeyPath, injector: type[Injector], given: Mapping[str, Any]
) -> dict[str, Any]:
    try:
        return injector.validated(given)
    except (ValueError, TypeError, OverflowError) as exc:  # OverflowError: float(10**400)
        message = str(exc)
        # Point at the param the message names, so the line is the offending one.
        culprit = next((k for k in given if f"'{k}'" in message or message.startswith(k)), None)
        place = (*at, "params", culprit) if culprit else (*at, "params")
        raise doc.error(f"{injector.name}: {message}", place) from None


def _window(doc: Document, at: KeyPath, fault: Fault, timeline: Timeline) -> float:
    phase = format_duration(timeline.fault)
    if fault.start >= timeline.fault:
        message = f"start {format_duration(fault.start)} is not inside the fault phase ({phase})"
        raise doc.error(message, (*at, "start"))
    if fault.duration is None:
        return timeline.fault - fault.start
    if fault.start + fault.duration > timeline.fault + _EPSILON:
        raise doc.error(
            f"start {format_duration(fault.start)} + duration {format_duration(fault.duration)}"
            f" ends after the fault phase ({phase}); shorten it or lengthen timeline.fault",
            (*at, "duration"),
        )
    return fault.duration


def _expectation(
    doc: Document, at: KeyPath, timeline: Timeline, kinds: Mapping[str, type[Expectation]]
) -> Expectation:
    spec = expectation_from_item(doc, at, kinds)
    return _fit_timeline(doc, at, spec, timeline).located(doc.location(at))


def _fit_timeline(doc: Document, at: KeyPath, spec: Expectation, timeline: Timeline) -> Expectation:
    """Fill timeline defaults; refuse bounds the timeline cannot observe."""
    if isinstance(spec, RecoveredExpectation):
        if spec.within is None:
            return spec.model_copy(update={"within": timeline.recovery})
        _observable(doc, (*at, "within"), spec.within, ("timeline.recovery", timeline.recovery))
    if isinstance(spec, AlertExpectation) and spec.fires_within is not None:
        limit = ("fault + recovery", timeline.fault + timeline.recovery)
        _observable(doc, (*at, "fires_within"), spec.fires_within, limit)
    return spec


def _observable(doc: Document, at: KeyPath, value: float, limit: tuple[str, float]) -> None:
    what, bound = limit
    if value <= bound + _EPSILON:
        return
    nested = (*at[:-1], "recovered", at[-1])  # `- recovered: {within: ...}` is one level deeper
    place = nested if nested in doc.lines else at
    raise doc.error(
        f"{at[-1]} {format_duration(value)} is longer than {what} ({format_duration(bound)}),"
        " so the run could never observe it",
        place,
    )


def _with_locustfile(doc: Document, scenario: Scenario) -> Scenario:
    if scenario.load is None or scenario.load.locustfile is None:
        return scenario
    base = Path(doc.path).parent
    try:
        path = (base / scenario.load.locustfile).resolve()
        found = path.is_file()
    except (OSError, ValueError):  # NUL bytes, names too long: not a file either way
        path, found = base / scenario.load.locustfile, False
    if not found:
        raise doc.error(f"load.locustfile: no such file {str(path)!r}", ("load", "locustfile"))
    load = scenario.load.model_copy(update={"locustfile": path})
    return scenario.model_copy(update={"load": load})


def _check_environment(
    doc: Document, scenario: Scenario, env: Environment, injectors: Registry[Injector]
) -> None:
    for i, fault in enumerate(scenario.faults):
        injector = injectors.get(fault.injector)
        try:
            target = env.resolve(fault.target, injector)
        except ScenarioError as exc:
            raise doc.error(exc.message, ("faults", i, "target")) from None
        try:
            injector.check_target(fault.params, target)
        except ValueError as exc:
            where = f"target {fault.target!r} ({target.kind})"
            raise doc.error(f"{fault.injector} on {where}: {exc}", ("faults", i)) from None
    for key in ("host", "master"):
        value = getattr(scenario.load, key, None) if scenario.load else None
        host = host_of(value) if value else None
        if host and not env.allows(host):
            allowed = ", ".join(env.allow_hosts)
            at = ("load", key)
            raise doc.error(f"{dotted(at)}: host {host!r} is not in allow_hosts [{allowed}]", at)
