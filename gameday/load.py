"""Load: Locust in a subprocess, headless, handing back one record per request.

Locust monkey-patches the standard library with gevent on import, so it never runs in the
runner's process (FACTS.md). The recorder plugin (:mod:`gameday.loadfiles.recorder`) is
loaded beside the scenario's locustfile (default: the reference stack's predict user) and
appends a JSON line per request; :class:`Load` tails those files. Every run is bounded by
Locust's own ``--run-time`` as well as by :meth:`Load.stop`.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from gameday import _procs
from gameday.errors import StackUnavailable

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Record:
    """One request as the load generator saw it."""

    t: float  # start, Unix seconds
    ms: float
    ok: bool
    status: int
    name: str = ""
    trace_id: str | None = None

    @property
    def end(self) -> float:
        return self.t + self.ms / 1000.0


@dataclass(frozen=True)
class LoadStats:
    """Figures over a set of records (``p50_ms``/``p95_ms`` are ``None`` without requests)."""

    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    rps: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, float | int | None]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "error_rate": round(self.error_rate, 4),
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "rps": round(self.rps, 1),
        }


def summarize(
    records: list[Record], start: float | None = None, end: float | None = None
) -> LoadStats:
    """Stats of the records that started within [start, end)."""
    chosen = [r for r in records if (start is None or r.t >= start) and (end is None or r.t < end)]
    if not chosen:
        return LoadStats(0, 0, None, None, 0.0)
    ms = np.array([r.ms for r in chosen])
    span = (end or max(r.end for r in chosen)) - (start or min(r.t for r in chosen))
    p50, p95 = (round(float(v), 2) for v in np.percentile(ms, [50, 95]))
    failures = sum(not r.ok for r in chosen)
    return LoadStats(len(chosen), failures, p50, p95, len(chosen) / span if span > 0 else 0.0)


def default_locustfile() -> Path:
    return Path(str(resources.files("gameday.loadfiles") / "predict.py"))


def _recorder() -> Path:
    return Path(str(resources.files("gameday.loadfiles") / "recorder.py"))


@dataclass
class Load:
    """One Locust run against ``host``. ``start()``, then ``poll()`` while it runs, ``stop()``."""

    host: str
    users: int
    spawn_rate: float
    run_time_s: float
    workdir: Path
    locustfile: Path | None = None
    workers: int = 0
    env: dict[str, str] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    _children: list[_procs.Child] = field(default_factory=list)
    _offsets: dict[Path, int] = field(default_factory=dict)

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start Locust and wait (bounded) until the first request is recorded."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {"GAMEDAY_LOAD_DIR": str(self.workdir), **self.env}
        argv = self._argv()
        self._children.append(
            _procs.start(
                "locust", argv, log_path=self.workdir / "locust.log", env=env, handshake=False
            )
        )
        deadline = time.monotonic() + timeout
        while not self.poll():
            if not self._children[0].alive():
                raise StackUnavailable(f"locust exited early:{self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise StackUnavailable(
                    f"locust made no request within {timeout:g} s:{self._log_tail()}"
                )
            time.sleep(0.1)

    def _argv(self) -> list[str]:
        files = f"{_recorder()},{self.locustfile or default_locustfile()}"
        return _procs.python_module(
            "locust",
            "-f",
            files,
            "--headless",
            "-u",
            str(self.users),
            "-r",
            str(self.spawn_rate),
            "-t",
            f"{max(1, int(self.run_time_s + 0.999))}s",
            "--host",
            self.host,
            "--stop-timeout",
            "2",
            "--exit-code-on-error",
            "0",
            "--only-summary",
            "--loglevel",
            "WARNING",
        )

    def poll(self) -> list[Record]:
        """Records written since the last poll (also appended to ``records``)."""
        new: list[Record] = []
        for path in sorted(self.workdir.glob("records-*.jsonl")):
            new.extend(self._read_new(path))
        new.sort(key=lambda r: r.t)
        self.records.extend(new)
        return new

    def _read_new(self, path: Path) -> list[Record]:
        offset = self._offsets.get(path, 0)
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        self._offsets[path] = offset + len(complete)
        out = []
        for line in complete.splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                d = json.loads(line)
                out.append(
                    Record(
                        float(d["t"]),
                        float(d["ms"]),
                        bool(d["ok"]),
                        int(d["status"]),
                        str(d.get("name", "")),
                        d.get("trace_id"),
                    )
                )
        return out

    def running(self) -> bool:
        return any(c.alive() for c in self._children)

    def stop(self, timeout: float = 10.0) -> list[Record]:
        """Stop Locust (SIGTERM, then SIGKILL), read the last records, return them all."""
        for child in self._children:
            child.stop(timeout)
        self.poll()
        return self.records

    def _log_tail(self) -> str:
        log = self.workdir / "locust.log"
        lines = log.read_text(errors="replace").splitlines()[-10:] if log.exists() else []
        return "\n  " + "\n  ".join(lines)
