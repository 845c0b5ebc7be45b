"""Session-wide fixtures: one real reference stack shared by every integration test that asks,
and a canned HTTP server for clients' unit tests.

Tests that disturb the stack must leave it healthy: faults reverted, alerts resolved.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fixtures.cli import GamedayCli, RunJson, RunOnStack

from gameday.stack.launcher import Stack

# --- running in parallel (CI: ``-n 2``) -----------------------------------------------------------
# pytest-xdist's ``loadgroup`` does not group under pytest 9.2 (it renames ``item._nodeid``,
# which pytest no longer reads), so the grouping is done here, on test files: every file whose
# tests ask for the session's embedded stack goes to one worker, the platform example's to
# another, and each stack starts once; a misplaced file only costs a second stack's start.
TESTS = Path(__file__).resolve().parent
_DEF = re.compile(r"def (\w+)\(([^)]*)\)", re.DOTALL)


def _stack_fixtures() -> set[str]:
    """``stack`` and every conftest fixture that needs it, however indirectly."""
    names, grew = {"stack"}, True
    defs = [m.groups() for c in TESTS.rglob("conftest.py") for m in _DEF.finditer(c.read_text())]
    while grew:
        grew = False
        for name, params in defs:
            if name not in names and names & set(re.findall(r"\w+", params)):
                names.add(name)
                grew = True
    return names


def _scopes() -> dict[str, str]:
    needs = _stack_fixtures()
    out = {}
    for path in TESTS.rglob("test_*.py"):
        rel = path.relative_to(TESTS.parent).as_posix()
        if rel.startswith("tests/platform/"):
            out[rel] = "platform"
        elif any(needs & set(re.findall(r"\w+", p)) for _, p in _DEF.findall(path.read_text())):
            out[rel] = "embedded-stack"
    return out


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Tests of one stack on one worker (see above); every other test where there is room."""
    from xdist.scheduler import LoadScopeScheduling

    scopes = _scopes()

    class ByStack(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scopes.get(nodeid.split("::", 1)[0], nodeid)

    return ByStack(config, log)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The embedded reference stack (Prometheus, Alertmanager, every service), started once."""
    with Stack() as running:
        yield running


@pytest.fixture(scope="session")
def endpoints_file(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The running stack's endpoints as an environment file (``gameday run --env``)."""
    path = tmp_path_factory.mktemp("env") / "endpoints.json"
    path.write_text(json.dumps(stack.endpoints))
    return path


@pytest.fixture
def gameday_cli() -> GamedayCli:
    """Run the ``gameday`` command in a real subprocess: ``gameday_cli(*args, timeout=...)``."""

    def run(
        *args: str, timeout: float = 600, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gameday", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )

    return run


@pytest.fixture
def run_on_stack(gameday_cli: GamedayCli, endpoints_file: Path, tmp_path: Path) -> RunOnStack:
    """``gameday run SCENARIO --env <session stack>``: returns ``(process, result object)``."""

    def run(scenario: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], RunJson]:
        out = tmp_path / f"{scenario.stem}.json"
        proc = gameday_cli(
            "run",
            str(scenario),
            "--env",
            str(endpoints_file),
            "--json",
            str(out),
            "--workdir",
            str(tmp_path),
            *args,
        )
        result: RunJson = json.loads(out.read_text()) if out.exists() else {}
        return proc, result

    return run


Canned = dict[str, tuple[int, Any]]


@pytest.fixture
def canned_http() -> Iterator[Callable[[Canned], str]]:
    """Serve fixed answers to GET and POST: ``{path_with_query_or_path: (status, json_or_text)}``;
    returns the URL.

    Unknown paths answer 404. Query strings are matched if present in the table, else ignored.
    """
    servers: list[ThreadingHTTPServer] = []

    def serve(table: Canned) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _canned_handler(table))
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def _canned_handler(table: Canned) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = table.get(self.path) or table.get(self.path.split("?")[0]) or (404, "")
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "text/plain" if isinstance(body, str) else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # the same answers; the request body is read and ignored
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
