"""Secrets never leave gameday in what it prints or writes: logs, results, reports, recover.

Environment files may hold secrets: ``sink_token`` (and any key named like *token*,
*password*, *secret*) and passwords inside URLs (``http://user:pass@host``). They are needed
to talk to the stack, so they live in memory and in the 0600 undo journal, and are masked
(``***``) everywhere else:

- :func:`redact` masks JSON data (results, report data): secret-named keys, URL passwords.
- :func:`redact_text` masks free text (console lines, error messages, tracebacks).
- :class:`RedactingStream` applies :func:`redact_text` to everything a process prints; the
  CLI wraps ``sys.stdout`` and ``sys.stderr`` with it, so no code path can forget.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_SECRET_KEY = re.compile(r"token|password|passwd|secret|api[_-]?key", re.IGNORECASE)
# user:password@ inside any URL-ish text (scheme://user:password@host).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+(?=@)")
# "Bearer abc", "sink_token: abc", "password=abc", '"api_key": "abc"' in messages.
_BEARER = re.compile(r"(?i)(?P<head>\bbearer\s+)[A-Za-z0-9._~+/=-]+")
_ASSIGNED = re.compile(
    r"""(?ix)(?P<head>\b[\w-]*(?:token|password|passwd|secret|api[_-]?key)[\w-]*["']?\s*[:=]\s*
    (?:SecretStr\()?["']?)(?P<value>[^\s"',;)}\]]+)"""
)
_KNOWN: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact value in all later text (e.g. a token read from an environment file)."""
    if value and len(value) >= 4:  # masking two-letter strings would garble every message
        _KNOWN.add(value)


def redact(value: Any, key: str = "") -> Any:
    """``value`` (JSON data) with secret-named keys and URL passwords masked; a new copy."""
    if key and _SECRET_KEY.search(key) and value is not None and not isinstance(value, bool):
        return MASK
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(_redact_url(value) if "://" in value else value)
    return value


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is None:
        return url
    netloc = f"{parts.username or ''}:{MASK}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def redact_text(text: str) -> str:
    """``text`` with URL passwords, bearer tokens, ``token=...`` values and registered
    secrets masked."""
    for secret in _KNOWN:
        text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    text = _BEARER.sub(lambda m: m["head"] + MASK, text)
    return _ASSIGNED.sub(lambda m: m["head"] + (m["value"] if m["value"] == MASK else MASK), text)


class RedactingStream:
    """A text stream that masks secrets in every line before it reaches ``inner``.

    Text is held back until a newline (or ``flush``) so a secret split across two ``write``
    calls is still masked. Writing never raises: output to a vanished terminal is dropped.
    """

    def __init__(self, inner: TextIO):
        self.inner = inner
        self._pending = ""

    def write(self, text: str) -> int:
        # One read and one assignment of the buffer: a signal handler that prints (Ctrl-C
        # during a write) can then at worst reorder two lines, never lose one.
        pending = self._pending + text
        cut = max(pending.rfind("\n"), pending.rfind("\r")) + 1
        self._pending = pending[cut:]
        if cut:
            self._emit(redact_text(pending[:cut]))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._emit(redact_text(self._pending))
            self._pending = ""
        with contextlib.suppress(OSError, ValueError):
            self.inner.flush()

    def _emit(self, text: str) -> None:
        # A terminal that went away (EIO) or a closed pipe (EPIPE) loses the text; it must
        # not raise into the runner, which is perhaps reverting faults while it prints.
        with contextlib.suppress(OSError, ValueError):
            self.inner.write(text)

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def register_secrets_in(data: Any, key: str = "") -> None:
    """Register every secret found in parsed file data: values of secret-named keys and
    passwords inside URLs (see :func:`register_secret`)."""
    if isinstance(data, dict):
        for k, v in data.items():
            register_secrets_in(v, str(k))
    elif isinstance(data, list):
        for v in data:
            register_secrets_in(v, key)
    elif isinstance(data, str):
        if key and _SECRET_KEY.search(key):
            register_secret(data)
        elif "://" in data:
            with contextlib.suppress(ValueError):
                register_secret(urlsplit(data).password)
