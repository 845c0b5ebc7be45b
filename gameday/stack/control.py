"""The embedded stack's control API: process faults and service fault hooks, with TTLs.

Served by the launcher (``gameday stack up``, or the stack a run starts) on 127.0.0.1; its URL
is the endpoints' ``control`` key. Every disruptive action carries a TTL that the launcher
enforces itself, so a fault outlives a killed game-day runner by at most its TTL:

- ``POST /services/{name}/pause {"ttl_s"}``: SIGSTOP; SIGCONT at the TTL.
- ``POST /services/{name}/resume``: SIGCONT.
- ``POST /services/{name}/kill {"ttl_s"}``: SIGKILL; restarted (same port) at the TTL.
- ``POST /services/{name}/restart``: start a killed service again on its port.
- ``POST /services/{name}/faults`` / ``DELETE .../faults/{id}``: forwarded to the service's
  own ``/internal/faults`` (inference slowness in the model server, the label feed's faults).
- ``GET /services``: every service with pid, state and URL.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gameday._serve import bind

MAX_TTL_S = 3600.0


class Controlled(Protocol):
    """What the control API needs from the launcher."""

    def service_names(self) -> tuple[str, ...]: ...
    def describe(self, name: str) -> dict[str, Any]: ...
    def pause(self, name: str) -> None: ...
    def resume(self, name: str) -> None: ...
    def kill(self, name: str) -> None: ...
    def restart(self, name: str) -> None: ...
    def url(self, name: str) -> str: ...


@dataclass
class _Timers:
    """Pending TTL actions per service; a newer action on a service replaces the older one."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    due: dict[str, tuple[float, Callable[[], None]]] = field(default_factory=dict)

    def set(self, name: str, ttl: float, action: Callable[[], None]) -> None:
        with self.lock:
            self.due[name] = (time.monotonic() + ttl, action)

    def cancel(self, name: str) -> None:
        with self.lock:
            self.due.pop(name, None)

    def fire_due(self) -> None:
        now = time.monotonic()
        with self.lock:
            ready = [(n, a) for n, (t, a) in self.due.items() if t <= now]
            for name, _ in ready:
                del self.due[name]
        for _, action in ready:
            with contextlib.suppress(Exception):
                action()


def _ttl(body: dict[str, Any]) -> float:
    ttl = float(body.get("ttl_s", 300))
    if not 0 < ttl <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be within (0, {MAX_TTL_S:g}]")
    return ttl


class ControlApi:
    """The Starlette app over a launcher, plus the thread that enforces TTLs."""

    def __init__(self, stack: Controlled):
        self.stack = stack
        self.timers = _Timers()

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/services", self.services, methods=["GET"]),
            Route("/services/{name}/faults", self.forward, methods=["POST", "GET"]),
            Route("/services/{name}/faults/{fid}", self.forward, methods=["DELETE"]),
            Route("/services/{name}/{action}", self.act, methods=["POST"]),
            Route("/healthz", lambda _: JSONResponse({"status": "ok"}), methods=["GET"]),
        ])  # fmt: skip

    async def services(self, _: Request) -> Response:
        return JSONResponse(
            {"services": {n: self.stack.describe(n) for n in self.stack.service_names()}}
        )

    async def act(self, request: Request) -> Response:
        name, action = request.path_params["name"], request.path_params["action"]
        if name not in self.stack.service_names():
            known = ", ".join(self.stack.service_names())
            return JSONResponse({"error": f"unknown service {name!r}; known: {known}"}, 404)
        try:
            body = await request.json() if await request.body() else {}
            self._act(name, action, body if isinstance(body, dict) else {})
        except (ValueError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(self.stack.describe(name))

    def _act(self, name: str, action: str, body: dict[str, Any]) -> None:
        if action == "pause":
            ttl = _ttl(body)
            self.stack.pause(name)
            self.timers.set(name, ttl, lambda: self.stack.resume(name))
        elif action == "resume":
            self.timers.cancel(name)
            self.stack.resume(name)
        elif action == "kill":
            ttl = _ttl(body)
            self.stack.kill(name)
            self.timers.set(name, ttl, lambda: self.stack.restart(name))
        elif action == "restart":
            self.timers.cancel(name)
            self.stack.restart(name)
        else:
            raise KeyError(f"unknown action {action!r}; known: pause, resume, kill, restart")

    async def forward(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.stack.service_names():
            return JSONResponse({"error": f"unknown service {name!r}"}, 404)
        fid = request.path_params.get("fid")
        url = f"{self.stack.url(name)}/internal/faults" + (f"/{fid}" if fid else "")
        body = await request.body()
        try:
            answer = requests.request(request.method, url, data=body or None, timeout=5,
                                      headers={"Content-Type": "application/json"})  # fmt: skip
        except requests.RequestException as exc:
            return JSONResponse({"error": f"{name} unreachable: {exc}"}, 502)
        return Response(answer.content, answer.status_code, media_type="application/json")


@dataclass
class ControlServer:
    """The control API served from a background thread of the launcher process."""

    api: ControlApi
    port: int = 0
    _server: uvicorn.Server | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> str:
        sock = bind("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.api.app(), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        serve = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        ttl = threading.Thread(target=self._enforce_ttls, daemon=True)
        self._threads = [serve, ttl]
        for t in self._threads:
            t.start()
        return f"http://127.0.0.1:{self.port}"

    def _enforce_ttls(self) -> None:
        while not self._stop.wait(0.2):
            self.api.timers.fire_due()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.should_exit = True
        for t in self._threads:
            t.join(timeout=5)
