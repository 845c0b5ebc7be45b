"""Process supervision and a service-control API, with nothing but the standard library.

A :class:`Supervisor` starts each process in its own process group, logs it under the
workdir, waits (with a deadline) until it is ready, restarts a killed one on its port, and
stops them all: SIGTERM to every group, SIGKILL to what is left after a grace period.

:class:`ControlApi` is the control protocol gameday's ``process.kill`` and ``process.pause``
faults call (the environment's ``control`` URL, targets ``{service: NAME}``):

- ``GET /services``: ``{"services": {NAME: {"pid", "alive", "paused", "url"}}}``;
- ``POST /services/{name}/kill {"ttl_s"}``: SIGKILL; restarted on its port when the TTL runs out;
- ``POST /services/{name}/pause {"ttl_s"}``: SIGSTOP; SIGCONT when the TTL runs out;
- ``POST /services/{name}/restart`` and ``/resume``: undo now (nothing to do when running).

Every action answers the service's ``{"pid", "alive", "paused", "url"}``. The TTL is enforced
here, so a game-day runner that dies mid-fault cannot leave a service down.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

MAX_TTL_S = 3600.0
STOP_GRACE_S = 10.0


class StartFailed(Exception):
    """A process did not come up (or a setup call failed); the message says which and why."""


def say(message: str) -> None:
    """One line of run-stack's own log, on stderr."""
    print(f"run-stack: {message}", file=sys.stderr, flush=True)


# --- processes --------------------------------------------------------------------------------


@dataclass
class Spec:
    """How to start one process. ``{port}`` in ``argv`` is replaced by the port.

    ``ready``: ``line`` (the process prints a JSON readiness line with its ``port``; started
    first on port 0), ``http`` (run-stack picks a free port and polls ``ready_path``), ``redis``
    (a free port, polled with PING), or ``exit`` (a one-shot command that must exit 0).
    """

    name: str
    argv: list[str]
    ready: str = "line"
    ready_path: str = ""
    env: dict[str, str] = field(default_factory=dict)


class Process:
    """One started process, in its own process group, with its log under the workdir."""

    def __init__(self, spec: Spec, logs: Path) -> None:
        self.spec = spec
        self.log = logs / f"{spec.name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.paused = False

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def spawn(self) -> None:
        """Start the process without waiting (stderr, and stdout after readiness, to the log)."""
        argv = [a.replace("{port}", str(self.port)) for a in self.spec.argv]
        with self.log.open("ab") as log:
            piped = self.spec.ready == "line"
            try:
                self.popen = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE if piped else log,
                    stderr=log,
                    env={**os.environ, **self.spec.env},
                    start_new_session=True,  # its own group: a stop reaches its children too
                    preexec_fn=_die_with_parent,  # noqa: PLW1509 (ctypes only, no locks taken)
                )
            except OSError as exc:
                raise StartFailed(f"{self.spec.name}: cannot start {argv[0]}: {exc}") from exc
        self.paused = False

    def signal_group(self, sig: signal.Signals) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "".join(f"\n    {line}" for line in text[-lines:])

    def failed(self, why: str) -> StartFailed:
        return StartFailed(f"{self.spec.name}: {why} (log {self.log}){self.tail()}")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    # Linux: SIGTERM the child when run-stack itself dies, even by SIGKILL. The signal follows
    # the thread that forked, so only long-lived threads start processes (main, control, TTL).
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_ready_line(proc: Process, deadline: float) -> dict[str, Any]:
    """The JSON readiness line on the process's stdout, read before ``deadline``."""
    assert proc.popen is not None
    assert proc.popen.stdout is not None
    out, buf = proc.popen.stdout, b""
    with selectors.DefaultSelector() as sel:
        sel.register(out, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise proc.failed("printed no readiness line in time")
            chunk = os.read(out.fileno(), 4096)
            if not chunk:
                raise proc.failed(f"exited with code {proc.popen.wait(5)} before it was ready")
            buf += chunk
    line, rest = buf.split(b"\n", 1)
    try:
        info = json.loads(line)
    except ValueError:
        raise proc.failed(f"unreadable readiness line {line[:200]!r}") from None
    threading.Thread(target=_drain, args=(out, proc.log, rest), daemon=True).start()
    return dict(info)


def _drain(out: Any, log: Path, first: bytes) -> None:
    # Anything printed after the readiness line goes to the log: a full pipe must never block.
    with log.open("ab") as fh:
        fh.write(first)
        for chunk in iter(lambda: out.read1(65536), b""):
            fh.write(chunk)
            fh.flush()


def poll_until(proc: Process, deadline: float, probe: Callable[[], bool], what: str) -> None:
    """Poll ``probe`` until it holds; fail when the process exits or the deadline passes."""
    while not probe():
        if not proc.alive():
            code = proc.popen.wait() if proc.popen else None
            raise proc.failed(f"exited with code {code} before {what}")
        if time.monotonic() > deadline:
            raise proc.failed(f"not {what} in time")
        time.sleep(0.1)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as reply:  # noqa: S310 (our own http URL)
            return bool(reply.status == 200)
    except (OSError, ValueError):
        return False


def redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def call(method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
    """A JSON HTTP call to one of our own processes; ``StartFailed`` unless it answers 2xx."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data, headers, method=method)  # noqa: S310 (http only)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            text = reply.read()
    except urllib.error.HTTPError as exc:
        raise StartFailed(f"{method} {url}: HTTP {exc.code} {exc.read()[:300]!r}") from None
    except OSError as exc:
        raise StartFailed(f"{method} {url}: {exc}") from None
    return json.loads(text) if text.strip() else None


# --- the supervisor ---------------------------------------------------------------------------


class Supervisor:
    """Starts processes in order, restarts controlled ones on their port, stops them all."""

    def __init__(self, workdir: Path, timeout: float) -> None:
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self.procs: dict[str, Process] = {}
        self.lock = threading.RLock()
        self.stopping = False

    def start(self, spec: Spec) -> Process:
        """Start ``spec`` and wait until it is ready; registered first, so a stop reaches it."""
        proc = Process(spec, self.logs)
        with self.lock:
            if self.stopping:
                raise StartFailed(f"{spec.name}: not started, the stack is stopping")
            self.procs[spec.name] = proc
        attempts = 3 if spec.ready in {"http", "redis"} else 1
        for attempt in range(attempts):
            try:
                self._launch(proc, 0 if spec.ready in {"line", "exit"} else free_port())
                break
            except StartFailed:
                self._kill(proc)
                if attempt + 1 == attempts or "in use" not in proc.tail(50):
                    raise  # a port taken between choosing and binding is the only retry
        say(f"{spec.name} ready (pid {proc.pid}{f', port {proc.port}' if proc.port else ''})")
        return proc

    def start_together(self, specs: list[Spec]) -> list[Process]:
        """Start processes that print a readiness line all at once, then wait for each."""
        procs = [Process(spec, self.logs) for spec in specs]
        with self.lock:
            if self.stopping:
                raise StartFailed("not started, the stack is stopping")
            self.procs.update((p.spec.name, p) for p in procs)
        for proc in procs:
            proc.spawn()
            say(f"started {proc.spec.name} (pid {proc.pid})")
        deadline = time.monotonic() + self.timeout
        for proc in procs:
            self._await_ready(proc, deadline)
            say(f"{proc.spec.name} ready (pid {proc.pid}, port {proc.port})")
        return procs

    def _launch(self, proc: Process, port: int) -> None:
        proc.port = port
        proc.spawn()
        say(f"started {proc.spec.name} (pid {proc.pid})")
        self._await_ready(proc, time.monotonic() + self.timeout)

    def _await_ready(self, proc: Process, deadline: float) -> None:
        kind = proc.spec.ready
        if kind == "line":
            proc.port = int(read_ready_line(proc, deadline)["port"])
        elif kind == "http":
            poll_until(proc, deadline, lambda: http_ok(proc.url + proc.spec.ready_path), "ready")
        elif kind == "redis":
            poll_until(proc, deadline, lambda: redis_pong(proc.port), "answering PING")
        elif kind == "exit":
            self._await_exit(proc, deadline)

    def _await_exit(self, proc: Process, deadline: float) -> None:
        assert proc.popen is not None
        try:
            code = proc.popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise proc.failed("did not finish in time") from None
        if code != 0:
            raise proc.failed(f"exited with code {code}")

    def describe(self, name: str) -> dict[str, Any]:
        """What the control API answers about a service: pid, alive, paused, url."""
        with self.lock:
            proc = self.procs[name]
            alive = proc.alive()
            return {
                "pid": proc.pid,
                "alive": alive,
                "paused": alive and proc.paused,
                "url": proc.url if proc.port else None,
            }

    def pause(self, name: str) -> None:
        with self.lock:
            self.procs[name].signal_group(signal.SIGSTOP)
            self.procs[name].paused = True

    def resume(self, name: str) -> None:
        with self.lock:
            self.procs[name].signal_group(signal.SIGCONT)
            self.procs[name].paused = False

    def kill(self, name: str) -> None:
        """SIGKILL the service's process group, as a crash would."""
        with self.lock:
            self._kill(self.procs[name])

    def restart(self, name: str) -> None:
        """Start a killed service again on its port; nothing to do when it runs."""
        with self.lock:
            proc = self.procs[name]
            if self.stopping or proc.alive():
                return
            self._launch(proc, proc.port)

    def _kill(self, proc: Process) -> None:
        proc.signal_group(signal.SIGKILL)
        if proc.popen is not None:
            proc.popen.wait(10)
        proc.paused = False

    def stop_all(self) -> None:
        """SIGTERM every process group (newest first), SIGKILL what is left after the grace."""
        with self.lock:
            self.stopping = True
            procs = list(reversed(self.procs.values()))
        for proc in procs:
            proc.signal_group(signal.SIGCONT)  # a paused process cannot act on SIGTERM
            proc.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                if proc.popen is not None:
                    proc.popen.wait(max(0.0, deadline - time.monotonic()))
        for proc in procs:
            if proc.alive():
                say(f"{proc.spec.name} ignored SIGTERM for {STOP_GRACE_S:g} s: SIGKILL")
            proc.signal_group(signal.SIGKILL)  # also whatever the process left in its group
            if proc.popen is not None:
                proc.popen.wait(10)
        say(f"stopped {len(procs)} processes")


# --- the service-control API (what gameday's process.* faults call) ---------------------------


class Timers:
    """One pending TTL action per service (resume or restart); a newer one replaces it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.due: dict[str, tuple[float, Callable[[], None]]] = {}

    def set(self, name: str, ttl_s: float, action: Callable[[], None]) -> None:
        with self.lock:
            self.due[name] = (time.monotonic() + ttl_s, action)

    def cancel(self, name: str) -> None:
        with self.lock:
            self.due.pop(name, None)

    def fire_due(self) -> None:
        now = time.monotonic()
        with self.lock:
            ready = [(n, a) for n, (t, a) in self.due.items() if t <= now]
            for name, _ in ready:
                del self.due[name]
        for name, action in ready:
            say(f"TTL ran out for {name}: undoing the fault")
            try:
                action()
            except StartFailed as exc:
                say(f"TTL undo of {name} failed: {exc}")


def ttl_of(body: dict[str, Any]) -> float:
    ttl = float(body.get("ttl_s", 300))
    if not 0 < ttl <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be within (0, {MAX_TTL_S:g}]")
    return ttl


class ControlApi:
    """``GET /services``; ``POST /services/{name}/kill|pause {"ttl_s"}``, ``restart|resume``.

    Each action answers the service's ``{pid, alive, paused, url}``. A kill or pause carries
    a TTL that this process enforces itself: the service is restarted or resumed when it runs
    out, so a game-day runner that dies mid-fault cannot leave a service down.
    """

    def __init__(self, supervisor: Supervisor, controlled: tuple[str, ...]) -> None:
        self.supervisor = supervisor
        self.controlled = controlled  # the services faults may act on (not the backends)
        self.timers = Timers()

    def services(self) -> dict[str, Any]:
        names = [n for n in self.controlled if n in self.supervisor.procs]
        return {"services": {n: self.supervisor.describe(n) for n in names}}

    def processes(self) -> dict[str, Any]:
        """Every process run-stack started (sidecars and backends included)."""
        return {"processes": {n: self.supervisor.describe(n) for n in list(self.supervisor.procs)}}

    def act(self, name: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        sup = self.supervisor
        if action in {"kill", "pause"}:
            ttl = ttl_of(body)
            (sup.kill if action == "kill" else sup.pause)(name)
            undo = sup.restart if action == "kill" else sup.resume
            self.timers.set(name, ttl, lambda: undo(name))
        elif action in {"restart", "resume"}:
            self.timers.cancel(name)
            (sup.restart if action == "restart" else sup.resume)(name)
        else:
            raise KeyError(f"unknown action {action!r}; known: kill, restart, pause, resume")
        say(f"control: {action} {name}")
        return sup.describe(name)


def control_handler(api: ControlApi) -> type[BaseHTTPRequestHandler]:
    """The request handler class serving ``api``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes: dict[str, Callable[[], dict[str, Any]]] = {
                "/services": api.services,
                "/processes": api.processes,
                "/healthz": lambda: {"status": "ok"},
            }
            route = routes.get(self.path.rstrip("/"))
            self._answer(*((200, route()) if route else (404, {"error": "not found"})))

        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "services":
                self._answer(404, {"error": "not found"})
            elif parts[1] not in api.services()["services"]:
                known = ", ".join(api.services()["services"])
                self._answer(404, {"error": f"unknown service {parts[1]!r}; known: {known}"})
            else:
                self._act(parts[1], parts[2])

        def _act(self, name: str, action: str) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                self._answer(200, api.act(name, action, body if isinstance(body, dict) else {}))
            except (ValueError, KeyError) as exc:
                self._answer(400, {"error": str(exc)})
            except StartFailed as exc:
                self._answer(500, {"error": str(exc)})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # actions are logged by ControlApi.act

    return Handler


@contextlib.contextmanager
def serving_control(api: ControlApi) -> Iterator[str]:
    """Serve the control API, and enforce its TTLs, from two long-lived threads."""
    server = HTTPServer(("127.0.0.1", 0), control_handler(api))
    stop = threading.Event()

    def enforce_ttls() -> None:
        while not stop.wait(0.2):
            api.timers.fire_due()

    threads = [
        threading.Thread(target=server.serve_forever, daemon=True),
        threading.Thread(target=enforce_ttls, daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        for thread in threads:
            thread.join(5)
