"""Data faults on an HTTP link: ``data.*`` with a JSON ``field`` and ``network.http_status``,
through gameday's toxiproxy-compatible server in front of a real HTTP service, applied and
reverted by the injectors as a run does (evidence and effect included)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from gameday.injectors.base import FaultContext, Injector, Target
from gameday.injectors.data import DriftInjector, NullColumnInjector, TypeChangeInjector
from gameday.injectors.http import HttpStatusInjector
from gameday.servers.toxiproxy.server import running_server

DOC = {"entity_id": "e1", "features": {"merchant_risk": 0.25, "txn_count_7d": 12}}


class _Features(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps(DOC).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _NoDelay(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


@pytest.fixture
def link() -> Iterator[tuple[Target, str]]:
    """A feature service behind a proxy ``features`` on gameday's server: (target, proxy URL)."""
    upstream = _NoDelay(("127.0.0.1", 0), _Features)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    with running_server() as toxi:
        body = {"name": "features", "listen": "127.0.0.1:0",
                "upstream": f"127.0.0.1:{upstream.server_address[1]}"}  # fmt: skip
        listen = requests.post(f"{toxi.url}/proxies", json=body, timeout=5).json()["listen"]
        target = Target("features", "proxy", {"toxiproxy": [toxi.url], "proxy": "features"})
        yield target, f"http://{listen}"
    upstream.shutdown()


def run(injector: Injector, target: Target, given: dict[str, Any], url: str) -> tuple[Any, ...]:
    """Apply, read three answers through the link, revert: (answers, revert evidence, effect)."""
    ctx = FaultContext("pay-0-abcdef", target, injector.validated(given), 30.0)
    applied = injector.apply(ctx)
    with requests.Session() as http:  # keep-alive: three requests on one connection
        answers = [http.get(f"{url}/features/e1", timeout=5) for _ in range(3)]
    reverted = injector.revert(applied)
    clean = requests.get(f"{url}/features/e1", timeout=5).json()
    assert clean == DOC  # reverted: the link is clean again
    return answers, reverted, injector.effect(applied, reverted)


def test_a_nulled_json_field_reaches_the_caller_and_counts_as_an_effect(
    link: tuple[Target, str],
) -> None:
    target, url = link
    answers, reverted, effect = run(
        NullColumnInjector(), target, {"field": "features.merchant_risk"}, url
    )
    assert [a.json()["features"]["merchant_risk"] for a in answers] == [None, None, None]
    assert answers[0].json()["features"]["txn_count_7d"] == 12
    assert reverted["changed"] == 3
    assert effect is not None and effect.took_effect is True


def test_scale_and_type_change_act_on_numbers(link: tuple[Target, str]) -> None:
    target, url = link
    answers, _, _ = run(
        DriftInjector(), target, {"field": "features.txn_count_7d", "scale": 10}, url
    )
    assert answers[0].json()["features"]["txn_count_7d"] == 120
    answers, _, _ = run(TypeChangeInjector(), target, {"field": "features.txn_count_7d"}, url)
    assert answers[0].json()["features"]["txn_count_7d"] == "12"


def test_http_status_answers_errors_and_a_quiet_link_took_no_effect(
    link: tuple[Target, str],
) -> None:
    target, url = link
    answers, reverted, effect = run(HttpStatusInjector(), target, {"status": 503}, url)
    assert [a.status_code for a in answers] == [503, 503, 503]
    assert effect is not None and effect.took_effect is True and reverted["changed"] == 3
    injector = NullColumnInjector()
    ctx = FaultContext("pay-1-abcdef", target, injector.validated({"field": "x"}), 30.0)
    applied = injector.apply(ctx)  # nobody calls the service while it is on
    quiet = injector.effect(applied, injector.revert(applied))
    assert quiet is not None and quiet.took_effect is False
