"""The relay server's HTTP API (Starlette), shaped like toxiproxy's.

Success bodies are JSON; every error body is ``{"error": msg, "status": N}``: unknown path
404, wrong method 405, bad body 400 ``bad request body: ...``. Handlers that touch files run
in Starlette's thread pool, so a slow landing never blocks the event loop. As toxiproxy does,
browsers (``User-Agent: Mozilla/...``) are refused so a web page cannot drive the API.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gameday.servers.api import ApiError, decode_body
from gameday.servers.relay.collection import RelayCollection
from gameday.servers.relay.model import TTL_KEY, VERSION, decode_object, parse_fault, parse_relay

Reply = tuple[int, Any]  # status, JSON payload (None: no body)


def _json(status: int, payload: Any) -> Response:
    if payload is None:
        return Response(status_code=status)
    return JSONResponse(payload, status_code=status)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message, "status": status}, status_code=status)


class _Endpoints:
    """The API's operations on a :class:`RelayCollection`, each returning (status, payload)."""

    def __init__(self, relays: RelayCollection):
        self.relays = relays

    def version(self, req: Request, body: bytes) -> Reply:
        # gameday's extensions: faults expire by themselves, and where the state folder is (a
        # relay server started there later delivers what this one held, should it die)
        return 200, {"version": VERSION, TTL_KEY: True, "state": str(self.relays.state)}

    def list_relays(self, req: Request, body: bytes) -> Reply:
        return 200, {name: r.to_json() for name, r in list(self.relays.relays.items())}

    def create_relay(self, req: Request, body: bytes) -> Reply:
        return 201, self.relays.create(parse_relay(decode_object(body))).to_json()

    def populate(self, req: Request, body: bytes) -> Reply:
        relays = self.relays.populate(decode_body(body))
        return 201, {"relays": [r.to_json() for r in relays]}

    def reset(self, req: Request, body: bytes) -> Reply:
        self.relays.reset()
        return 204, None

    def show_relay(self, req: Request, body: bytes) -> Reply:
        return 200, self.relays.get(req.path_params["relay"]).to_json()

    def delete_relay(self, req: Request, body: bytes) -> Reply:
        self.relays.delete(req.path_params["relay"])
        return 204, None

    def list_faults(self, req: Request, body: bytes) -> Reply:
        relay = self.relays.get(req.path_params["relay"])
        return 200, relay.to_json()["faults"]

    def create_fault(self, req: Request, body: bytes) -> Reply:
        relay = self.relays.get(req.path_params["relay"])  # 404 before 400
        return 200, relay.add_fault(parse_fault(decode_object(body))).to_json()

    def show_fault(self, req: Request, body: bytes) -> Reply:
        relay = self.relays.get(req.path_params["relay"])
        with relay.lock:
            return 200, relay.get_fault(req.path_params["fault"]).to_json()

    def delete_fault(self, req: Request, body: bytes) -> Reply:
        relay = self.relays.get(req.path_params["relay"])
        return 200, relay.remove_fault(req.path_params["fault"])

    def schema(self, req: Request, body: bytes) -> Reply:
        return 200, self.relays.get(req.path_params["relay"]).schema()

    def stats(self, req: Request, body: bytes) -> Reply:
        return 200, self.relays.get(req.path_params["relay"]).stats()

    def routes(self) -> list[Route]:
        table: list[tuple[str, dict[str, Callable[[Request, bytes], Reply]]]] = [
            ("/version", {"GET": self.version}),
            ("/relays", {"GET": self.list_relays, "POST": self.create_relay}),
            ("/populate", {"POST": self.populate}),
            ("/reset", {"POST": self.reset}),
            ("/relays/{relay}", {"GET": self.show_relay, "DELETE": self.delete_relay}),
            ("/relays/{relay}/faults", {"GET": self.list_faults, "POST": self.create_fault}),
            (
                "/relays/{relay}/faults/{fault}",
                {"GET": self.show_fault, "DELETE": self.delete_fault},
            ),
            ("/relays/{relay}/schema", {"GET": self.schema}),
            ("/relays/{relay}/stats", {"GET": self.stats}),
        ]
        return [Route(path, _endpoint(methods), methods=list(methods)) for path, methods in table]


def _endpoint(methods: dict[str, Callable[[Request, bytes], Reply]]) -> Any:
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        try:
            status, payload = await run_in_threadpool(methods[request.method], request, body)
        except ApiError as exc:
            return _error(exc.status, exc.message)
        except Exception as exc:  # noqa: BLE001 - a bug must answer 500, not kill the server
            traceback.print_exc(file=sys.stderr)
            return _error(500, f"internal error: {exc}")
        return _json(status, payload)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "not found", 405: "method not allowed"}.get(status, str(exc))
    return _error(status, message)


class _RefuseBrowsers:
    """403 for ``User-Agent: Mozilla/...``, as toxiproxy does (no cross-site requests)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        agent = dict(scope.get("headers", [])).get(b"user-agent", b"")
        if scope["type"] == "http" and agent.startswith(b"Mozilla/"):
            await _error(403, "User agent not allowed")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(relays: RelayCollection, *, close_on_shutdown: bool = True) -> Starlette:
    """The API app over ``relays``; on shutdown it closes them (every fault reverted)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if close_on_shutdown:
            await run_in_threadpool(relays.close)

    app = Starlette(
        routes=_Endpoints(relays).routes(),
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.add_middleware(_RefuseBrowsers)
    app.state.relays = relays
    return app
