"""Load: Locust in a subprocess, headless, handing back one record per request.

Locust monkey-patches the standard library with gevent on import, so it never runs in the
runner's process (FACTS.md). The recorder plugin (:mod:`gameday.loadfiles.recorder`) is
loaded beside the scenario's locustfile (default: the reference stack's predict user) and
appends a JSON line per request; :class:`Load` tails those files. Distributed (``workers``
or ``master``), the workers send their records to the master, which writes them. Every run
is bounded by Locust's own ``--run-time`` as well as by :meth:`Load.stop`.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gameday import _procs
from gameday.errors import ScenarioError, StackUnavailable
from gameday.evidence.requests import Record
from gameday.run.guards import LoadHealth
from gameday.telemetry.backends import free_port

START_TIMEOUT_S = 30.0
# Workers on other hosts (pods) may still be starting when the master binds: they retry
# joining every 5 s, so a bound master waits longer for them than local processes need.
REMOTE_START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
WORKER_EXIT_S = 5.0  # after the master quits, its workers send their last records and exit
DEFAULT_MASTER_PORT = 5557  # Locust's own default
LOCUST_STATS = "locust-stats"  # Locust's --json-file appends .json
STATUS_FILE = "load-status.json"  # written by the recorder plugin in the master / local runner


def default_locustfile() -> Path:
    return Path(str(resources.files("gameday.loadfiles") / "predict.py"))


def _recorder() -> Path:
    return Path(str(resources.files("gameday.loadfiles") / "recorder.py"))


def bind_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of a master bind address ``host[:port]`` (port default 5557)."""
    parts = urlsplit(f"//{address}")
    try:
        port = parts.port or DEFAULT_MASTER_PORT
    except ValueError as exc:
        raise ScenarioError(f"load.master: bad address {address!r} ({exc})") from None
    if not parts.hostname:
        raise ScenarioError(f"load.master: expected host:port like 0.0.0.0:5557, got {address!r}")
    return parts.hostname, port


@dataclass
class Load:
    """One Locust run against ``host``. ``start()``, then ``poll()`` while it runs, ``stop()``.

    ``workers > 0`` runs Locust distributed: a master on 127.0.0.1 and that many local worker
    processes. ``master`` (``host:port``) binds the master there instead, for workers on other
    hosts to join (``max(1, workers)`` of them are expected); no local worker is started then.
    Every worker's records reach the master's records file (see the recorder plugin).
    """

    host: str
    users: int
    spawn_rate: float
    run_time_s: float
    workdir: Path
    locustfile: Path | None = None
    workers: int = 0
    master: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    _children: list[_procs.Child] = field(default_factory=list)
    _offsets: dict[Path, int] = field(default_factory=dict)
    _bind: tuple[str, int] | None = None
    _started_at: float = 0.0

    @property
    def distributed(self) -> bool:
        return self.workers > 0 or self.master is not None

    @property
    def expected_workers(self) -> int:
        """Workers the master waits for (0 when not distributed)."""
        return max(1, self.workers) if self.distributed else 0

    def start(self, timeout: float | None = None) -> None:
        """Start Locust and wait (bounded) until the first request is recorded.

        Distributed, that includes the wait for every expected worker to join the master.
        ``timeout`` defaults to :data:`START_TIMEOUT_S`, or :data:`REMOTE_START_TIMEOUT_S` for
        a master bound for remote workers. Raises ``StackUnavailable`` with the end of
        Locust's log, and how many workers joined, when it does not happen.
        """
        if timeout is None:
            timeout = REMOTE_START_TIMEOUT_S if self.master else START_TIMEOUT_S
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._started_at = time.time()
        if self.distributed:
            self._bind = bind_address(self.master) if self.master else ("127.0.0.1", free_port())
        self._spawn("locust", [*self._argv(), *self._master_args(timeout)], "locust.log")
        for i in range(0 if self.master else self.workers):
            self._spawn(f"locust-worker-{i}", self._worker_argv(), f"worker-{i}.log")
        self._await_first_record(timeout)

    def _spawn(self, name: str, argv: list[str], log: str) -> None:
        env = {"GAMEDAY_LOAD_DIR": str(self.workdir), **self.env}
        child = _procs.start(name, argv, log_path=self.workdir / log, env=env, handshake=False)
        self._children.append(child)

    def _await_first_record(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.poll():
            dead = [c.name for c in self._children if not c.alive()]
            if dead:
                waiting = self._waiting_for()
                self.stop()
                raise StackUnavailable(
                    f"{', '.join(dead)} exited early{waiting}:{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                waiting = self._waiting_for()
                self.stop()
                raise StackUnavailable(
                    f"locust made no request within {timeout:g} s{waiting}:{self._log_tail()}"
                )
            time.sleep(0.1)

    def _waiting_for(self) -> str:
        if not self.distributed or self._bind is None:
            return ""
        joined = self.status().get("workers", 0)
        host, port = self._bind
        return f" ({joined} of {self.expected_workers} workers joined the master at {host}:{port})"

    def _argv(self) -> list[str]:
        return _procs.python_module(
            "locust",
            "-f",
            self._files(),
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
            "--json-file",
            str(self.workdir / LOCUST_STATS),
            "--loglevel",
            "WARNING",
        )

    def _files(self) -> str:
        return f"{_recorder()},{self.locustfile or default_locustfile()}"

    def _master_args(self, timeout: float) -> list[str]:
        if self._bind is None:
            return []
        host, port = self._bind
        return [
            "--master",
            "--master-bind-host",
            host,
            "--master-bind-port",
            str(port),
            "--expect-workers",
            str(self.expected_workers),
            "--expect-workers-max-wait",  # a backstop: the runner's own deadline comes first
            str(int(timeout) + 10),
        ]

    def _worker_argv(self) -> list[str]:
        assert self._bind is not None
        return _procs.python_module(
            "locust",
            "-f",
            self._files(),
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(self._bind[1]),
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

    def status(self) -> dict[str, Any]:
        """What the master (or local runner) last said: ``workers`` joined, ``users``, ``state``."""
        with contextlib.suppress(OSError, ValueError):
            return dict(json.loads((self.workdir / STATUS_FILE).read_text()))
        return {}

    def locust_stats(self) -> dict[str, int] | None:
        """Locust's own final totals (``requests``, ``failures``) once it has exited, else None."""
        path = self.workdir / f"{LOCUST_STATS}.json"
        with contextlib.suppress(OSError, ValueError):
            entries = json.loads(path.read_text())
            return {
                "requests": sum(int(e["num_requests"]) for e in entries),
                "failures": sum(int(e["num_failures"]) for e in entries),
            }
        return None

    def running(self) -> bool:
        return any(c.alive() for c in self._children)

    def health(self) -> LoadHealth:
        """The load generator's own view: the master (or local runner) alive, its users and
        state, and when it last wrote its status."""
        status = self.status()
        users, at = status.get("users"), status.get("t")
        return LoadHealth(
            alive=bool(self._children) and self._children[0].alive(),
            users=int(users) if isinstance(users, int | float) else None,
            state=str(status.get("state", "")),
            heartbeat_at=float(at) if isinstance(at, int | float) else None,
            started_at=self._started_at,
        )

    def wait(self, timeout: float) -> bool:
        """Wait (bounded) for Locust to end by itself (its run time); True if it did."""
        deadline = time.monotonic() + timeout
        while self._children and self._children[0].alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> list[Record]:
        """Stop Locust, read the last records, return them all.

        The master (or local runner) goes first: it tells its workers to quit, and they send
        their last records before they exit. Workers still alive after ``WORKER_EXIT_S`` are
        stopped too. Every stop is SIGTERM, then SIGKILL after ``timeout``.
        """
        if self._children:
            head, *workers = self._children
            head.stop(timeout)
            deadline = time.monotonic() + WORKER_EXIT_S
            while any(w.alive() for w in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            for worker in workers:
                worker.stop(timeout)
        self.poll()
        return self.records

    def _log_tail(self) -> str:
        lines = []
        for log in sorted(self.workdir.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-10:]
            lines += [f"[{log.name}] {line}" for line in tail]
        return "\n  " + "\n  ".join(lines)
