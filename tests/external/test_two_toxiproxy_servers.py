"""A target on two toxiproxy servers, from the environment file to the wire: applied on both,
reverted on both. The servers are ``gameday toxiproxy-server`` processes, as a team runs them.

(tests/injectors/test_network.py covers partial failures against in-thread servers.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml

from gameday import registry
from gameday.injectors.base import FaultContext
from gameday.scenario.environment import load_environment
from gameday.servers.toxiproxy.testing import connect, round_trip, tcp_server

PROXY = "feature_store"


def _proxy(api: str, upstream: str) -> int:
    """Create the proxy on one server; its data-plane port."""
    body = {"name": PROXY, "listen": "127.0.0.1:0", "upstream": upstream}
    reply = requests.post(f"{api}/proxies", json=body, timeout=5)
    assert reply.status_code == 201, reply.text
    return int(reply.json()["listen"].rsplit(":", 1)[1])


def _toxics(api: str) -> list[str]:
    return [t["name"] for t in requests.get(f"{api}/proxies/{PROXY}/toxics", timeout=5).json()]


@pytest.mark.integration
@pytest.mark.slow
def test_a_fault_on_a_two_server_target_slows_both_links_until_reverted(
    toxiproxy_server, tmp_path: Path
):
    apis = [toxiproxy_server(), toxiproxy_server()]
    env_file = tmp_path / "staging.yaml"
    targets = {"feature-store": {"proxy": PROXY, "toxiproxy": apis}}
    env_file.write_text(yaml.safe_dump({"toxiproxy": apis[0], "targets": targets}))
    injector = registry.injectors().get("network.latency")()
    env = load_environment(env_file)
    ctx = FaultContext("zones-0", env.resolve("feature-store", injector), {"latency_ms": 120}, 60)

    with tcp_server() as upstream:
        ports = [_proxy(api, upstream.address) for api in apis]
        applied = injector.apply(ctx)
        try:
            assert [_toxics(api) for api in apis] == [["gameday-zones-0-latency"]] * 2
            for port in ports:
                with connect(port) as sock:
                    assert round_trip(sock) >= 0.119
        finally:
            injector.revert(applied)
        for port in ports:
            with connect(port) as sock:
                assert round_trip(sock) < 0.1
    assert [_toxics(api) for api in apis] == [[], []]
