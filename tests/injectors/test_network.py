"""Network injectors against real embedded toxiproxy servers and a real echo upstream."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from gameday.errors import InjectionError
from gameday.injectors.base import Applied, FaultContext, Injector, Target
from gameday.injectors.network import (
    INJECTORS,
    BandwidthInjector,
    DownInjector,
    LatencyInjector,
    LimitDataInjector,
    ResetPeerInjector,
    SlicerInjector,
    SlowCloseInjector,
    TimeoutInjector,
)
from gameday.servers.toxiproxy import running_server
from gameday.servers.toxiproxy.testing import (
    connect,
    recv_until_eof,
    round_trip,
    tcp_server,
    wait_until,
)

PROXY = "feature_store"


@pytest.fixture
def upstream():
    with tcp_server() as server:
        yield server


@pytest.fixture
def servers(upstream) -> Iterator[list[tuple[str, int]]]:
    """Two embedded toxiproxy servers, each with proxy ``feature_store``: (API URL, proxy port)."""
    with running_server() as one, running_server() as two:
        out = []
        for server in (one, two):
            body = {"name": PROXY, "upstream": upstream.address}
            listen = requests.post(server.url + "/proxies", json=body, timeout=5).json()["listen"]
            out.append((server.url, int(listen.rsplit(":", 1)[1])))
        yield out


def _ctx(urls: list[str], params: dict | None = None, ttl_s: float = 60.0, fault_id: str = "f1"):
    target = Target("feature-store", "proxy", {"toxiproxy": urls, "proxy": PROXY})
    return FaultContext(fault_id=fault_id, target=target, params=params or {}, ttl_s=ttl_s)


def _toxics(url: str) -> list[dict]:
    return requests.get(f"{url}/proxies/{PROXY}/toxics", timeout=5).json()


def _enabled(url: str) -> bool:
    return requests.get(f"{url}/proxies/{PROXY}", timeout=5).json()["enabled"]


# --- the registry contract ----------------------------------------------------------------------


def test_every_contract_name_is_exported_once():
    names = [cls.name for cls in INJECTORS]
    assert sorted(names) == sorted(
        [
            "network.latency",
            "network.down",
            "network.timeout",
            "network.reset_peer",
            "network.bandwidth",
            "network.slow_close",
            "network.slicer",
            "network.limit_data",
        ]
    )
    for cls in INJECTORS:
        assert issubclass(cls, Injector)
        assert cls.target_kinds == ("proxy",)
        assert cls.summary


def test_params_and_defaults_match_the_contract():
    def defaults(cls):
        return {p.name: (None if p.required else p.default) for p in cls.params}

    assert defaults(LatencyInjector) == {
        "latency_ms": None,
        "jitter_ms": 0,
        "stream": "downstream",
        "toxicity": 1.0,
    }
    assert defaults(DownInjector) == {}
    assert defaults(TimeoutInjector) == {
        "timeout_ms": None,
        "stream": "downstream",
        "toxicity": 1.0,
    }
    assert defaults(ResetPeerInjector)["timeout_ms"] == 0
    assert "rate_kbps" in defaults(BandwidthInjector)
    assert "delay_ms" in defaults(SlowCloseInjector)
    assert {"average_size", "size_variation", "delay_us"} <= set(defaults(SlicerInjector))
    assert "bytes" in defaults(LimitDataInjector)


# --- apply, measure, revert ---------------------------------------------------------------


def test_latency_fault_slows_the_link_until_reverted(servers):
    url, port = servers[0]
    injector = LatencyInjector()
    with connect(port) as sock:
        assert round_trip(sock) < 0.05
        applied = injector.apply(_ctx([url], {"latency_ms": 150}))
        assert round_trip(sock) >= 0.149
        injector.revert(applied)
        assert round_trip(sock) < 0.05
    injector.revert(applied)  # a second revert is harmless


def test_fault_is_applied_on_every_server_and_reverted_on_all(servers):
    urls = [url for url, _ in servers]
    applied = LatencyInjector().apply(_ctx(urls, {"latency_ms": 100}))
    for url, port in servers:
        assert [t["name"] for t in _toxics(url)] == ["gameday-f1-latency"]
        with connect(port) as sock:
            assert round_trip(sock) >= 0.099
    LatencyInjector().revert(applied)
    assert all(_toxics(url) == [] for url in urls)


def _toxic(kind: str, attributes: dict, stream: str = "downstream", toxicity: float = 1.0):
    return {"type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes}


@pytest.mark.parametrize(
    ("cls", "params", "toxic"),
    [
        (
            LatencyInjector,
            {"latency_ms": 80, "jitter_ms": 5, "stream": "upstream", "toxicity": 0.5},
            _toxic("latency", {"latency": 80, "jitter": 5}, "upstream", 0.5),
        ),
        (TimeoutInjector, {"timeout_ms": 0}, _toxic("timeout", {"timeout": 0})),
        (ResetPeerInjector, {}, _toxic("reset_peer", {"timeout": 0})),
        (BandwidthInjector, {"rate_kbps": 64}, _toxic("bandwidth", {"rate": 64})),
        (
            SlowCloseInjector,
            {"delay_ms": 250, "stream": "upstream"},
            _toxic("slow_close", {"delay": 250}, "upstream"),
        ),
        (
            SlicerInjector,
            {"average_size": 10, "size_variation": 4, "delay_us": 100},
            _toxic("slicer", {"average_size": 10, "size_variation": 4, "delay": 100}),
        ),
        (LimitDataInjector, {"bytes": 1000}, _toxic("limit_data", {"bytes": 1000})),
    ],
)
def test_each_toxic_fault_sets_its_toxic_and_revert_removes_it(servers, cls, params, toxic):
    url, _ = servers[0]
    applied = cls().apply(_ctx([url], params))
    name = f"gameday-f1-{toxic['type']}"
    assert _toxics(url) == [{"name": name, **toxic}]
    assert applied.evidence["toxic"] == {"name": name, **toxic}
    cls().revert(applied)
    assert _toxics(url) == []


def test_reset_peer_fault_resets_connections(servers):
    url, port = servers[0]
    applied = ResetPeerInjector().apply(_ctx([url]))
    with connect(port) as sock, pytest.raises(ConnectionResetError):
        round_trip(sock)
    ResetPeerInjector().revert(applied)
    with connect(port) as sock:
        round_trip(sock)


def test_timeout_fault_swallows_data_and_closes_after_the_timeout(servers):
    url, port = servers[0]
    applied = TimeoutInjector().apply(_ctx([url], {"timeout_ms": 100}))
    with connect(port) as sock:
        sock.sendall(b"lost")
        assert recv_until_eof(sock) == b""
    TimeoutInjector().revert(applied)


def test_down_fault_refuses_connections_until_reverted(servers):
    url, port = servers[0]
    injector = DownInjector()
    applied = injector.apply(_ctx([url]))
    assert not _enabled(url)
    with pytest.raises(ConnectionRefusedError):
        connect(port)
    injector.revert(applied)
    with connect(port) as sock:
        round_trip(sock)
    injector.revert(applied)


def test_down_fault_leaves_an_already_disabled_proxy_disabled(servers):
    (url_a, _), (url_b, _) = servers
    requests.post(f"{url_b}/proxies/{PROXY}", json={"enabled": False}, timeout=5)
    applied = DownInjector().apply(_ctx([url_a, url_b]))
    assert applied.undo["disabled_on"] == [url_a]
    DownInjector().revert(applied)
    assert _enabled(url_a)
    assert not _enabled(url_b)


# --- whether the fault took effect (the servers' counters) ----------------------------------------


def test_latency_fault_with_traffic_took_effect(servers):
    url, port = servers[0]
    injector = LatencyInjector()
    applied = injector.apply(_ctx([url], {"latency_ms": 20}))
    with connect(port) as sock:
        round_trip(sock, b"0123456789")
    reverted = injector.revert(applied)
    [counted] = reverted["stats_at_revert"]
    assert counted["toxic"] == {"chunks": 1, "bytes": 10, "connections": 1}
    effect = injector.effect(applied, reverted)
    assert effect is not None and effect.took_effect is True
    assert effect.evidence["chunks"] == 1 and effect.evidence["bytes"] == 10


def test_latency_fault_without_traffic_took_no_effect(servers):
    url, _ = servers[0]
    injector = LatencyInjector()
    applied = injector.apply(_ctx([url], {"latency_ms": 20}))
    effect = injector.effect(applied, injector.revert(applied))
    assert effect is not None and effect.took_effect is False
    assert effect.detail == f"no data crossed {PROXY} while the toxic was on"


def test_counters_are_read_on_every_server_before_the_toxic_goes(servers):
    """Traffic through the second server only: the fault took effect there."""
    urls = [url for url, _ in servers]
    injector = TimeoutInjector()
    applied = injector.apply(_ctx(urls, {"timeout_ms": 0}))
    with connect(servers[1][1]) as sock:
        sock.sendall(b"ping")
        wait_until(lambda: _toxic_chunks(urls[1], "gameday-f1-timeout") == 1)
    reverted = injector.revert(applied)
    assert [s["toxiproxy"] for s in reverted["stats_at_revert"]] == urls
    assert [s["toxic"]["chunks"] for s in reverted["stats_at_revert"]] == [0, 1]
    assert all(_toxics(url) == [] for url in urls)
    effect = injector.effect(applied, reverted)
    assert effect is not None and effect.took_effect is True


def test_traffic_the_toxic_did_not_act_on_is_no_effect(servers):
    url, port = servers[0]
    injector = LatencyInjector()
    applied = injector.apply(_ctx([url], {"latency_ms": 20, "toxicity": 0.0}))
    with connect(port) as sock:
        round_trip(sock, b"12345")
    effect = injector.effect(applied, injector.revert(applied))
    assert effect is not None and effect.took_effect is False
    assert effect.detail == f"5 bytes crossed {PROXY} but the toxic acted on none of them " + (
        "(toxicity 0.0)"
    )


def test_a_toxic_gone_before_the_revert_cannot_tell(servers):
    url, _ = servers[0]
    injector = LatencyInjector()
    applied = injector.apply(_ctx([url], {"latency_ms": 1}, ttl_s=0.2))
    wait_until(lambda: _toxics(url) == [])
    effect = injector.effect(applied, injector.revert(applied))
    assert effect is not None and effect.took_effect is None
    assert "gone before the revert" in effect.detail


def test_a_server_without_counters_cannot_tell(servers):
    """A real toxiproxy-server answers 404 on the stats path: the fault still works."""
    url, port = servers[0]
    with _without_stats(url) as real:
        injector = LatencyInjector()
        applied = injector.apply(_ctx([real], {"latency_ms": 20}))
        with connect(port) as sock:
            assert round_trip(sock) >= 0.019
        reverted = injector.revert(applied)
        down = DownInjector()
        down_applied = down.apply(_ctx([real]))
        down.revert(down_applied)
    assert _toxics(url) == []
    for effect in (injector.effect(applied, reverted), down.effect(down_applied, {})):
        assert effect is not None and effect.took_effect is None
        assert effect.detail == "target keeps no counters"


def test_down_fault_on_a_link_in_use_took_effect(servers):
    url, port = servers[0]
    with connect(port) as sock:
        round_trip(sock, b"abc")
    injector = DownInjector()
    applied = injector.apply(_ctx([url]))
    [stats] = applied.evidence["stats_at_apply"]
    assert stats["enabled"] is False and stats["bytes"] == {"upstream": 3, "downstream": 3}
    effect = injector.effect(applied, injector.revert(applied))
    assert effect is not None and effect.took_effect is True


def test_down_fault_on_an_unused_link_took_no_effect(servers):
    url, _ = servers[0]
    injector = DownInjector()
    applied = injector.apply(_ctx([url]))
    effect = injector.effect(applied, injector.revert(applied))
    assert effect is not None and effect.took_effect is False
    assert "no data had crossed" in effect.detail


def test_down_fault_on_a_link_already_down_took_no_effect(servers):
    url, _ = servers[0]
    requests.post(f"{url}/proxies/{PROXY}", json={"enabled": False}, timeout=5)
    injector = DownInjector()
    applied = injector.apply(_ctx([url]))
    effect = injector.effect(applied, injector.revert(applied))
    assert effect is not None and effect.took_effect is False
    assert "already disabled" in effect.detail


def _toxic_chunks(url: str, toxic: str) -> int:
    stats = requests.get(f"{url}/proxies/{PROXY}/stats", timeout=5).json()
    return int(stats["toxics"][toxic]["chunks"])


@contextlib.contextmanager
def _without_stats(upstream: str) -> Iterator[str]:
    """A front for ``upstream``'s API that has no stats endpoint, as a real toxiproxy-server
    (whose router answers ``404 page not found`` in plain text for a path it does not know)."""

    class Front(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if self.path.endswith("/stats"):
                self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
                return
            length = int(self.headers.get("Content-Length") or 0)
            reply = requests.request(
                self.command, upstream + self.path, timeout=5,
                data=self.rfile.read(length) if length else None,
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            self._send(reply.status_code, reply.content, "application/json")

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _forward  # noqa: N815 - http.server's naming

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- failures are loud, partial applies are undone ------------------------------------------------


def test_failure_on_the_second_server_undoes_the_first(servers):
    (url_a, _), (url_b, _) = servers
    requests.delete(f"{url_b}/proxies/{PROXY}", timeout=5)
    with pytest.raises(InjectionError, match="proxy not found"):
        LatencyInjector().apply(_ctx([url_a, url_b], {"latency_ms": 10}))
    assert _toxics(url_a) == []


def test_down_failure_on_the_second_server_re_enables_the_first(servers):
    (url_a, _), (url_b, _) = servers
    requests.delete(f"{url_b}/proxies/{PROXY}", timeout=5)
    with pytest.raises(InjectionError):
        DownInjector().apply(_ctx([url_a, url_b]))
    assert _enabled(url_a)


def test_applying_the_same_fault_twice_is_an_error(servers):
    url, _ = servers[0]
    LatencyInjector().apply(_ctx([url], {"latency_ms": 10}))
    with pytest.raises(InjectionError, match="toxic already exists"):
        LatencyInjector().apply(_ctx([url], {"latency_ms": 10}))


def _dead_url() -> str:
    """A URL on a loopback port nobody listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_unreachable_api_raises_injection_error_on_apply_and_revert():
    url = _dead_url()
    with pytest.raises(InjectionError, match="failed"):
        LatencyInjector().apply(_ctx([url], {"latency_ms": 10}))
    with pytest.raises(InjectionError, match="failed"):
        DownInjector().apply(_ctx([url]))
    applied = Applied(
        "network.latency", "f1", "feature-store", {"toxiproxy": [url], "proxy": PROXY, "toxic": "t"}
    )
    with pytest.raises(InjectionError, match="revert"):
        LatencyInjector().revert(applied)


@contextlib.contextmanager
def _failing_api() -> Iterator[str]:
    """An HTTP server that answers every request with 500 and a toxiproxy-shaped error."""

    class Failing(BaseHTTPRequestHandler):
        def _fail(self) -> None:
            body = b'{"error": "disk on fire", "status": 500}'
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _fail  # noqa: N815 - http.server's naming

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_server_errors_raise_injection_error_with_the_reason():
    with _failing_api() as url:
        with pytest.raises(InjectionError, match="500: disk on fire"):
            LatencyInjector().apply(_ctx([url], {"latency_ms": 10}))
        undo = {"toxiproxy": [url], "proxy": PROXY, "toxic": "t"}
        with pytest.raises(InjectionError, match="disk on fire"):
            LatencyInjector().revert(Applied("network.latency", "f1", "feature-store", undo))
        undo = {"toxiproxy": [url], "proxy": PROXY, "disabled_on": [url]}
        with pytest.raises(InjectionError, match="disk on fire"):
            DownInjector().revert(Applied("network.down", "f1", "feature-store", undo))


def test_revert_tries_every_server_before_raising(servers):
    url, _ = servers[0]
    applied = LatencyInjector().apply(_ctx([url], {"latency_ms": 10}))
    undo = {**applied.undo, "toxiproxy": [_dead_url(), url]}
    with pytest.raises(InjectionError):
        LatencyInjector().revert(Applied(applied.injector, "f1", "feature-store", undo))
    assert _toxics(url) == []


def test_target_without_settings_is_an_injection_error():
    ctx = FaultContext("f1", Target("feature-store", "proxy", {}), {"latency_ms": 1}, 60)
    with pytest.raises(InjectionError, match="toxiproxy"):
        LatencyInjector().apply(ctx)


# --- params -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "params", "named"),
    [
        (LatencyInjector, {}, "latency_ms"),
        (LatencyInjector, {"latency_ms": "slow"}, "latency_ms"),
        (LatencyInjector, {"latency_ms": -1}, "latency_ms"),
        (LatencyInjector, {"latency_ms": 1.5}, "latency_ms"),
        (LatencyInjector, {"latency_ms": 10, "jitter_ms": -5}, "jitter_ms"),
        (LatencyInjector, {"latency_ms": 10, "stream": "sideways"}, "stream"),
        (LatencyInjector, {"latency_ms": 10, "toxicity": 1.5}, "toxicity"),
        (LatencyInjector, {"latency_ms": 10, "latency": 5}, "latency"),
        (DownInjector, {"anything": 1}, "anything"),
        (TimeoutInjector, {}, "timeout_ms"),
        (BandwidthInjector, {"rate_kbps": -1}, "rate_kbps"),
        (SlowCloseInjector, {"delay_ms": True}, "delay_ms"),
        (SlicerInjector, {"average_size": 0}, "average_size"),
        (SlicerInjector, {"average_size": 10, "size_variation": 10}, "size_variation"),
        (LimitDataInjector, {"bytes": "1k"}, "bytes"),
    ],
)
def test_bad_params_raise_value_error_naming_the_param(cls, params, named):
    with pytest.raises(ValueError, match=named):
        cls().apply(_ctx(["http://127.0.0.1:9"], params))


# --- TTL and the undo record -------------------------------------------------------------


def test_ttl_is_sent_so_the_embedded_server_expires_a_toxic_by_itself(servers):
    url, _ = servers[0]
    LatencyInjector().apply(_ctx([url], {"latency_ms": 10}, ttl_s=0.3))
    assert _toxics(url) != []
    wait_until(lambda: _toxics(url) == [])


def test_ttl_is_sent_so_the_embedded_server_re_enables_a_proxy_by_itself(servers):
    url, port = servers[0]
    DownInjector().apply(_ctx([url], ttl_s=0.3))
    assert not _enabled(url)
    wait_until(lambda: _enabled(url))
    with connect(port) as sock:
        round_trip(sock)


def test_applied_record_is_json_and_reverts_from_another_instance(servers):
    urls = [url for url, _ in servers]
    applied = SlowCloseInjector().apply(_ctx(urls, {"delay_ms": 10}, fault_id="run7-2"))
    record = json.loads(json.dumps(applied.to_json()))
    assert record["undo"] == {
        "toxiproxy": urls,
        "proxy": PROXY,
        "toxic": "gameday-run7-2-slow_close",
    }
    assert record["evidence"]["ttl_s"] == 60.0
    SlowCloseInjector().revert(Applied.from_json(record))
    assert all(_toxics(url) == [] for url in urls)


def test_fault_ids_with_url_unsafe_characters_make_safe_toxic_names(servers):
    url, _ = servers[0]
    applied = LatencyInjector().apply(_ctx([url], {"latency_ms": 1}, fault_id="a/b c?d"))
    assert [t["name"] for t in _toxics(url)] == ["gameday-a_b_c_d-latency"]
    LatencyInjector().revert(applied)
    assert _toxics(url) == []
