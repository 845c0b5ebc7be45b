"""Safe YAML that remembers where every value came from.

Scenario and environment files are read with ``yaml.compose`` (the safe loader's composer)
and converted to plain Python values by this module, so every mapping key and sequence item
keeps its source line (1-based), addressable by its path: ``("faults", 0, "params")``.

Refused, always as a :class:`~gameday.errors.ScenarioError` with the file and line:
explicit tags other than the standard ones (``!!python/object``, ``!foo``, ``!!binary``,
``!!set`` ...), duplicate keys, files over 1 MiB, nesting deeper than 32, non-string keys,
bytes that are not UTF-8, YAML syntax errors, and more than 100,000 nodes in total.

Aliases (``&anchor`` / ``*anchor``) and merge keys (``<<: *defaults``) are allowed because
they keep long catalogues readable; the node cap counts nodes *after* alias expansion, which
is what defuses "billion laughs" documents (each alias reference is expanded and counted).
Timestamps stay the text they were written as: no scenario key wants a ``datetime``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from gameday.errors import ScenarioError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 100_000

Key = str | int
KeyPath = tuple[Key, ...]

_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_T}{name}" for name in ("null", "bool", "int", "float", "str", "timestamp")}
_MERGE = f"{_T}merge"
_SEQ, _MAP, _STR, _TIMESTAMP = f"{_T}seq", f"{_T}map", f"{_T}str", f"{_T}timestamp"
_M = TypeVar("_M", bound=BaseModel)
_WHOLE: Any = object()  # "validate what is at the path", as opposed to data given explicitly


@dataclass(frozen=True)
class Location:
    """A place in a source file: ``path`` and a 1-based ``line`` (None when not known)."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


class FileModel(BaseModel):
    """Base of every model read from a file: frozen, unknown keys refused, no NaN or infinity.

    It remembers where it was written (``location``), for messages and reports; the loader
    sets that with :meth:`located`, never the file itself.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", allow_inf_nan=False, protected_namespaces=()
    )
    _location: Location | None = PrivateAttr(default=None)

    @property
    def location(self) -> Location | None:
        """Where this item was written, when it came from a file."""
        return self._location

    def located(self, location: Location) -> Self:
        """A copy of this model that remembers ``location``."""
        copy = self.model_copy()
        copy._location = location
        return copy


@dataclass(frozen=True)
class Document:
    """A YAML document as plain data (dict / list / str / int / float / bool / None) plus lines.

    ``lines`` maps the path of every mapping key and sequence item to its 1-based line.
    """

    path: str
    data: Any
    lines: Mapping[KeyPath, int] = field(default_factory=dict)

    def line(self, at: Sequence[Key] = ()) -> int:
        """Line of ``at``, or of its nearest ancestor that has one; 1 for the document itself."""
        at = tuple(at)
        while at:
            if at in self.lines:
                return self.lines[at]
            at = at[:-1]
        return self.lines.get((), 1)

    def location(self, at: Sequence[Key] = ()) -> Location:
        """Where ``at`` sits in the file."""
        return Location(self.path, self.line(at))

    def error(self, message: str, at: Sequence[Key] = ()) -> ScenarioError:
        """A :class:`ScenarioError` for ``at`` (the caller raises it)."""
        return ScenarioError(message, self.path, self.line(at))

    def validate(self, model: type[_M], at: Sequence[Key] = (), data: Any = _WHOLE) -> _M:
        """Validate the value at ``at`` (or ``data`` standing for it) as ``model``.

        The first problem becomes a :class:`ScenarioError` at its own line, naming the key and
        what is allowed there (unknown keys list the allowed ones, with a "did you mean").
        """
        value = self.get(at) if data is _WHOLE else data
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise self._translate(model, tuple(at), value, exc.errors()[0]) from None

    def _translate(
        self, model: type[BaseModel], at: KeyPath, value: Any, err: Any
    ) -> ScenarioError:
        rel = _data_path(value, err["loc"])
        where = (*at, *rel)
        if err["type"] in ("extra_forbidden", "missing") and rel:
            key, parent = str(rel[-1]), dotted(where[:-1])
            if err["type"] == "missing":
                return self.error(f"missing required key {key!r}{_in(parent)}", where[:-1])
            allowed = _fields_at(model, rel[:-1])
            return self.error(unknown_key_message(key, allowed, parent), where)
        message = _clean(err["msg"])
        if err["type"] in ("model_type", "dict_type"):
            message = f"expected a mapping of keys; got {_kind(err.get('input'))}"
        elif not isinstance(err.get("input"), dict | list) and "got " not in message:
            message += f"; got {short(err.get('input'))}"
        return self.error(f"{dotted(where) or 'value'}: {message}", where)

    def get(self, at: Sequence[Key], default: Any = None) -> Any:
        """The value at ``at``, or ``default`` when the path does not exist."""
        value = self.data
        for key in at:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                return default
        return value


def dotted(at: Sequence[Key]) -> str:
    """``("faults", 0, "params")`` → ``faults[0].params`` (how messages name a place)."""
    out = ""
    for key in at:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def unknown_key_message(key: str, allowed: Sequence[str], where: str = "") -> str:
    """``unknown key 'tagz' in timeline; allowed: a, b (did you mean 'tags'?)``."""
    hint = did_you_mean(key, allowed)
    return f"unknown key {key!r}{_in(where)}; allowed: {', '.join(allowed)}{hint}"


def did_you_mean(word: str, choices: Sequence[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, so one bad value cannot flood a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _in(where: str) -> str:
    return f" in {where}" if where else ""


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _clean(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    # Say it in YAML's words: a file has lists and mappings, not tuples and dictionaries.
    return message.replace("a valid tuple", "a list").replace("a valid dictionary", "a mapping")


def _data_path(value: Any, loc: Sequence[Any]) -> KeyPath:
    """Keep the parts of a pydantic ``loc`` that address data (drop union member tags)."""
    out: list[Key] = []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(value, dict) and (part in value or last) and isinstance(part, str):
            out.append(part)
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            out.append(part)
            value = value[part]
    return tuple(out)


def _fields_at(model: Any, keys: Sequence[Key]) -> list[str]:
    """Field names of the (nested) model that ``keys`` lead to inside ``model``."""
    for key in keys:
        if isinstance(key, str):
            field_info = model.model_fields.get(key) if _is_model(model) else None
            model = _find_model(field_info.annotation) if field_info else None
    return list(model.model_fields) if _is_model(model) else []


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if _is_model(annotation):
        return annotation
    for arg in get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def load_file(path: str | Path) -> Document:
    """Read and convert one YAML file; every failure is a :class:`ScenarioError` naming it."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ScenarioError("is a folder, not a YAML file", path)
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ScenarioError(f"file is {size} bytes; the limit is {MAX_BYTES} (1 MiB)", path)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError("no such file", path) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror or exc}", path) from None
    return load_text(raw, path)


def load_text(text: str | bytes, path: str | Path = "<string>") -> Document:
    """Convert YAML ``text`` (bytes must be UTF-8) as if it were the file ``path``."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if len(raw) > MAX_BYTES:
        raise ScenarioError(f"file is {len(raw)} bytes; the limit is {MAX_BYTES} (1 MiB)", path)
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ScenarioError("file is not UTF-8 text", path, line) from None
    node = _compose(decoded, str(path))
    return _Converter(str(path)).document(node)


class _DepthLimitedLoader(yaml.SafeLoader):
    """The safe loader whose composer refuses nesting deeper than MAX_DEPTH.

    PyYAML's composer recurses once per level, so a 1 MiB ``[[[[...`` would otherwise end in
    RecursionError before any of our checks run.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _TooDeepError(mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _TooDeepError(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _compose(text: str, path: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_DepthLimitedLoader)
    except _TooDeepError as exc:
        raise ScenarioError(f"nesting deeper than {MAX_DEPTH} levels", path, exc.line) from None
    except yaml.MarkedYAMLError as exc:
        raise ScenarioError(_syntax_message(exc), path, _mark_line(exc)) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"character U+{char:04X} is not allowed in YAML"
        raise ScenarioError(message, path, line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"invalid YAML: {exc}", path, 1) from None


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    return "invalid YAML: " + ("; ".join(parts) or "syntax error")


def _mark_line(exc: yaml.MarkedYAMLError) -> int:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else 1


def _tag_text(tag: str) -> str:
    return "!!" + tag[len(_T) :] if tag.startswith(_T) else tag


class _Converter:
    """Nodes → plain values, recording lines; one instance per document (it counts nodes)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[KeyPath, int] = {}
        self.nodes = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def document(self, node: yaml.Node | None) -> Document:
        if node is None:
            return Document(self.path, None, {(): 1})
        self.lines[()] = node.start_mark.line + 1
        return Document(self.path, self.value(node, (), 0), self.lines)

    def fail(self, message: str, node: yaml.Node) -> ScenarioError:
        return ScenarioError(message, self.path, node.start_mark.line + 1)

    def value(self, node: yaml.Node, at: KeyPath, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(f"more than {MAX_NODES} values (after expanding aliases)", node)
        if depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels (a recursive alias?)", node)
        if isinstance(node, yaml.MappingNode):
            self.expect_tag(node, _MAP)
            return self.mapping(node, at, depth)
        if isinstance(node, yaml.SequenceNode):
            self.expect_tag(node, _SEQ)
            return [self.item(child, (*at, i), depth) for i, child in enumerate(node.value)]
        return self.scalar(node)

    def item(self, node: yaml.Node, at: KeyPath, depth: int) -> Any:
        self.lines[at] = node.start_mark.line + 1
        return self.value(node, at, depth + 1)

    def expect_tag(self, node: yaml.Node, tag: str) -> None:
        if node.tag != tag:
            raise self.fail(f"tags are not allowed (found {_tag_text(node.tag)!r})", node)

    def scalar(self, node: yaml.Node) -> Any:
        tag = node.tag
        if tag in (_STR, _TIMESTAMP, _MERGE):
            return node.value
        if tag not in _SCALAR_TAGS:
            raise self.fail(f"tags are not allowed (found {_tag_text(tag)!r})", node)
        name = tag[len(_T) :]
        try:
            return getattr(self.constructor, f"construct_yaml_{name}")(node)
        except (ValueError, KeyError, TypeError):
            raise self.fail(f"{short(node.value)} is not a valid {name}", node) from None

    def mapping(self, node: yaml.MappingNode, at: KeyPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE and isinstance(key_node, yaml.ScalarNode):
                merges.append(value_node)
                continue
            key = self.key(key_node)
            if key in out:
                first = self.lines[(*at, key)]
                raise self.fail(f"duplicate key {key!r} (first at line {first})", key_node)
            self.lines[(*at, key)] = key_node.start_mark.line + 1
            out[key] = self.value(value_node, (*at, key), depth + 1)
        for source in merges:
            self.merge(out, source, at, depth)
        return out

    def key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail("keys must be strings, not lists or mappings", node)
        value = self.scalar(node)
        if not isinstance(value, str):
            # YAML 1.1 reads on/off/yes/no as booleans and 1 as a number: say how to keep text.
            text = short(node.value)
            raise self.fail(f"key {text} must be a string (quote it: {text})", node)
        return value

    def merge(self, out: dict[str, Any], source: yaml.Node, at: KeyPath, depth: int) -> None:
        """``<<: *a`` or ``<<: [*a, *b]``: add keys not written explicitly (earlier sources win)."""
        sources = source.value if isinstance(source, yaml.SequenceNode) else [source]
        for mapping_node in sources:
            if not isinstance(mapping_node, yaml.MappingNode):
                raise self.fail("'<<' (merge) takes a mapping or a list of mappings", mapping_node)
            self.expect_tag(mapping_node, _MAP)
            # Convert into a scratch line table, then keep only the lines of keys that won.
            saved, self.lines = self.lines, {}
            try:
                merged = self.mapping(mapping_node, at, depth)
            finally:
                scratch, self.lines = self.lines, saved
            won = {key for key in merged if key not in out}
            out.update({key: merged[key] for key in won})
            depth_at = len(at)
            self.lines.update(
                {p: line for p, line in scratch.items() if len(p) > depth_at and p[depth_at] in won}
            )
