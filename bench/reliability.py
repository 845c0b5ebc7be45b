"""Reliability of rollback: SIGKILL and SIGINT a real `gameday run` mid-fault, N times each.

    python bench/reliability.py [--kills 10] [--interrupts 10] [--env endpoints.json]

Starts the embedded reference stack (or attaches to ``--env``). Each kill runs a scenario with
a latency toxic and a data fault, SIGKILLs the runner once both are in force, then restores:
odd attempts with ``gameday recover`` (time from the kill until both faults are gone), even
attempts by waiting for the TTL (time from its expiry until both are gone). Each interrupt
sends SIGINT once the toxic is in force and times its disappearance. Prints one line per
attempt and a summary: kills tried/restored, interrupts tried/reverted, with times.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

KILL = """
name: bench-kill
summary: harmless latency and drift, killed mid-fault
timeline: {baseline: 0s, fault: 6s, recovery: 0s, adaptive: false}
faults:
  - {injector: network.latency, target: feature-store, params: {latency_ms: 20}}
  - {injector: data.drift, target: upstream, params: {feature: merchant_risk, shift_sigma: 0.1}}
expect: [{alert: FeaturesStale, silent: true}]
"""
INTERRUPT = """
name: bench-interrupt
summary: harmless latency, interrupted mid-fault
timeline: {baseline: 0s, fault: 60s, recovery: 0s, adaptive: false}
faults:
  - {injector: network.latency, target: feature-store, params: {latency_ms: 20}}
expect: [{alert: FeaturesStale, silent: true}]
"""
TTL_MARGIN_S = 2.0


def poll(check: Callable[[], object], timeout: float, interval: float = 0.01) -> float | None:
    """Seconds until ``check()`` is truthy (polled), or None after ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            return None
        time.sleep(interval)
    return time.monotonic() - start


class Stack:
    """The faults of the stack under test, as seen from outside."""

    def __init__(self, endpoints: dict[str, str]):
        self.toxiproxy, self.producer = endpoints["toxiproxy"], endpoints["producer"]

    def toxics(self) -> list[str]:
        reply = requests.get(f"{self.toxiproxy}/proxies/feature_store/toxics", timeout=5)
        return [t["name"] for t in reply.json() if t["name"].startswith("gameday-")]

    def data_faults(self) -> list[str]:
        reply = requests.get(f"{self.producer}/internal/faults", timeout=5)
        return [f["id"] for f in reply.json()["faults"]]

    def faulty(self) -> bool:
        return bool(self.toxics() or self.data_faults())


def gameday(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gameday", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        **kwargs,  # type: ignore[call-overload]
    )


def start_run(scenario: Path, env: Path, work: Path) -> subprocess.Popen[bytes]:
    return gameday("run", str(scenario), "--env", str(env), "--journal", str(work / "journal"),
                   "--workdir", str(work / "runs"), "--no-history",
                   "--ttl-margin", str(TTL_MARGIN_S))  # fmt: skip


def kill_once(
    stack: Stack, scenario: Path, env: Path, work: Path, use_recover: bool
) -> tuple[str, bool, float]:
    """(how restored, restored?, seconds): from the kill (recover) or from the TTL's expiry."""
    run = start_run(scenario, env, work)
    applied = poll(lambda: stack.toxics() and stack.data_faults(), 60, 0.02)
    run.kill()
    run.wait()
    killed = time.monotonic()
    journal = work / "journal"
    if applied is None:
        return "never applied", False, float("nan")
    if use_recover:
        code = gameday("recover", "--journal", str(journal)).wait()
        gone = poll(lambda: not stack.faulty(), 5)
        return "recover", code == 0 and gone is not None, time.monotonic() - killed
    expires = max(json.loads(e.read_text())["expires_at"] for e in journal.glob("*.json"))
    gone = poll(lambda: not stack.faulty(), 60, 0.05)
    late = time.time() - expires
    gameday("recover", "--journal", str(journal)).wait()  # tidy the journal
    return "TTL", gone is not None, late


def interrupt_once(stack: Stack, scenario: Path, env: Path, work: Path) -> tuple[bool, float]:
    run = start_run(scenario, env, work)
    if poll(stack.toxics, 60, 0.02) is None:
        run.kill()
        return False, float("nan")
    run.send_signal(signal.SIGINT)
    took = poll(lambda: not stack.toxics(), 10)
    code = run.wait(60)
    return took is not None and code == 3, (took if took is not None else float("nan"))


@contextlib.contextmanager
def environment(path: str | None, work: Path) -> Iterator[Path]:
    if path:
        yield Path(path)
        return
    from gameday.stack.launcher import Stack as Embedded

    with Embedded() as embedded:
        env = work / "endpoints.json"
        env.write_text(json.dumps(embedded.endpoints))
        yield env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--interrupts", type=int, default=10)
    parser.add_argument("--env", help="endpoints of a running stack (default: start one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, environment(args.env, Path(tmp)) as env:
        work = Path(tmp)
        (work / "kill.yaml").write_text(KILL)
        (work / "interrupt.yaml").write_text(INTERRUPT)
        stack = Stack(json.loads(env.read_text()))
        kills = [kill_once(stack, work / "kill.yaml", env, work / f"k{i}", i % 2 == 0)
                 for i in range(args.kills)]  # fmt: skip
        for i, (how, ok, took) in enumerate(kills):
            when = "after the kill" if how == "recover" else "from the TTL's expiry"
            print(
                f"kill {i + 1:2d}: {'restored' if ok else 'FAILED'} by {how} {took:+.2f} s {when}"
            )
        interrupts = [interrupt_once(stack, work / "interrupt.yaml", env, work / f"i{i}")
                      for i in range(args.interrupts)]  # fmt: skip
        for i, (ok, took) in enumerate(interrupts):
            print(f"interrupt {i + 1:2d}: {'reverted' if ok else 'FAILED'} in {took * 1000:.0f} ms")
    summarise(kills, interrupts)


def summarise(kills: list[tuple[str, bool, float]], interrupts: list[tuple[bool, float]]) -> None:
    restored = sum(ok for _, ok, _ in kills)
    print(f"\nkills:      tried {len(kills)}, restored {restored}")
    for how, what in (("recover", "after the kill"), ("TTL", "after the TTL's expiry")):
        times = [t for h, ok, t in kills if h == how and ok]
        if times:
            print(f"  by {how:<7} {len(times)}: median {statistics.median(times):.2f} s, "
                  f"max {max(times):.2f} s {what}")  # fmt: skip
    times = [t for ok, t in interrupts if ok]
    print(f"interrupts: tried {len(interrupts)}, reverted (exit 3) {len(times)}")
    if times:
        median, worst = statistics.median(times) * 1000, max(times) * 1000
        print(f"  from SIGINT to the toxic's removal: median {median:.0f} ms, max {worst:.0f} ms")


if __name__ == "__main__":
    main()
