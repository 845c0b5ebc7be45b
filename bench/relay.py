"""What the batch relay costs with no fault active: direct move vs through the relay, side by side.

    python bench/relay.py [--big-mb 100] [--big-batches 4] [--small-mb 10] [--small-batches 20]

Starts the relay server as a process (``python -m gameday.servers.relay``) and measures, for
each layout available here (upstream and landing on one filesystem, where the relay renames;
and on two filesystems, ``/dev/shm`` to a disk folder, where it must copy):

* throughput for 100 MB Parquet batches: the batches are renamed into upstream together and
  timed until the last one is complete in landing, against a direct copy of the same files
  (copy to a dot-named temp file, rename; what a careful mover does), as MB/s and a ratio;
* added delay per 10 MB batch: from the batch's rename into upstream to its rename into
  landing (seen by inotify), one batch at a time, against the time a direct copy takes.

Targets: relay >= 50 % of a direct copy's MB/s for 100 MB batches; <= 50 ms added per 10 MB
batch (p50). Every wait has a deadline, so a stuck relay fails the run instead of hanging it.
"""

from __future__ import annotations

import argparse
import functools
import os
import select
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import requests

from gameday import _procs
from gameday.servers.relay.inotify import IN_MOVED_TO, Inotify

DEADLINE_S = 120.0
THROUGHPUT_TARGET = 0.5
ADDED_MS_TARGET = 50.0


@dataclass(frozen=True)
class Layout:
    """Where the batches start (staging, on upstream's filesystem), go, and end."""

    name: str
    staging: Path
    upstream: Path
    landing: Path

    @property
    def renames(self) -> bool:
        """True if upstream and landing share a filesystem (a move is a rename)."""
        return os.stat(self.upstream).st_dev == os.stat(self.landing).st_dev


def _parquet(path: Path, megabytes: int, seed: int) -> None:
    """A Parquet file of about ``megabytes`` MB (random doubles do not compress)."""
    rows = megabytes * 1_000_000 // (8 * 10)
    rng = np.random.default_rng(seed)
    table = pa.table({f"f{j}": rng.normal(size=rows) for j in range(10)})
    pq.write_table(table, path, compression="none")


def _direct_copy(src: Path, landing: Path) -> None:
    temp = landing / f".{src.name}.tmp"
    shutil.copyfile(src, temp)
    os.replace(temp, landing / src.name)


def _wait_landed(watch: Inotify, names: set[str], deadline_s: float = DEADLINE_S) -> float:
    """Block until every name was renamed into the watched folder; the time the last one was."""
    left, deadline = set(names), time.monotonic() + deadline_s
    while left:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            raise TimeoutError(f"not in landing after {deadline_s:g} s: {sorted(left)}")
        if select.select([watch.fileno()], [], [], timeout)[0]:
            left -= set(watch.read())
    return time.perf_counter()


def _clear(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink()


def _stage(layout: Layout, template: Path, count: int, tag: str) -> list[Path]:
    """``count`` copies of ``template`` in staging, ready to be renamed into place."""
    staged = []
    for i in range(count):
        path = layout.staging / f"{tag}-{i:03d}.parquet"
        shutil.copyfile(template, path)
        staged.append(path)
    return staged


def _through_relay(layout: Layout, staged: list[Path]) -> float:
    """Seconds from renaming every staged batch into upstream to the last landing."""
    watch = Inotify.open(str(layout.landing), IN_MOVED_TO)
    assert watch is not None, "inotify is needed to time arrivals"
    try:
        start = time.perf_counter()
        for path in staged:
            os.rename(path, layout.upstream / path.name)
        return _wait_landed(watch, {p.name for p in staged}) - start
    finally:
        watch.close()


def _direct(layout: Layout, staged: list[Path]) -> float:
    start = time.perf_counter()
    for path in staged:
        _direct_copy(path, layout.landing)
        path.unlink()
    return time.perf_counter() - start


def _throughput(layout: Layout, template: Path, count: int, rounds: int) -> tuple[float, float]:
    """Median MB/s (direct copy, relay) over ``rounds`` alternating rounds."""
    size_mb = template.stat().st_size * count / 1e6
    rates: dict[str, list[float]] = {"direct": [], "relay": []}
    order: list[tuple[str, Callable[[Layout, list[Path]], float]]] = [
        ("direct", _direct),
        ("relay", _through_relay),
    ]
    for r in range(rounds):
        for label, fn in order if r % 2 == 0 else order[::-1]:  # alternate who goes first
            staged = _stage(layout, template, count, f"{label}{r}")
            rates[label].append(size_mb / fn(layout, staged))
            _clear(layout.landing)
    return statistics.median(rates["direct"]), statistics.median(rates["relay"])


def _latencies(layout: Layout, template: Path, count: int) -> dict[str, list[float]]:
    """Per batch, one at a time: direct copy time, direct rename time, relay delivery time."""
    out: dict[str, list[float]] = {"copy": [], "rename": [], "relay": []}
    watch = Inotify.open(str(layout.landing), IN_MOVED_TO)
    assert watch is not None
    try:
        for i in range(count):
            staged = _stage(layout, template, 1, f"cp{i}")[0]
            out["copy"].append(_timed(functools.partial(_direct_copy, staged, layout.landing)))
            staged.unlink()
            if layout.renames:
                staged = _stage(layout, template, 1, f"mv{i}")[0]
                moved = layout.landing / staged.name
                out["rename"].append(_timed(functools.partial(os.rename, staged, moved)))
                moved.unlink()
            watch.read()  # forget the direct runs' events
            staged = _stage(layout, template, 1, f"rel{i}")[0]
            start = time.perf_counter()
            os.rename(staged, layout.upstream / staged.name)
            out["relay"].append(_wait_landed(watch, {staged.name}, 30) - start)
            _clear(layout.landing)
    finally:
        watch.close()
    return out


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _layouts(base: Path) -> list[Layout]:
    same = Layout("one filesystem", base / "s-staging", base / "s-up", base / "s-land")
    layouts = [same]
    shm = Path("/dev/shm")
    if shm.is_dir() and os.stat(shm).st_dev != os.stat(base).st_dev:
        other = Path(tempfile.mkdtemp(prefix="relay-bench-", dir=shm))
        layouts.append(Layout("two filesystems", other, other / "up", base / "x-land"))
    for layout in layouts:
        for folder in (layout.staging, layout.upstream, layout.landing):
            folder.mkdir(parents=True, exist_ok=True)
    return layouts


def _remove(base: Path, layouts: list[Layout]) -> None:
    for layout in layouts:
        shutil.rmtree(layout.staging, ignore_errors=True)
        shutil.rmtree(layout.upstream, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)


def _bench_layout(
    api: str, layout: Layout, args: argparse.Namespace, files: dict[str, Path]
) -> bool:
    body = {"name": layout.name.replace(" ", "-"), "upstream": str(layout.upstream)}
    reply = requests.post(
        f"{api}/relays", json={**body, "landing": str(layout.landing)}, timeout=10
    )
    reply.raise_for_status()
    how = "the relay renames" if layout.renames else "the relay copies"
    print(f"\n== {layout.name} ({how}): {layout.upstream} -> {layout.landing}")
    direct, relay = _throughput(layout, files["big"], args.big_batches, args.rounds)
    ratio = relay / direct
    print(
        f"{args.big_mb} MB batches x{args.big_batches}: direct copy {direct:8.1f} MB/s | "
        f"relay {relay:8.1f} MB/s | relay/direct {ratio:.2f} (target >= {THROUGHPUT_TARGET})"
    )
    lat = _latencies(layout, files["small"], args.small_batches)
    p50 = {k: statistics.median(v) * 1e3 for k, v in lat.items() if v}
    p95 = {k: float(np.percentile(v, 95)) * 1e3 for k, v in lat.items() if v}
    added = p50["relay"] - p50["copy"]
    rename = f"{p50['rename']:.2f} / {p95['rename']:.2f}" if "rename" in p50 else "n/a"
    print(
        f"{args.small_mb} MB batch, upstream -> landing (p50 / p95 ms): direct copy "
        f"{p50['copy']:.1f} / {p95['copy']:.1f} | direct rename {rename} | "
        f"relay {p50['relay']:.1f} / {p95['relay']:.1f}"
    )
    print(
        f"added by the relay vs a direct copy: {added:+.1f} ms p50 "
        f"({p95['relay'] - p95['copy']:+.1f} ms p95), relay/copy {p50['relay'] / p50['copy']:.2f}"
        f" (target <= {ADDED_MS_TARGET:g} ms added)"
    )
    return ratio >= THROUGHPUT_TARGET and added <= ADDED_MS_TARGET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big-mb", type=int, default=100)
    parser.add_argument("--big-batches", type=int, default=4, help="100 MB batches per round")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds (median)")
    parser.add_argument("--small-mb", type=int, default=10)
    parser.add_argument("--small-batches", type=int, default=20)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    layouts = _layouts(base)
    files = {"big": base / "big.parquet", "small": base / "small.parquet"}
    _parquet(files["big"], args.big_mb, 1)
    _parquet(files["small"], args.small_mb, 2)
    sizes = [files[k].stat().st_size / 1e6 for k in ("big", "small")]
    print(f"batches: {sizes[0]:.1f} MB and {sizes[1]:.1f} MB Parquet")
    argv_relay = _procs.python_module(
        "gameday.servers.relay", "--port", "0", "--announce", "--state", str(base / "state")
    )
    relay = _procs.start("relay", argv_relay, log_path=base / "relay.log")
    try:
        api = f"http://127.0.0.1:{relay.port}"
        results = [_bench_layout(api, layout, args, files) for layout in layouts]  # run them all
        met = all(results)
    finally:
        relay.stop()
        _remove(base, layouts)
    print(f"\ntargets {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
