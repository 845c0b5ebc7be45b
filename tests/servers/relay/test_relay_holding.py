"""Faults that hold batches back (stale, delay), TTLs, reset, and what a revert releases: held
batches reach landing unchanged, in upstream order, and nothing is lost."""

from __future__ import annotations

import time

import pytest

from gameday.servers.relay import TTL_KEY, running_server
from gameday.servers.relay.testing import ArrivalLog, landed, wait_until, write_rows

NAMES = [f"b-{i:04d}.csv" for i in range(1, 6)]


@pytest.fixture
def arrivals(folders):
    log = ArrivalLog(folders.landing)
    yield log
    log.close()


def produce_all(folders, names=NAMES) -> dict[str, bytes]:
    """Write each batch (a distinct modification time each, so upstream order is clear)."""
    sent = {}
    for i, name in enumerate(names):
        sent[name] = write_rows(folders.upstream, name, {"i": [i], "x": [i * 1.5]})
        time.sleep(0.02)
    return sent


def wait_held(api, relay: str, count: int) -> None:
    wait_until(lambda: api.stats(relay)["held"] == count)


def assert_landed_unchanged(folders, sent: dict[str, bytes]) -> None:
    assert landed(folders.landing) == sorted(sent)
    for name, data in sent.items():
        assert (folders.landing / name).read_bytes() == data


def test_stale_holds_every_batch_and_revert_releases_them_in_order(api, relay, folders, arrivals):
    api.add_fault(relay, name="s", type="stale")
    sent = produce_all(folders)
    wait_held(api, relay, 5)
    time.sleep(0.3)  # several polls: still nothing may land
    assert landed(folders.landing) == []
    assert landed(folders.upstream) == []
    assert [p.read_bytes() for p in folders.held()] == list(sent.values())
    evidence = api.fault(relay, "s")["evidence"]
    assert evidence["batches"] == [n.removesuffix(".csv") for n in NAMES]
    assert (evidence["held"], evidence["released"]) == (5, 0)

    final = api.remove_fault(relay, "s")
    assert arrivals.arrived() == NAMES
    assert_landed_unchanged(folders, sent)
    assert (final["evidence"]["held"], final["evidence"]["released"]) == (5 - 5, 5)
    assert folders.held() == []
    assert api.stats(relay)["held"] == 0


def test_batches_after_a_stale_revert_flow_again(api, relay, folders):
    api.add_fault(relay, name="s", type="stale")
    produce_all(folders, NAMES[:2])
    wait_held(api, relay, 2)
    api.remove_fault(relay, "s")
    write_rows(folders.upstream, "later.csv", {"i": [9]})
    wait_until(lambda: "later.csv" in landed(folders.landing))
    assert api.stats(relay)["batches"] == 3


def test_a_stale_limited_to_one_batch_keeps_order_for_the_next(api, relay, folders, arrivals):
    """Later batches queue behind a held one, so landing still sees upstream order."""
    api.add_fault(relay, name="s", type="stale", attributes={"batches": 1})
    produce_all(folders, NAMES[:3])
    wait_held(api, relay, 3)
    assert landed(folders.landing) == []
    assert api.fault(relay, "s")["evidence"]["batches"] == ["b-0001"]
    api.remove_fault(relay, "s")
    assert arrivals.arrived() == NAMES[:3]


def test_delay_holds_each_batch_for_delay_s_in_order(api, relay, folders, arrivals):
    api.add_fault(relay, name="d", type="delay", attributes={"delay_s": 0.6})
    written = {}
    for name in NAMES[:3]:
        write_rows(folders.upstream, name, {"i": [1]})
        written[name] = time.monotonic()
        time.sleep(0.1)
    seen: dict[str, float] = {}

    def all_landed() -> bool:
        for name in arrivals.arrived():
            seen.setdefault(name, time.monotonic())
        return len(seen) == 3

    wait_until(all_landed, timeout=10, every=0.005)
    assert list(seen) == NAMES[:3]
    for name, at in written.items():
        assert 0.6 <= seen[name] - at < 0.6 + 0.5, name
    evidence = api.fault(relay, "d")["evidence"]
    assert (evidence["held"], evidence["released"]) == (0, 3)


def test_delay_revert_releases_at_once(api, relay, folders):
    api.add_fault(relay, name="d", type="delay", attributes={"delay_s": 60})
    sent = produce_all(folders, NAMES[:2])
    wait_held(api, relay, 2)
    api.remove_fault(relay, "d")
    assert_landed_unchanged(folders, sent)


def test_a_fault_with_a_ttl_reverts_itself_and_releases_what_it_held(api, relay, folders):
    api.add_fault(relay, name="s", type="stale", **{TTL_KEY: 0.8})
    sent = produce_all(folders, NAMES[:2])
    wait_held(api, relay, 2)
    wait_until(lambda: api.get(f"/relays/{relay}/faults").json() == [], timeout=5)
    wait_until(lambda: len(landed(folders.landing)) == 2)
    assert_landed_unchanged(folders, sent)
    assert folders.held() == []


def test_a_content_fault_with_a_ttl_stops_changing_batches(api, relay, folders):
    api.add_fault(relay, name="n", type="null_column", attributes={"column": "x"}, **{TTL_KEY: 0.5})
    write_rows(folders.upstream, "early.csv", {"x": [1.5]})
    wait_until(lambda: landed(folders.landing) == ["early.csv"])
    assert len(folders.kept()) == 1
    wait_until(lambda: api.get(f"/relays/{relay}/faults").json() == [], timeout=5)
    assert folders.kept() == []  # the original is dropped with the fault
    late = write_rows(folders.upstream, "late.csv", {"x": [1.5]})
    wait_until(lambda: "late.csv" in landed(folders.landing))
    assert (folders.landing / "late.csv").read_bytes() == late


def test_reset_releases_held_batches_unchanged(api, relay, folders, arrivals):
    api.add_fault(relay, name="s", type="stale")
    api.add_fault(relay, name="n", type="null_column", attributes={"column": "x"})
    sent = produce_all(folders, NAMES[:3])
    wait_held(api, relay, 3)
    assert api.post("/reset").status_code == 204
    assert arrivals.arrived() == NAMES[:3]
    assert_landed_unchanged(folders, sent)


def test_a_held_batch_meets_the_content_faults_active_when_it_leaves(api, relay, folders):
    api.add_fault(relay, name="s", type="stale")
    api.add_fault(relay, name="n", type="null_column", attributes={"column": "x"})
    produce_all(folders, NAMES[:1])
    wait_held(api, relay, 1)
    api.remove_fault(relay, "s")
    assert (folders.landing / NAMES[0]).read_text().splitlines()[1] == "0,"
    assert api.fault(relay, "n")["evidence"]["batches"] == ["b-0001"]


def test_deleting_a_relay_releases_what_it_held(api, relay, folders):
    api.add_fault(relay, type="stale")
    sent = produce_all(folders, NAMES[:2])
    wait_held(api, relay, 2)
    assert api.delete(f"/relays/{relay}").status_code == 204
    assert_landed_unchanged(folders, sent)
    assert list(folders.state.glob("relays/*")) == []


def test_stopping_the_server_releases_what_it_held(folders):
    import requests

    with running_server(folders.state) as server:
        body = {"name": "b", "upstream": str(folders.upstream), "landing": str(folders.landing)}
        requests.post(server.url + "/relays", json=body, timeout=5)
        requests.post(server.url + "/relays/b/faults", json={"type": "stale"}, timeout=5)
        sent = produce_all(folders, NAMES[:2])
        wait_until(
            lambda: requests.get(server.url + "/relays/b/stats", timeout=5).json()["held"] == 2
        )
    assert_landed_unchanged(folders, sent)
    assert list(folders.state.glob("relays/*")) == []
