"""One registry per plug-in seam: injectors and verifiers, looked up by name.

Built-ins are registered explicitly from a fixed list of modules, each exporting a tuple
(``INJECTORS`` or ``VERIFIERS``); a listed module that does not exist yet is skipped, but a
module that exists and fails to import is a loud :class:`PluginError`. Third parties add
theirs through entry points (groups ``gameday.injectors`` and ``gameday.verifiers``), loaded
once and checked when loaded: the object must be a concrete subclass of the seam's base, its
name well-formed and equal to the entry point's name, and it may not take a built-in name.
Unknown names fail with :class:`UnknownName`, which lists the known ones.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import metadata
from typing import Any, Generic, TypeVar

from gameday.errors import GameDayError
from gameday.injectors.base import Injector, Param
from gameday.scenario.expectations import BUILTIN_EXPECTATIONS, Expectation
from gameday.scenario.yamlsafe import did_you_mean
from gameday.verifiers.base import Verifier

T = TypeVar("T")

INJECTOR_MODULES = (
    "gameday.injectors.network",
    "gameday.injectors.data",
    "gameday.injectors.process",
    "gameday.injectors.model",
    "gameday.injectors.http",
)
VERIFIER_MODULES = tuple(
    f"gameday.verifiers.{name}"
    for name in ("alerts", "root_cause", "recovery", "slo", "data_quality", "model", "pages")
)
# Names from the public contract: only gameday itself may provide them.
RESERVED_INJECTORS = frozenset(
    [f"network.{n}" for n in ("latency", "down", "timeout", "reset_peer", "bandwidth")]
    + [f"network.{n}" for n in ("slow_close", "slicer", "limit_data")]
    + [f"data.{n}" for n in ("corrupt_batch", "null_column", "drift", "stale")]
    + [f"data.{n}" for n in ("unit_change", "type_change", "duplicate_batch", "empty_batch")]
    + [f"data.{n}" for n in ("label_flip", "concept_drift", "label_delay")]
    + ["data.corrupt_training_batch"]
    + ["model.slow_inference", "model.inference_errors", "network.http_status"]
    + ["process.pause", "process.kill"]
)


class PluginError(GameDayError):
    """A built-in module or a third-party entry point could not be loaded or is malformed."""


class UnknownName(GameDayError, LookupError):
    """A name that no registered plug-in has; the message lists the known names."""

    def __init__(self, seam: str, name: str, known: Sequence[str]) -> None:
        self.seam, self.name, self.known = seam, name, list(known)
        listing = ", ".join(self.known) or "none"
        super().__init__(f"unknown {seam} {name!r}; known: {listing}{did_you_mean(name, known)}")


class Registry(Generic[T]):
    """Plug-in classes of one seam by name: ``registry.get("network.latency")``.

    ``key`` is the class attribute holding the name (``name`` for injectors, ``kind`` for
    verifiers); ``validate`` adds seam-specific checks (it raises ``ValueError``).
    """

    def __init__(
        self,
        seam: str,
        base: type[Any],  # the seam's (abstract) base class
        *,
        key: str,
        pattern: str,
        reserved: Iterable[str] = (),
        validate: Callable[[type[T]], None] | None = None,
    ) -> None:
        self.seam, self.base, self.key = seam, base, key
        self._pattern = re.compile(pattern)
        self._reserved = frozenset(reserved)
        self._validate = validate
        self._classes: dict[str, type[T]] = {}
        self._origins: dict[str, str] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._classes)

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._classes)

    def items(self) -> list[tuple[str, type[T]]]:
        """``(name, class)`` pairs, sorted by name."""
        return [(name, self._classes[name]) for name in self.names()]

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; :class:`UnknownName` (listing known names) if none."""
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownName(self.seam, name, self.names()) from None

    def origin(self, name: str) -> str:
        """Where ``name`` came from: ``built-in module ...`` or ``entry point ... of dist``."""
        return self._origins[name]

    def register(self, obj: Any, *, origin: str, builtin: bool = True) -> type[T]:
        """Check ``obj`` and add it; raise :class:`PluginError` saying what is wrong with it."""
        name = self._checked_name(obj, origin)
        if name in self._classes:
            raise PluginError(
                f"{self.seam} {name!r} from {origin} clashes with the one "
                f"from {self._origins[name]}"
            )
        if not builtin and name in self._reserved:
            raise PluginError(f"{origin}: {self.seam} name {name!r} is reserved for gameday")
        self._classes[name] = obj
        self._origins[name] = origin
        return obj

    def _checked_name(self, obj: Any, origin: str) -> str:
        if not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise PluginError(f"{origin}: {obj!r} is not a subclass of {_qualname(self.base)}")
        if inspect.isabstract(obj):
            missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
            raise PluginError(f"{origin}: {obj.__name__} is abstract (implement {missing})")
        name = getattr(obj, self.key, None)
        if not isinstance(name, str) or not self._pattern.match(name):
            raise PluginError(
                f"{origin}: {obj.__name__}.{self.key} = {name!r} "
                f"does not match {self._pattern.pattern}"
            )
        if self._validate is not None:
            try:
                self._validate(obj)
            except ValueError as exc:
                raise PluginError(f"{origin}: {obj.__name__}: {exc}") from None
        return name

    def register_modules(self, modules: Iterable[str], attr: str) -> None:
        """Register the ``attr`` tuple of every built-in module that exists."""
        for module_name in modules:
            module = _import_if_present(module_name)
            if module is None:
                continue
            classes = getattr(module, attr, None)
            if not isinstance(classes, tuple | list):
                raise PluginError(f"built-in module {module_name} must export {attr} (a tuple)")
            for cls in classes:
                self.register(cls, origin=f"built-in module {module_name}")

    def register_entry_points(self, entry_points: Iterable[metadata.EntryPoint]) -> None:
        """Load and register third-party plug-ins; each entry point is named like its plug-in."""
        for ep in sorted(entry_points, key=lambda e: e.name):
            dist = getattr(getattr(ep, "dist", None), "name", None)
            origin = f"entry point {ep.name!r} ({ep.value}" + (f", from {dist})" if dist else ")")
            obj = _load_entry_point(ep, origin)
            name = self._checked_name(obj, origin)
            if name != ep.name:
                raise PluginError(
                    f"{origin}: the entry point name must equal "
                    f"{obj.__name__}.{self.key} ({name!r})"
                )
            self.register(obj, origin=origin, builtin=False)


def _load_entry_point(ep: metadata.EntryPoint, origin: str) -> Any:
    try:
        return ep.load()
    except Exception as exc:  # any failure inside a plug-in is reported as the plug-in's fault
        raise PluginError(f"{origin} failed to load: {type(exc).__name__}: {exc}") from exc


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _import_if_present(module_name: str) -> Any:
    """The module, or None if it does not exist; an error *inside* an existing module propagates."""
    if importlib.util.find_spec(module_name) is None:
        return None
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise PluginError(f"built-in module {module_name} failed to import: {exc!r}") from exc


def _entry_points(group: str) -> Iterable[metadata.EntryPoint]:
    """Installed entry points of ``group`` (tests monkeypatch this)."""
    return metadata.entry_points(group=group)


def _validate_injector(cls: type[Injector]) -> None:
    if not isinstance(cls.params, tuple) or not all(isinstance(p, Param) for p in cls.params):
        raise ValueError("params must be a tuple of gameday.injectors.base.Param")
    kinds = cls.target_kinds
    if not isinstance(kinds, tuple) or not all(isinstance(k, str) for k in kinds):
        raise ValueError("target_kinds must be a tuple of strings")


def _validate_verifier(cls: type[Verifier]) -> None:
    spec = getattr(cls, "spec", None)
    if not (isinstance(spec, type) and issubclass(spec, Expectation)):
        raise ValueError("spec must be a subclass of gameday.scenario.expectations.Expectation")
    if spec.kind != cls.kind:
        raise ValueError(f"spec {spec.__name__}.kind is {spec.kind!r}, not {cls.kind!r}")
    builtin = BUILTIN_EXPECTATIONS.get(cls.kind)
    if builtin is not None and not issubclass(spec, builtin):
        raise ValueError(f"the spec of the built-in kind {cls.kind!r} must be {builtin.__name__}")


def load_injectors(
    modules: Iterable[str] | None = None,
    entry_points: Iterable[metadata.EntryPoint] | None = None,
) -> Registry[Injector]:
    """A fresh injector registry: built-in ``modules``, then ``gameday.injectors`` entry points.

    ``modules`` defaults to :data:`INJECTOR_MODULES`, ``entry_points`` to the installed ones.
    """
    registry: Registry[Injector] = Registry(
        "injector",
        Injector,
        key="name",
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
        reserved=RESERVED_INJECTORS,
        validate=_validate_injector,
    )
    registry.register_modules(INJECTOR_MODULES if modules is None else modules, "INJECTORS")
    eps = _entry_points("gameday.injectors") if entry_points is None else entry_points
    registry.register_entry_points(eps)
    return registry


def load_verifiers(
    modules: Iterable[str] | None = None,
    entry_points: Iterable[metadata.EntryPoint] | None = None,
) -> Registry[Verifier]:
    """A fresh verifier registry: built-in ``modules``, then ``gameday.verifiers`` entry points.

    ``modules`` defaults to :data:`VERIFIER_MODULES`, ``entry_points`` to the installed ones.
    """
    registry: Registry[Verifier] = Registry(
        "expectation kind",
        Verifier,
        key="kind",
        pattern=r"^[a-z][a-z0-9_]*$",
        reserved=BUILTIN_EXPECTATIONS,
        validate=_validate_verifier,
    )
    registry.register_modules(VERIFIER_MODULES if modules is None else modules, "VERIFIERS")
    eps = _entry_points("gameday.verifiers") if entry_points is None else entry_points
    registry.register_entry_points(eps)
    return registry


@functools.cache
def injectors() -> Registry[Injector]:
    """The process-wide injector registry, loaded once (``injectors.cache_clear()`` resets it)."""
    return load_injectors()


@functools.cache
def verifiers() -> Registry[Verifier]:
    """The process-wide verifier registry, loaded once (``verifiers.cache_clear()`` resets it)."""
    return load_verifiers()
