"""Helpers for the safety tests: a "real" toxiproxy stand-in, a run under test, fault probes.

Everything waits by polling with a deadline (:func:`gameday.testing.wait_until`).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from gameday.injectors.base import FaultContext, Target
from gameday.injectors.network import LatencyInjector
from gameday.scenario.environment import Environment
from gameday.servers.toxiproxy import TTL_KEY
from gameday.testing import wait_until
from gameday.undo.journal import Entry, Journal, Owner
from gameday.undo.log import UndoLog

SCENARIOS = Path(__file__).parent / "scenarios"


# --- a toxiproxy that behaves like the real toxiproxy-server --------------------------------


@dataclass
class Front:
    """An HTTP front for a toxiproxy API. With ``strip_ttl`` it is a real toxiproxy-server as
    gameday sees one: ``gameday_ttl_s`` never reaches the server and ``GET /version`` does not
    confirm it. ``delete_delay_s`` makes every DELETE slow (a revert that takes time);
    ``deleting`` is set when one arrives."""

    upstream: str
    strip_ttl: bool = True
    delete_delay_s: float = 0.0
    url: str = ""
    deleting: threading.Event = field(default_factory=threading.Event)


def _handler(front: Front) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.command == "DELETE":
                front.deleting.set()
                time.sleep(front.delete_delay_s)  # the slowness being simulated, not a wait
            reply = requests.request(
                self.command, front.upstream + self.path, data=self._strip(body) or None,
                headers={"Content-Type": "application/json"}, timeout=10,
            )  # fmt: skip
            out = self._strip(reply.content) if self.path == "/version" else reply.content
            self.send_response(reply.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def _strip(self, raw: bytes) -> bytes:
            with contextlib.suppress(ValueError):
                data = json.loads(raw) if raw else None
                if front.strip_ttl and isinstance(data, dict) and TTL_KEY in data:
                    del data[TTL_KEY]
                    return json.dumps(data).encode()
            return raw

        do_GET = do_POST = do_PATCH = do_DELETE = _forward  # noqa: N815 - http.server's names

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def toxiproxy_front(upstream: str, **options: Any) -> Iterator[Front]:
    """Serve a :class:`Front` for ``upstream`` on 127.0.0.1 for the ``with`` block."""
    front = Front(upstream.rstrip("/"), **options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(front))
    front.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield front
    finally:
        server.shutdown()
        server.server_close()


# --- probes --------------------------------------------------------------------------------


def toxics(api: str, proxy: str = "feature_store") -> list[str]:
    """Names of the toxics gameday put on ``proxy``."""
    reply = requests.get(f"{api}/proxies/{proxy}/toxics", timeout=5)
    return [t["name"] for t in reply.json() if t["name"].startswith("gameday-")]


def data_faults(producer: str) -> list[str]:
    """Ids of the data faults the producer applies now."""
    faults = requests.get(f"{producer}/internal/faults", timeout=5).json()["faults"]
    return [f["id"] for f in faults]


def env_file(path: Path, endpoints: dict[str, Any], **changes: Any) -> Path:
    """An environment file: the stack's endpoints with ``changes``."""
    path.write_text(json.dumps({**endpoints, **changes}))
    return path


# --- a run under test ----------------------------------------------------------------------


class Run:
    """``gameday run`` in a subprocess; stderr lines kept with their arrival times."""

    def __init__(self, scenario: str, env: Path, workdir: Path, *extra: str):
        workdir.mkdir(parents=True, exist_ok=True)
        self.journal = workdir / "journal"
        self.results = workdir / "results.json"
        argv = [sys.executable, "-m", "gameday", "run", str(SCENARIOS / scenario), "--env",
                str(env), "--journal", str(self.journal), "--workdir", str(workdir / "runs"),
                "--json", str(self.results), "--no-history", *extra]  # fmt: skip
        self.popen = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, cwd=workdir,
        )  # fmt: skip
        self.lines: list[tuple[float, str]] = []
        self._stdout: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stderr, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stdout, None), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, lines: list[tuple[float, str]] | None) -> None:
        for line in stream:
            if lines is None:
                self._stdout.append(line)
            else:
                lines.append((time.monotonic(), line))

    def line_at(self, fragment: str, timeout: float = 30.0) -> float:
        """When the first stderr line containing ``fragment`` arrived (waits for it)."""

        def seen() -> float | None:
            return next((t for t, line in self.lines if fragment in line), None)

        found = wait_until(seen, timeout, f"'{fragment}' on stderr of the run\n{self.output}")
        assert found is not None
        return found

    def signal(self, sig: signal.Signals) -> float:
        """Send ``sig``; when it was sent (monotonic)."""
        sent = time.monotonic()
        self.popen.send_signal(sig)
        return sent

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the exit code (and for every line it printed)."""
        self.popen.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return self.popen.returncode

    def stop(self) -> None:
        """Kill it if still running (test clean-up)."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.finish()

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    @property
    def output(self) -> str:
        return self.stdout + "".join(line for _, line in self.lines)

    def result(self) -> dict[str, Any]:
        return json.loads(self.results.read_text())


def recover(journal: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``gameday recover --journal journal`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "gameday", "recover", "--journal", str(journal), *extra],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


# --- journals as killed runs leave them ------------------------------------------------------


def dead_owner() -> Owner:
    """The owner record of a process that has exited (a killed runner)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return Owner(int(done.stdout), Owner.me().host, "1")


def latency_fault(
    journal: Journal, api: str, fault_id: str, *, apply: bool = True, ttl_s: float = 300.0
) -> Entry:
    """A latency toxic on ``api``'s ``feature_store`` with its journal entry, as a run that was
    then killed leaves them (``apply=False``: killed between intent and apply's answer)."""
    target = Target("feature-store", "proxy", {"toxiproxy": [api], "proxy": "feature_store"})
    ctx = FaultContext(fault_id, target, {"latency_ms": 10, "jitter_ms": 0}, ttl_s)
    injector = LatencyInjector()
    env = Environment.from_endpoints({"toxiproxy": api}, source="env.yaml")
    undo = UndoLog(journal, env, event=lambda _: None)
    undo.prepare(fault_id, injector, target)
    undo.intend(injector, ctx)
    applied = injector.apply(ctx)
    if apply:
        undo.applied(applied)
    [entry] = [e for e in journal.entries() if e.fault_id == fault_id]
    journal.write(replace(entry, owner=dead_owner()))
    return next(e for e in journal.entries() if e.fault_id == fault_id)
