"""The series an alerting rule reads: vector selectors in its PromQL expression.

A rule that found nothing to read cannot fire, so "it stayed silent" means something only
if its inputs existed. :func:`input_selectors` parses the expression with ``promql-parser``
(the Rust parser behind GreptimeDB, through its Python bindings) and returns each vector
selector once, as PromQL text that can be queried on its own (``count(<selector>)``).
Selectors inside ``absent()`` / ``absent_over_time()`` are left out: their absence is the
condition, not a missing input.
"""

from __future__ import annotations

from collections.abc import Iterator

import promql_parser

_ABSENCE = frozenset({"absent", "absent_over_time"})


class PromQLError(ValueError):
    """The expression does not parse."""


def input_selectors(expr: str) -> list[str]:
    """Every vector selector ``expr`` reads (outside absence tests), in order, without repeats."""
    try:
        tree = promql_parser.parse(expr)
    except Exception as exc:  # noqa: BLE001 - the bindings raise plain exceptions
        raise PromQLError(f"cannot parse {expr!r}: {exc}") from None
    seen: dict[str, None] = {}
    for selector in _selectors(tree):
        seen.setdefault(_text(selector), None)
    return list(seen)


def _selectors(node: object) -> Iterator[promql_parser.VectorSelector]:
    if isinstance(node, promql_parser.VectorSelector):
        yield node
        return
    if isinstance(node, promql_parser.Call) and node.func.name in _ABSENCE:
        return
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None:
            yield from _selectors(child)
    for child in getattr(node, "args", None) or ():
        yield from _selectors(child)


def _text(selector: promql_parser.VectorSelector) -> str:
    matchers = [m for m in selector.matchers.matchers if m.name != "__name__" or not selector.name]
    inner = ",".join(f"{m.name}{_op(m)}{_quoted(m.value)}" for m in matchers)
    name = selector.name or ""
    return f"{name}{{{inner}}}" if inner or not name else name


def _op(matcher: promql_parser.Matcher) -> str:
    text = str(matcher.op)
    for token, op in (("NotRe", "!~"), ("Re", "=~"), ("NotEqual", "!="), ("Equal", "=")):
        if token in text:
            return op
    return text


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
