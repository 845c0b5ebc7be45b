"""HTTP payload toxics (``http_json``, ``http_status``) through the embedded server, in front
of a real FastAPI app on uvicorn, driven by real HTTP clients (requests, httpx)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gzip
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from gameday._serve import bind
from gameday.servers.toxiproxy.testing import connect, recv_until_eof, tcp_server, wait_until

DOC: dict[str, Any] = {
    "features": {"merchant_risk": 0.25, "amount": 120, "country": "FR"},
    "items": [{"id": 1, "score": 0.5}, {"id": 2, "score": 1.5}, {"id": 3, "score": 2}],
    "model": "v1",
}
INJECTED_503 = {"error": "injected by gameday", "status": 503}


def _doc(n: int) -> dict[str, Any]:
    return {"n": n, **copy.deepcopy(DOC)}


# --- the upstream: a real FastAPI app on uvicorn ------------------------------------------------


class Gate:
    """Lets a test hold a streamed response half sent: ``first_sent`` once its first part
    left the app, the rest once ``release`` is set."""

    def __init__(self) -> None:
        self.first_sent = threading.Event()
        self.release = threading.Event()


def _app(gates: list[Gate]) -> FastAPI:
    """The app; ``gates[0]`` is the gate of ``/gated`` (a test puts a fresh one there)."""
    app = FastAPI()

    @app.api_route("/doc/{n}", methods=["GET", "HEAD"])
    def doc(n: int) -> JSONResponse:
        return JSONResponse(_doc(n))

    @app.get("/chunked/{n}")
    def chunked(n: int) -> StreamingResponse:
        text = json.dumps(_doc(n))
        parts = [text[i : i + 16] for i in range(0, len(text), 16)]
        return StreamingResponse(iter(parts), media_type="application/json")

    @app.get("/text")
    def text() -> PlainTextResponse:
        return PlainTextResponse("features.amount = 120")

    @app.get("/gzip")
    def gzipped() -> Response:
        body = gzip.compress(json.dumps(DOC).encode())
        return Response(body, media_type="application/json", headers={"Content-Encoding": "gzip"})

    @app.get("/not-json")
    def not_json() -> Response:
        return Response(b'{"features": {"amount": 1', media_type="application/json")

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"received": json.loads(body), "length": request.headers.get("content-length")}

    @app.get("/gated")
    def gated() -> StreamingResponse:
        return StreamingResponse(_gated(gates[0]), media_type="application/json")

    return app


async def _gated(gate: Gate) -> AsyncIterator[bytes]:
    text = json.dumps(DOC).encode()
    yield text[:20]
    gate.first_sent.set()
    deadline = time.monotonic() + 10
    while not gate.release.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    yield text[20:]


@contextlib.contextmanager
def _serving(app: FastAPI) -> Iterator[str]:
    sock = bind()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=10)
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def gates() -> list[Gate]:
    return [Gate()]


@pytest.fixture(scope="module")
def web_upstream(gates: list[Gate]) -> Iterator[str]:
    """The app's ``host:port`` (one server for the module)."""
    with _serving(_app(gates)) as address:
        yield address


@pytest.fixture
def gate(gates: list[Gate]) -> Iterator[Gate]:
    gates[0] = Gate()
    yield gates[0]
    gates[0].release.set()


@pytest.fixture
def web(api, web_upstream: str) -> str:
    """Proxy ``web`` in front of the app; its base URL."""
    reply = api.post("/proxies", json={"name": "web", "upstream": web_upstream})
    assert reply.status_code == 201, reply.text
    return "http://" + reply.json()["listen"]


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def _toxic(api, kind: str, name: str, **attributes: Any) -> dict[str, Any]:
    """Add toxic ``name`` of type ``kind`` to proxy ``web`` (the stream its default)."""
    return api.add_toxic("web", name=name, type=kind, attributes=attributes)


def _counts(api, toxic: str) -> dict[str, int]:
    return api.get("/proxies/web/stats").json()["toxics"][toxic]


def _connections(api) -> int:
    return api.get("/proxies/web/stats").json()["connections"]


def _get(session: requests.Session, url: str) -> requests.Response:
    return session.get(url, timeout=5)


# --- http_json: actions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "value", "expected"),
    [
        ("null", None, None),
        ("set", -1, -1),
        ("set", "N/A", "N/A"),
        ("scale", 4, 1.0),
        ("offset", 0.5, 0.75),
        ("type", None, "0.25"),
    ],
)
def test_each_action_changes_a_nested_field(api, web, session, action, value, expected):
    _toxic(api, "http_json", "j", path="features.merchant_risk", action=action, value=value)
    want = _doc(7)
    want["features"]["merchant_risk"] = expected
    reply = _get(session, web + "/doc/7")
    assert reply.status_code == 200
    assert reply.json() == want
    assert int(reply.headers["Content-Length"]) == len(reply.content)
    counts = _counts(api, "j")
    assert (counts["messages"], counts["changed"], counts["passed"]) == (1, 1, 0)


def test_drop_removes_a_nested_field(api, web, session):
    _toxic(api, "http_json", "j", path="features.country", action="drop")
    want = _doc(1)
    del want["features"]["country"]
    assert _get(session, web + "/doc/1").json() == want


@pytest.mark.parametrize(
    ("action", "value", "scores"),
    [
        ("null", None, [None, None, None]),
        ("set", 0, [0, 0, 0]),
        ("scale", 10, [5.0, 15.0, 20]),
        ("offset", -1, [-0.5, 0.5, 1]),
        ("type", None, ["0.5", "1.5", "2"]),
    ],
)
def test_each_action_changes_every_element_of_an_array(api, web, session, action, value, scores):
    _toxic(api, "http_json", "j", path="items[*].score", action=action, value=value)
    got = _get(session, web + "/doc/2").json()
    assert [item["score"] for item in got["items"]] == scores
    assert [item["id"] for item in got["items"]] == [1, 2, 3]
    assert {k: v for k, v in got.items() if k != "items"} == {
        k: v for k, v in _doc(2).items() if k != "items"
    }


def test_drop_over_an_array_removes_the_field_of_every_element(api, web, session):
    _toxic(api, "http_json", "j", path="items[*].score", action="drop")
    assert _get(session, web + "/doc/3").json()["items"] == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_a_path_that_matches_nothing_changes_nothing(api, web, session):
    _toxic(api, "http_json", "j", path="features.missing", action="set", value=1)
    reply = _get(session, web + "/doc/4")
    assert reply.json() == _doc(4)
    counts = _counts(api, "j")
    assert (counts["messages"], counts["changed"], counts["passed"]) == (1, 0, 0)


# --- share and keep-alive --------------------------------------------------------------------


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_share_zero_changes_nothing_and_share_one_changes_everything(api, web, session, share):
    _toxic(api, "http_json", "j", path="features.amount", action="scale", value=100, share=share)
    amounts = [_get(session, f"{web}/doc/{n}").json()["features"]["amount"] for n in range(30)]
    assert amounts == [12000 if share else 120] * 30
    counts = _counts(api, "j")
    assert (counts["messages"], counts["changed"]) == (30, 30 if share else 0)
    assert _connections(api) == 1


def test_half_share_picks_about_half_and_keep_alive_framing_stays_right(api, web, session):
    _toxic(api, "http_json", "j", path="features.amount", action="offset", value=1, share=0.5)
    changed = 0
    for n in range(200):
        got = _get(session, f"{web}/doc/{n}").json()
        assert got["n"] == n  # each answer belongs to its request
        if got["features"]["amount"] == 121:
            changed += 1
            got["features"]["amount"] = 120
        assert got == _doc(n)  # picked or not, nothing else differs
    assert 60 <= changed <= 140  # binomial(200, 0.5): 5.6 standard deviations either way
    counts = _counts(api, "j")
    assert (counts["messages"], counts["changed"], counts["passed"]) == (200, changed, 0)
    assert _connections(api) == 1


def test_httpx_keeps_alive_through_the_toxic_with_head_requests_between(api, web):
    httpx = pytest.importorskip("httpx")
    _toxic(api, "http_json", "j", path="model", action="set", value="broken")
    with httpx.Client(base_url=web, timeout=5) as client:
        for n in range(5):
            head = client.head(f"/doc/{n}")
            assert head.status_code == 200
            assert head.content == b""
            got = client.get(f"/doc/{n}").json()
            assert got == {**_doc(n), "model": "broken"}
    counts = _counts(api, "j")
    # HEAD responses carry no body: seen, passed on untouched.
    assert (counts["messages"], counts["changed"], counts["passed"]) == (10, 5, 5)
    assert _connections(api) == 1


def test_a_toxic_added_to_a_live_keep_alive_connection_acts_on_its_next_request(api, web, session):
    assert _get(session, web + "/doc/1").json() == _doc(1)
    _toxic(api, "http_json", "j", path="features.amount", action="null")
    assert _get(session, web + "/doc/2").json()["features"]["amount"] is None
    assert api.delete("/proxies/web/toxics/j").status_code == 204
    assert _get(session, web + "/doc/3").json() == _doc(3)
    assert _connections(api) == 1


# --- chunked bodies, requests, what passes -----------------------------------------------------


def test_a_changed_chunked_response_is_reframed_with_a_content_length(api, web, session):
    direct = _get(session, web + "/chunked/5")
    assert direct.headers.get("Transfer-Encoding") == "chunked"
    _toxic(api, "http_json", "j", path="items[*].score", action="scale", value=2)
    for n in range(3):  # and the connection stays usable
        reply = _get(session, f"{web}/chunked/{n}")
        assert "Transfer-Encoding" not in reply.headers
        assert int(reply.headers["Content-Length"]) == len(reply.content)
        assert [item["score"] for item in reply.json()["items"]] == [1.0, 3.0, 4]
        assert reply.json()["n"] == n
    assert _connections(api) == 1


def test_a_chunked_response_the_share_skips_keeps_its_chunks(api, web, session):
    _toxic(api, "http_json", "j", path="model", action="null", share=0)
    reply = _get(session, web + "/chunked/1")
    assert reply.headers.get("Transfer-Encoding") == "chunked"
    assert reply.json() == _doc(1)


def test_request_direction_changes_what_the_server_receives(api, web, session):
    _toxic(
        api, "http_json", "req", path="features.amount", action="set", value=-1, direction="request"
    )
    toxic = api.get("/proxies/web/toxics/req").json()
    assert toxic["stream"] == "upstream"
    for n in range(3):
        reply = session.post(web + "/echo", json=_doc(n), timeout=5)
        want = _doc(n)
        want["features"]["amount"] = -1
        assert reply.json()["received"] == want
        assert reply.json()["length"] is not None  # framed by a Content-Length
    counts = _counts(api, "req")
    assert (counts["messages"], counts["changed"]) == (3, 3)


def test_a_chunked_request_is_changed_and_reframed(api, web, session):
    api.add_toxic(
        "web",
        name="req",
        type="http_json",
        stream="upstream",
        attributes={"path": "model", "action": "set", "value": "v0"},
    )
    parts = iter([b'{"model": "v1", ', b'"features": {"amount": 5}}'])
    reply = session.post(
        web + "/echo", data=parts, timeout=5, headers={"Content-Type": "application/json"}
    )
    assert reply.json()["received"] == {"model": "v0", "features": {"amount": 5}}


def _raw(session: requests.Session, url: str) -> tuple[bytes, str | None]:
    """The body as it crossed the wire (not decompressed) and its Content-Encoding."""
    reply = session.get(url, timeout=5, stream=True)
    return reply.raw.read(decode_content=False), reply.headers.get("Content-Encoding")


def test_non_json_compressed_and_unparsable_bodies_pass_untouched_and_are_counted(
    api, web, session, web_upstream
):
    paths = ("/text", "/gzip", "/not-json")
    direct = [_raw(session, f"http://{web_upstream}{path}") for path in paths]
    _toxic(api, "http_json", "j", path="features.amount", action="null")
    assert [_raw(session, web + path) for path in paths] == direct
    assert direct[1][1] == "gzip"
    assert session.get(web + "/gzip", timeout=5).json() == DOC  # still decodes
    counts = _counts(api, "j")
    assert (counts["messages"], counts["changed"], counts["passed"]) == (4, 0, 4)


def test_malformed_http_passes_byte_for_byte(api):
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: x\r\n\r\n{}"

    def server(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(answer)
        conn.shutdown(socket.SHUT_WR)

    with tcp_server(server) as upstream:
        reply = api.post("/proxies", json={"name": "web", "upstream": upstream.address})
        port = int(reply.json()["listen"].rsplit(":", 1)[1])
        _toxic(api, "http_json", "j", path="a", action="null")
        with connect(port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert recv_until_eof(sock) == answer
    counts = _counts(api, "j")
    assert (counts["messages"], counts["changed"], counts["passed"]) == (1, 0, 1)


# --- http_status -----------------------------------------------------------------------------


def test_http_status_answers_every_request_and_keeps_the_connection(api, web, session):
    _toxic(api, "http_status", "s", status=503)
    for n in range(5):
        reply = _get(session, f"{web}/doc/{n}")
        assert reply.status_code == 503
        assert reply.json() == INJECTED_503
        head = session.head(f"{web}/doc/{n}", timeout=5)
        assert head.status_code == 503
        assert head.content == b""
    assert _connections(api) == 1
    counts = _counts(api, "s")
    assert (counts["messages"], counts["changed"], counts["passed"]) == (10, 10, 0)


def test_http_status_429_on_a_share_leaves_the_others_intact(api, web, session):
    _toxic(api, "http_status", "s", status=429, share=0.5)
    limited = 0
    for n in range(200):
        reply = _get(session, f"{web}/doc/{n}")
        if reply.status_code == 429:
            limited += 1
            assert reply.json() == {"error": "injected by gameday", "status": 429}
        else:
            assert reply.json() == _doc(n)
    assert 60 <= limited <= 140
    assert _counts(api, "s")["changed"] == limited
    assert _connections(api) == 1


def test_http_status_replaces_a_chunked_response(api, web, session):
    _toxic(api, "http_status", "s", status=500)
    reply = _get(session, web + "/chunked/1")
    assert reply.status_code == 500
    assert reply.json() == {"error": "injected by gameday", "status": 500}
    api.delete("/proxies/web/toxics/s")
    assert _get(session, web + "/chunked/2").json() == _doc(2)
    assert _connections(api) == 1


def _elapsed(session: requests.Session, url: str) -> float:
    start = time.perf_counter()
    session.get(url, timeout=5).raise_for_status()
    return time.perf_counter() - start


def test_delay_ms_delays_the_response(api, web, session):
    baseline = min(_elapsed(session, web + "/doc/1") for _ in range(5))
    _toxic(api, "http_status", "s", status=0, delay_ms=300)
    delayed = [_elapsed(session, web + "/doc/1") for _ in range(3)]
    assert all(0.3 <= d < 0.3 + baseline + 0.5 for d in delayed), delayed
    assert _counts(api, "s")["changed"] == 3


def test_delay_ms_with_a_status_delays_the_injected_response(api, web, session):
    _toxic(api, "http_status", "s", status=503, delay_ms=200)
    start = time.perf_counter()
    reply = _get(session, web + "/doc/1")
    assert reply.status_code == 503
    assert time.perf_counter() - start >= 0.2


# --- removal mid-stream ------------------------------------------------------------------------


def test_removing_http_json_mid_message_flushes_what_it_held(api, web, session, gate):
    _toxic(api, "http_json", "j", path="features.amount", action="null")
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(session.get, web + "/gated", timeout=5)
        wait_until(gate.first_sent.is_set)
        wait_until(lambda: _counts(api, "j")["messages"] == 1)  # its head is held
        assert not reply.done()
        assert api.delete("/proxies/web/toxics/j").status_code == 204
        gate.release.set()
        assert reply.result(timeout=5).json() == DOC  # the original, whole and unchanged
    assert _get(session, web + "/doc/9").json() == _doc(9)
    assert _connections(api) == 1


def test_removing_http_status_mid_message_lets_the_real_response_through(api, web, session, gate):
    _toxic(api, "http_status", "s", status=503)
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(session.get, web + "/gated", timeout=5)
        wait_until(gate.first_sent.is_set)
        wait_until(lambda: _counts(api, "s")["messages"] == 1)  # held until it is complete
        assert not reply.done()
        assert api.delete("/proxies/web/toxics/s").status_code == 204
        gate.release.set()
        real = reply.result(timeout=5)
        assert (real.status_code, real.json()) == (200, DOC)
    assert _get(session, web + "/doc/4").json() == _doc(4)
    assert _connections(api) == 1


# --- the API ---------------------------------------------------------------------------------


def test_http_toxics_show_their_typed_attributes(api, web):
    body = api.add_toxic(
        "web",
        type="http_json",
        attributes={"path": "a.b", "action": "scale", "value": 1.5, "share": 0.25},
    )
    assert body == {
        "name": "http_json_downstream",
        "type": "http_json",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {
            "path": "a.b",
            "action": "scale",
            "value": 1.5,
            "share": 0.25,
            "direction": "response",
        },
    }
    body = api.add_toxic("web", type="http_status", attributes={"status": 429})
    assert body["attributes"] == {"status": 429, "share": 1.0, "delay_ms": 0}
    assert body["stream"] == "downstream"


def test_stream_follows_direction_and_a_contradiction_is_400(api, web):
    up = api.add_toxic(
        "web", type="http_json", attributes={"path": "a", "action": "null", "direction": "request"}
    )
    assert (up["name"], up["stream"]) == ("http_json_upstream", "upstream")
    derived = api.add_toxic(
        "web",
        name="u2",
        type="http_json",
        stream="upstream",
        attributes={"path": "a", "action": "null"},
    )
    assert derived["attributes"]["direction"] == "request"
    reply = api.post(
        "/proxies/web/toxics",
        json={
            "name": "bad",
            "type": "http_json",
            "stream": "downstream",
            "attributes": {"path": "a", "action": "null", "direction": "request"},
        },
    )
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("bad request body: attributes.direction:")
    assert 'send stream "upstream"' in reply.json()["error"]
    reply = api.post(
        "/proxies/web/toxics",
        json={"type": "http_status", "stream": "upstream", "attributes": {"status": 503}},
    )
    assert reply.status_code == 400
    assert "http_status acts on responses" in reply.json()["error"]


@pytest.mark.parametrize(
    ("kind", "attributes", "named"),
    [
        ("http_json", {"action": "null"}, "attributes.path"),
        ("http_json", {"path": "a..b", "action": "null"}, "attributes.path"),
        ("http_json", {"path": 3, "action": "null"}, "attributes.path"),
        ("http_json", {"path": "a"}, "attributes.action"),
        ("http_json", {"path": "a", "action": "explode"}, "attributes.action"),
        ("http_json", {"path": "a", "action": "scale"}, "attributes.value"),
        ("http_json", {"path": "a", "action": "offset", "value": "1"}, "attributes.value"),
        ("http_json", {"path": "a", "action": "null", "share": 1.5}, "attributes.share"),
        ("http_json", {"path": "a", "action": "null", "share": "all"}, "attributes.share"),
        ("http_json", {"path": "a", "action": "null", "direction": "up"}, "attributes.direction"),
        ("http_status", {}, "attributes.status"),
        ("http_status", {"status": 200}, "attributes.status"),
        ("http_status", {"status": 503.5}, "attributes.status"),
        ("http_status", {"status": "503"}, "attributes.status"),
        ("http_status", {"status": 503, "delay_ms": -1}, "attributes.delay_ms"),
        ("http_status", {"status": 503, "share": -0.1}, "attributes.share"),
    ],
)
def test_bad_attributes_are_400_naming_the_attribute(api, web, kind, attributes, named):
    reply = api.post("/proxies/web/toxics", json={"type": kind, "attributes": attributes})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error.startswith(f"bad request body: {named}: expected") or (
        error.startswith(f"bad request body: {named}: action")
    ), error
    assert api.get("/proxies/web/toxics").json() == []


def test_update_merges_typed_attributes_and_refuses_a_new_direction(api, web, session):
    _toxic(api, "http_json", "j", path="model", action="set", value="a")
    reply = api.patch("/proxies/web/toxics/j", json={"attributes": {"value": {"v": [1]}}})
    assert reply.status_code == 200, reply.text
    assert reply.json()["attributes"]["value"] == {"v": [1]}
    assert _get(session, web + "/doc/1").json()["model"] == {"v": [1]}
    reply = api.patch("/proxies/web/toxics/j", json={"attributes": {"direction": "request"}})
    assert reply.status_code == 400
    assert "cannot change direction" in reply.json()["error"]
    reply = api.patch("/proxies/web/toxics/j", json={"attributes": {"action": "scale"}})
    assert reply.status_code == 400  # scale needs a number and the value is an object
    assert api.get("/proxies/web/toxics/j").json()["attributes"]["action"] == "set"


def test_classic_toxics_keep_their_counters_and_http_ones_add_message_counts(api, web):
    api.add_toxic("web", name="slow", type="latency", attributes={"latency": 1})
    _toxic(api, "http_status", "s", status=503, share=0)
    toxics = api.get("/proxies/web/stats").json()["toxics"]
    assert set(toxics["slow"]) == {"chunks", "bytes", "connections"}
    assert set(toxics["s"]) == {"chunks", "bytes", "connections", "messages", "changed", "passed"}


def test_toxiproxy_python_adds_both_types(client, web_upstream, session):
    proxy = client.create(upstream=web_upstream, name="py")
    url = "http://" + proxy.listen
    proxy.add_toxic(
        type="http_json", attributes={"path": "features.amount", "action": "scale", "value": 2}
    )
    proxy.add_toxic(
        type="http_json",
        stream="upstream",
        name="req",
        attributes={"path": "model", "action": "drop"},
    )
    toxics = proxy.toxics()
    assert toxics["http_json_downstream"].attributes["share"] == 1.0
    assert toxics["req"].attributes["direction"] == "request"
    reply = session.post(url + "/echo", json=_doc(1), timeout=5).json()
    assert "model" not in reply["received"]
    assert _get(session, url + "/doc/1").json()["features"]["amount"] == 240
    proxy.add_toxic(type="http_status", attributes={"status": 503})
    assert _get(session, url + "/doc/1").status_code == 503
