"""The JSON Schema of scenario files (``gameday schema``), generated from the model.

The shape of every key comes from the pydantic models in :mod:`gameday.scenario.model` and
:mod:`gameday.scenario.expectations` (``additionalProperties: false`` wherever the loader refuses
unknown keys; durations as a string pattern or a number). Two parts depend on what is
installed and are added here: ``expect`` items, one alternative per expectation kind (built-in
and from verifier plug-ins), and fault ``params``, tied to the injector name by one
``if``/``then`` per registered injector so an editor checks params as the loader does.
Cross-key rules the schema cannot state (a fault ending after the fault phase) stay with the
loader.
"""

from __future__ import annotations

from typing import Any

from gameday.injectors.base import Injector
from gameday.registry import Registry
from gameday.registry import injectors as _default_injectors
from gameday.registry import verifiers as _default_verifiers
from gameday.scenario.expectations import Expectation
from gameday.scenario.model import Scenario, expectation_kinds
from gameday.verifiers.base import Verifier

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_REF = "#/$defs/{model}"


def scenario_schema(
    registry: Registry[Injector] | None = None, verifiers: Registry[Verifier] | None = None
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file for the installed plug-ins.

    ``registry`` / ``verifiers`` default to the process-wide registries.
    """
    injectors = registry if registry is not None else _default_injectors()
    kinds = expectation_kinds(verifiers if verifiers is not None else _default_verifiers())
    schema = Scenario.model_json_schema(ref_template=_REF)
    defs = schema.setdefault("$defs", {})
    defs.pop("Expectation", None)  # the base class: replaced by one alternative per kind
    schema["properties"]["expect"] = {
        "type": "array",
        "description": "one check per item, introduced by its kind (at least one)",
        "minItems": 1,
        "items": {"anyOf": [_expect_item(kind, model, defs) for kind, model in kinds.items()]},
    }
    # the loader refuses a scenario with nothing to check
    schema["required"] = [*schema.get("required", []), "expect"]
    defs["Fault"] = _fault_schema(defs["Fault"], injectors)
    return {"$schema": DIALECT, **schema, "title": "gameday scenario"}


def _expect_item(kind: str, model: type[Expectation], defs: dict[str, Any]) -> dict[str, Any]:
    """``{kind: spec}`` (nested form), or the spec itself if it has a field named ``kind``."""
    spec = model.model_json_schema(ref_template=_REF)
    defs.update(spec.pop("$defs", {}))
    defs[model.__name__] = spec
    ref = {"$ref": _REF.format(model=model.__name__)}
    nested = {
        "type": "object",
        "properties": {kind: ref},
        "required": [kind],
        "additionalProperties": False,
    }
    if kind in model.model_fields:
        return {"anyOf": [nested, ref]}
    return nested


def _fault_schema(fault: dict[str, Any], injectors: Registry[Injector]) -> dict[str, Any]:
    fault = dict(fault)
    names = injectors.names()
    if names:
        fault["properties"] = {**fault["properties"], "injector": {"type": "string", "enum": names}}
    fault["allOf"] = [_params_when(name, cls) for name, cls in injectors.items()]
    return fault


def _params_when(name: str, injector: type[Injector]) -> dict[str, Any]:
    """``if injector == name then params must match its declared params``."""
    required = [p.name for p in injector.params if p.required]
    params: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: p.json_schema() for p in injector.params},
        "additionalProperties": False,
    }
    then: dict[str, Any] = {"properties": {"params": params}}
    if required:
        params["required"] = required
        then["required"] = ["params"]
    return {
        "if": {"properties": {"injector": {"const": name}}, "required": ["injector"]},
        "then": then,
    }
