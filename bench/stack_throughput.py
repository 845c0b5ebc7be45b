"""Throughput of the reference stack's ``POST /predict`` under Locust, on this machine.

Starts the embedded stack, then drives it with Locust's default predict user at full speed
(no pacing) and at the catalogue's steady load (20 users, 10 req/s each), and prints
requests/s with p50/p95 latency for each, measured in one run. Not a test: figures vary with
the machine; put them in notes, not assertions.

    python bench/stack_throughput.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gameday.evidence.requests import summarize
from gameday.run.load import Load
from gameday.stack.launcher import Stack

RUNS = (
    ("steady: 20 users x 10 req/s", 20, "0.1"),
    ("saturated: 32 users, no pacing", 32, "0"),
)


def measure(host: str, users: int, pacing: str, seconds: float, workdir: Path) -> dict:
    load = Load(
        host,
        users=users,
        spawn_rate=users,
        run_time_s=seconds + 10,
        workdir=workdir,
        env={"GAMEDAY_PACING_S": pacing},
    )
    load.start()
    warm = time.time() + 3  # leave out the spawn ramp
    deadline = warm + seconds
    while time.time() < deadline:
        load.poll()
        time.sleep(0.5)
    load.stop()
    return summarize(load.records, warm, deadline).to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with Stack() as stack, tempfile.TemporaryDirectory() as tmp:
        host = stack.endpoints["model_server"]
        print(f"{'load':34} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
        for i, (label, users, pacing) in enumerate(RUNS):
            s = measure(host, users, pacing, args.seconds, Path(tmp) / str(i))
            print(
                f"{label:34} {s['rps']:>8} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['error_rate']:>7}"
            )


if __name__ == "__main__":
    main()
