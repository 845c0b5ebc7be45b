"""Re-judging run bundles: time per bundle, and the mutant kill rate per verifier kind.

For every bundle (the committed ones in tests/fixtures/bundles, plus any run folders given),
side by side in one run:

- how long ``gameday verify`` takes to re-judge it in process (read + validate + judge) and as
  a command (a fresh ``python -m gameday verify``, imports included), against the run's own
  wall time: the ratio says how much cheaper a re-check is than a re-run (target: < 1 s each);
- every mutant of the scenario (gameday.verifiers.mutants) judged on the same evidence: the
  kill rate per verifier kind (target: 100 % on every kind), and the survivors, if any.

    python bench/verify.py [RUN_DIR_OR_FOLDER ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from gameday.evidence.bundle import find_bundles, read_bundle
from gameday.run.judge import judge, rejudge
from gameday.verifiers.mutants import kill_report

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "tests" / "fixtures" / "bundles"


def _time_in_process(path: Path, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        rejudge(read_bundle(path))
        best = min(best, time.perf_counter() - start)
    return best


def _time_command(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gameday", "verify", str(path)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("paths", nargs="*", help="run folders or folders of them")
    paths = args.parse_args(argv).paths or [str(COMMITTED)]
    bundles = find_bundles(paths)
    kinds: dict[str, list[int]] = {}
    survivors: list[str] = []
    print(f"{'bundle':<34} {'run s':>7} {'verify ms':>10} {'cli s':>6} {'ratio':>9}  verdict")
    for path in bundles:
        bundle = read_bundle(path)
        result = rejudge(bundle)
        took = result.finished_at - result.started_at
        in_process = _time_in_process(path)
        command = _time_command(path)
        same = "same" if result.verdict == bundle.recorded_verdict else "DIFFERENT"
        print(
            f"{path.name[-34:]:<34} {took:7.1f} {in_process * 1000:10.1f} {command:6.2f} "
            f"{in_process / took:9.5f}  {result.verdict} ({same} as recorded)"
        )
        report = kill_report(result.scenario, bundle.evidence, judge)
        for kind, (killed, total) in report.by_kind().items():
            counts = kinds.setdefault(kind, [0, 0])
            counts[0] += killed
            counts[1] += total
        survivors += [f"{result.scenario.name}: {o.mutant.how}" for o in report.survivors]
    print("\nmutant kill rate per verifier kind")
    for kind, (killed, total) in sorted(kinds.items()):
        print(f"  {kind:<14} {killed:4d} / {total:<4d} {100 * killed / total:6.1f} %")
    for line in survivors:
        print(f"  SURVIVED: {line}")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main())
