"""Alertmanager's label matchers (``pkg/labels`` of Alertmanager 0.25) and a three-valued answer.

A matcher is ``name op value`` with ``op`` one of ``=``, ``!=``, ``=~``, ``!~``; a missing label
has the empty value, and a regex must match the whole value. :func:`parse_matchers` reads one
item of a ``matchers:`` list exactly as ``labels.ParseMatchers`` does; the UTF-8 label names and
quoting of Alertmanager 0.27+ are not read. :meth:`Matcher.evaluate` answers with :class:`Tri`
when the value of the label may be unknown.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Final, Literal, cast

from gameday.alerting.goregex import UnreadableRegex, compile_go_regex
from gameday.errors import ScenarioError

Labels = Mapping[str, str]
Op = Literal["=", "!=", "=~", "!~"]
OPS: Final[tuple[Op, ...]] = ("=", "!=", "=~", "!~")


class RoutingConfigError(ScenarioError):
    """An Alertmanager configuration Alertmanager would refuse (or gameday cannot read).

    The message starts with where: ``route.routes[1].matchers[0]: bad matcher format: ...``; read
    from a file, ``str(error)`` also carries the file and line.
    """


class Tri(enum.Enum):
    """A three-valued answer (Kleene logic): ``NO``, ``MAYBE`` or ``YES``; ``&``, ``|``, ``~``."""

    NO = 0
    MAYBE = 1
    YES = 2

    @classmethod
    def of(cls, flag: bool) -> Tri:
        """``YES`` for true, ``NO`` for false."""
        return cls.YES if flag else cls.NO

    @classmethod
    def all_of(cls, answers: Iterable[Tri]) -> Tri:
        """The conjunction: ``YES`` for no answers."""
        return reduce(cls.__and__, answers, cls.YES)

    @classmethod
    def any_of(cls, answers: Iterable[Tri]) -> Tri:
        """The disjunction: ``NO`` for no answers."""
        return reduce(cls.__or__, answers, cls.NO)

    def __and__(self, other: Tri) -> Tri:
        return Tri(min(self.value, other.value))

    def __or__(self, other: Tri) -> Tri:
        return Tri(max(self.value, other.value))

    def __invert__(self) -> Tri:
        return Tri(2 - self.value)


# pkg/labels/parse.go; Go's \s is [\t\n\f\r ] and its $ (without (?m)) is the end of the text.
_WS = r"[\t\n\f\r ]"
_MATCHER = re.compile(
    rf"{_WS}*([a-zA-Z_:][a-zA-Z0-9_:]*){_WS}*(=~|=|!=|!~){_WS}*(.*?){_WS}*\Z", re.S
)
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


def is_label_name(name: str) -> bool:
    """Whether ``name`` is a valid Prometheus label name (``[a-zA-Z_][a-zA-Z0-9_]*``)."""
    return _LABEL_NAME.match(name) is not None


@dataclass(frozen=True)
class Matcher:
    """``name op value`` as Alertmanager matches it: a missing label is the empty string.

    ``=~`` and ``!~`` match the whole value (``^(?:value)$``). An invalid regex raises
    :class:`RoutingConfigError`.
    """

    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise RoutingConfigError(f"unknown matcher operator {self.op!r}; known: {OPS}")
        if self.op in ("=~", "!~"):
            try:
                regex = compile_go_regex(self.value)
            except UnreadableRegex as exc:
                message = f"invalid regular expression {self.value!r}: {exc}"
                raise RoutingConfigError(message) from None
            object.__setattr__(self, "_regex", regex)

    def matches(self, labels: Labels) -> bool:
        """Whether the alert with ``labels`` satisfies this matcher."""
        return self.test(labels.get(self.name, ""))

    def test(self, value: str) -> bool:
        """Whether a label value satisfies this matcher (``""`` for a missing label)."""
        if self._regex is not None:
            return (self._regex.fullmatch(value) is not None) == (self.op == "=~")
        return (value == self.value) == (self.op == "=")

    def evaluate(self, labels: Labels, known: Collection[str] = ()) -> Tri:
        """Whether an alert of which only some labels are known satisfies this matcher.

        A label is known when it is in ``labels``, or in ``known`` (then absent when it is not in
        ``labels``); a matcher on any other label answers ``MAYBE``.
        """
        if self.name not in labels and self.name not in known:
            return Tri.MAYBE
        return Tri.of(self.matches(labels))

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """One matcher in the ``matchers:`` syntax: ``foo="bar"``, ``foo=~"a|b"``, ``foo!=bar``.

    Quotes are optional; inside them ``\\"``, ``\\\\`` and ``\\n`` are escapes.
    """
    found = _MATCHER.match(text)
    if found is None:
        raise RoutingConfigError(f"bad matcher format: {text}")
    name, op, raw = found.groups()
    return Matcher(name, cast(Op, op), _unquote(raw))


def _unquote(raw: str) -> str:
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        if char == '"':
            if not quoted or i < len(body) - 1:
                raise RoutingConfigError(f"matcher value contains unescaped double quote: {raw}")
            quoted = False
        else:
            out.append(char)
        i += 1
    if quoted:
        raise RoutingConfigError(f"matcher value contains unescaped double quote: {raw}")
    return "".join(out)


def parse_matchers(text: str) -> list[Matcher]:
    """One ``matchers:`` list item: matchers separated by commas outside quotes, ``{}`` optional.

    ``'{severity="page", team=~"a|b"}'`` gives two matchers; an empty item gives none.
    """
    return [parse_matcher(token) for token in _split_matchers(text)]


def _split_matchers(text: str) -> list[str]:
    text = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside = escaped = False
    for char in text:
        if char == "," and not inside:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            inside, escaped = (inside, False) if escaped else (not inside, False)
        elif char == "\\":
            escaped = not escaped
        elif char != ",":
            escaped = False
        token.append(char)
    last = "".join(token).strip()
    return [*tokens, last] if last else tokens
