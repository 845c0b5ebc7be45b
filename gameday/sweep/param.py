"""The swept parameter: which fault's numeric param, its range, and the scenario at a magnitude.

``--param fraction`` names the param of the one fault that has it; ``--param
faults[1].params.fraction`` picks a fault (indices from 0, as error messages count) when
several have it. Magnitudes run from ``--from`` (mild) to ``--to`` (severe), either way up,
on a log scale when both ends have one sign and are 4x or more apart, else linearly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from gameday.errors import ScenarioError
from gameday.scenario.environment import Environment
from gameday.scenario.model import Scenario, scenario_document, scenario_from_document
from gameday.scenario.yamlsafe import Document, Location, load_file

_QUALIFIED = re.compile(r"faults\[(\d+)\]\.params\.([A-Za-z_][A-Za-z0-9_]*)")
LOG_RATIO = 4.0  # a range this wide or wider (same sign) is searched in log space


@dataclass(frozen=True)
class Param:
    """A numeric param of one fault: ``faults[fault].params.name``."""

    fault: int
    name: str

    @property
    def path(self) -> str:
        return f"faults[{self.fault}].params.{self.name}"


@dataclass(frozen=True)
class Span:
    """The magnitudes searched, from ``start`` (mild) to ``stop`` (severe)."""

    start: float
    stop: float
    scale: Literal["log", "linear"]

    @classmethod
    def between(cls, start: float, stop: float) -> Span:
        """The span from ``start`` to ``stop``, log-scaled when that suits it."""
        if start == stop or not (math.isfinite(start) and math.isfinite(stop)):
            raise ScenarioError(f"--from and --to must be two different numbers: {start}, {stop}")
        same_sign = start * stop > 0
        wide = same_sign and max(abs(start), abs(stop)) / min(abs(start), abs(stop)) >= LOG_RATIO
        return cls(start, stop, "log" if wide else "linear")

    def severity(self, magnitude: float) -> float:
        """Where ``magnitude`` lies between mild (0) and severe (1)."""
        if self.scale == "log":
            return math.log(magnitude / self.start) / math.log(self.stop / self.start)
        return (magnitude - self.start) / (self.stop - self.start)

    def at(self, severity: float) -> float:
        """The magnitude at ``severity`` (0 mild, 1 severe), rounded to 3 significant digits."""
        if self.scale == "log":
            value = self.start * (self.stop / self.start) ** severity
        else:
            value = self.start + (self.stop - self.start) * severity
        return float(f"{value:.3g}")


def parse_path(text: str) -> Param | None:
    """``faults[I].params.NAME`` as a :class:`Param`, or ``None``."""
    found = _QUALIFIED.fullmatch(text)
    return Param(int(found.group(1)), found.group(2)) if found else None


def find_param(scenario: Scenario, spec: str) -> Param:
    """The param ``spec`` names in ``scenario`` (a ScenarioError saying what is possible)."""
    where = str(scenario.source or scenario.name)
    numeric = [
        (i, name)
        for i, fault in enumerate(scenario.faults)
        for name, value in fault.params.items()
        if _is_number(value)
    ]
    offered = ", ".join(Param(i, n).path for i, n in numeric) or "none"
    param = parse_path(spec)
    if param is not None:
        if (param.fault, param.name) not in numeric:
            raise ScenarioError(f"{where}: --param {spec}: no such numeric param; have {offered}")
        return param
    having = [i for i, name in numeric if name == spec]
    if not having:
        raise ScenarioError(
            f"{where}: --param {spec}: no fault has a numeric {spec!r}; have {offered}"
        )
    if len(having) > 1:
        choices = ", ".join(Param(i, spec).path for i in having)
        raise ScenarioError(f"{where}: --param {spec}: several faults have it: {choices}")
    return Param(having[0], spec)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def at_magnitude(
    scenario: Scenario, param: Param, value: float, environment: Environment | None = None
) -> Scenario:
    """``scenario`` with ``param`` set to ``value``, checked by the injector as a file would be
    (a ScenarioError naming the flag when the injector refuses the value)."""
    document = scenario_document(scenario)
    original = scenario.faults[param.fault].params[param.name]
    number: float | int = int(value) if isinstance(original, int) and value == int(value) else value
    document["faults"][param.fault]["params"][param.name] = number
    where = f"{scenario.source or scenario.name} with {param.path}={value:g}"
    try:
        variant = scenario_from_document(Document(where, document), environment=environment)
    except ScenarioError as exc:
        place = _written_at(scenario, param)
        raise ScenarioError(
            f"{param.path}={value:g}: {exc.message}",
            scenario.source or scenario.name,
            place.line if place else None,
        ) from None
    if variant.load is not None and scenario.load is not None and scenario.load.locustfile:
        load = variant.load.model_copy(update={"locustfile": scenario.load.locustfile})
        variant = variant.model_copy(update={"load": load})
    return variant.located(scenario.location) if scenario.location else variant


def _written_at(scenario: Scenario, param: Param) -> Location | None:
    """Where ``param`` is written in the scenario's file (its fault's line when the file is gone
    or no longer reads)."""
    fault = scenario.faults[param.fault].location
    if scenario.source is None or not scenario.source.is_file():
        return fault
    try:
        document = load_file(scenario.source)
    except (ScenarioError, OSError):
        return fault
    return document.location(("faults", param.fault, "params", param.name))


def magnitude_in(document: object, param: Param) -> float | None:
    """The value of ``param`` in a scenario document (what a probe's bundle kept)."""
    try:
        value = document["faults"][param.fault]["params"][param.name]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None
    return float(value) if _is_number(value) else None
