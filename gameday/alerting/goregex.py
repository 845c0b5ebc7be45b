"""Go's regular expressions (RE2 syntax, as Alertmanager compiles them) run by Python's ``re``.

One pass over the pattern rewrites what the two read differently and refuses what cannot be
rewritten faithfully:

- ``$`` (without ``(?m)``) and ``\\z`` are the end of the text: ``\\Z`` in Python, whose ``$`` also
  matches before a final newline. ``\\d \\w \\s \\b`` are ASCII in Go: compiled with ``re.ASCII``
  (which also makes ``(?i)`` fold ASCII only; Go folds Unicode, and Go's ``\\s`` has no ``\\v``).
- A flag group ``(?i)`` applies to the end of its enclosing group in Go and must come first in
  Python: rewritten as a scoped group ``(?i:...)`` when it starts a group or an alternative,
  refused in the middle of a sequence (``a(?i)b``), where no faithful rewrite exists.
- ``[[:alpha:]]`` and the other POSIX classes are spelled out; ``{,n}`` is literal text in Go.
- Go-only syntax is refused: ``\\pL``, ``\\Q...\\E``, ``\\x{...}``, ``\\C``, negated POSIX classes,
  the ungreedy flag ``U``.
- What Go refuses is refused: look-around, back-references, ``(?#...)``, ``(?x)``, possessive and
  nested repetitions (``a*+``, ``a**``). Repetition counts over 1000, which Go refuses, pass.
"""

from __future__ import annotations

import re

_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_GO_ONLY_ESCAPES = "pPQECzx"
_FLAG_GROUP = re.compile(r"\(\?([imsU]+(?:-[imsU]*)?|-[imsU]+)(\)|:)")
_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z0-9_]+>")


def compile_go_regex(value: str) -> re.Pattern[str]:
    """``value`` (Go RE2 syntax) as a Python pattern; use ``fullmatch`` to anchor it as Go does.

    Raises :class:`UnreadableRegex` for a regex Go refuses or gameday cannot translate.
    """
    try:
        return re.compile(f"(?:{_GoRegex(value).python()})", re.ASCII)
    except re.error as exc:
        raise UnreadableRegex(str(exc)) from None


class UnreadableRegex(ValueError):
    """A regex Alertmanager refuses, or one gameday cannot translate faithfully."""


class _GoRegex:
    """Translate RE2 syntax to Python's: one pass over the text, tracking classes and groups."""

    def __init__(self, text: str) -> None:
        self.text, self.i, self.out = text, 0, [""]
        self.pending = [0]  # per open group: scoped-flag groups to close with it
        self.multiline = [False]

    def python(self) -> str:
        while self.i < len(self.text):
            self.step()
        self.out.append(")" * self.pending[0])
        return "".join(self.out)

    def step(self) -> None:
        char = self.text[self.i]
        if char == "\\":
            self.escape()
        elif char == "[":
            self.char_class()
        elif char == "(":
            self.group()
        elif char == ")":
            self.close_group()
        elif char == "$":
            self.emit("$" if self.multiline[-1] else r"\Z", 1)
        elif char == "{" and self.text.startswith("{,", self.i):
            self.emit("\\{", 1)  # Go reads "{,n}" as literal text, Python as a repetition
        elif char in "*+?" and self.text[self.i + 1 : self.i + 2] in ("+", "*"):
            raise UnreadableRegex("invalid nested repetition operator")
        else:
            self.emit(char, 1)

    def emit(self, text: str, consumed: int) -> None:
        self.out.append(text)
        self.i += consumed

    def escape(self) -> None:
        nxt = self.text[self.i + 1 : self.i + 2]
        if nxt.isdigit() and nxt != "0":
            raise UnreadableRegex("back-references are not supported")
        if nxt in ("Z", "u", "U", "N", "g"):
            raise UnreadableRegex(f"invalid escape sequence \\{nxt}")
        if nxt and nxt in _GO_ONLY_ESCAPES:
            if nxt == "z":
                self.emit(r"\Z", 2)
                return
            if nxt == "x" and self.text[self.i + 2 : self.i + 3] != "{":
                self.emit(self.text[self.i : self.i + 4], 4)
                return
            raise UnreadableRegex(f"\\{nxt} is Go syntax gameday cannot translate")
        self.emit(self.text[self.i : self.i + 2], 2)

    def char_class(self) -> None:
        start = self.i
        self.i += 1
        parts = ["["]
        if self.text.startswith("^", self.i):
            parts.append("^")
            self.i += 1
        first = True
        while self.i < len(self.text) and (first or self.text[self.i] != "]"):
            parts.append(self.class_item())
            first = False
        if self.i >= len(self.text):
            raise UnreadableRegex(f"missing closing ]: {self.text[start:]}")
        self.i += 1
        self.out.append("".join(parts) + "]")

    def class_item(self) -> str:
        char = self.text[self.i]
        posix = re.match(r"\[:(\^?)([a-z]+):\]", self.text[self.i :])
        if posix:
            if posix.group(1) or posix.group(2) not in _POSIX:
                raise UnreadableRegex(
                    f"class {posix.group(0)} is Go syntax gameday cannot translate"
                )
            self.i += posix.end()
            return _POSIX[posix.group(2)]
        if char == "\\":
            before = len(self.out)
            self.escape()
            return self.out.pop() if len(self.out) > before else ""
        self.i += 1
        return "\\" + char if char in "[&~|" else char

    def group(self) -> None:
        if not self.text.startswith("(?", self.i):
            self.open_group("(", 1, "")
            return
        named = _NAMED_GROUP.match(self.text, self.i)
        if named or self.text.startswith("(?:", self.i):
            consumed = named.end() - self.i if named else 3
            self.open_group(self.text[self.i : self.i + consumed], consumed, "")
            return
        flags = _FLAG_GROUP.match(self.text, self.i)
        if flags is None:
            raise UnreadableRegex(
                f"invalid or unsupported Perl syntax: {self.text[self.i : self.i + 3]}"
            )
        spec, end = flags.groups()
        if "U" in spec:
            raise UnreadableRegex("the ungreedy flag U has no Python equivalent")
        if end == ":":
            self.open_group(f"(?{spec}:", flags.end() - self.i, spec)
            return
        if not self.at_group_start():
            raise UnreadableRegex("a flag group (?flags) is readable only at the start of a group")
        # Go applies the flags to the end of the enclosing group: scope them the same way.
        self.pending[-1] += 1
        self.multiline[-1] = _multiline(spec, self.multiline[-1])
        self.emit(f"(?{spec}:", flags.end() - self.i)

    def at_group_start(self) -> bool:
        last = self.out[-1]
        return last in ("", "(", "|") or (last.startswith("(?") and last.endswith((":", ">")))

    def open_group(self, text: str, consumed: int, spec: str) -> None:
        self.pending.append(0)
        self.multiline.append(_multiline(spec, self.multiline[-1]))
        self.emit(text, consumed)

    def close_group(self) -> None:
        closes = self.pending.pop() if len(self.pending) > 1 else 0
        if len(self.multiline) > 1:
            self.multiline.pop()
        self.emit(")" * closes + ")", 1)


def _multiline(spec: str, current: bool) -> bool:
    """Whether ``$`` means end of line after the flags ``spec`` (e.g. ``im-s``) apply."""
    on, _, off = spec.partition("-")
    return True if "m" in on else (False if "m" in off else current)
