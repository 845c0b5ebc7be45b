"""Sweeps of the embedded catalogue, timed: probe count and wall time per sweep.

    python bench/sweep.py [NAME ...] [--out DIR] [--probes N]

Runs each definition of ``sweeps/embedded.yaml`` (all, or the names given) as ``gameday sweep``
(the embedded stack started once per sweep) and prints, side by side, the range it covered,
the probes it made, its wall time and the time per probe, then each alert's threshold and the
blind spot. Target: a sweep over a 100x range with 8 probes finishes in under 12 minutes
(stack start included). Each sweep is bounded: it is killed after 30 minutes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 12 * 60
LIMIT_S = 30 * 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="definitions to run (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / ".gameday" / "bench-sweeps")
    parser.add_argument("--probes", type=int, help="override each definition's probe budget")
    args = parser.parse_args()
    definitions = yaml.safe_load((ROOT / "sweeps" / "embedded.yaml").read_text())
    names = args.names or list(definitions)
    unknown = [n for n in names if n not in definitions]
    if unknown:
        print(f"unknown sweep(s): {', '.join(unknown)}; have {', '.join(definitions)}")
        return 2
    rows = []
    for name in names:
        d = definitions[name]
        out = args.out / name
        argv = [
            sys.executable, "-m", "gameday", "sweep", str(ROOT / d["scenario"]),
            "--param", d["param"], "--from", str(d["from"]), "--to", str(d["to"]),
            "--probes", str(args.probes or d["probes"]), "--report", str(out), "--quiet",
            "--journal", str(args.out / "journal"),
        ]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(argv, cwd=ROOT, timeout=LIMIT_S, check=False)
        wall = time.monotonic() - started
        written = out / "sweep.json"
        found = json.loads(written.read_text()) if written.exists() else {}
        rows.append((name, d, done.returncode, wall, found))
    print()
    print(f"{'sweep':<22} {'range':>8} {'probes':>6} {'wall':>8} {'per probe':>9}  exit")
    for name, d, code, wall, found in rows:
        ratio = max(d["from"], d["to"]) / min(d["from"], d["to"])
        n = int(found.get("probes_run", 0))
        per = f"{wall / n:.0f} s" if n else "-"
        print(f"{name:<22} {ratio:>7.0f}x {n:>6} {wall / 60:>6.1f} min {per:>9}  {code}")
    for name, d, _, wall, found in rows:
        print(f"\n{name}: {d['param']} {d['from']} -> {d['to']}")
        for alert, t in (found.get("confidence") or {}).items():
            where = "never fired" if t["magnitude"] is None else f"fires from {t['magnitude']:g}"
            print(f"  {alert}: {where} ({t['confidence']}; {t['note']})")
        spot = found.get("blind_spot")
        if spot:
            harms = ", ".join(f"{k} {v:+.3g}" for k, v in spot["impact"].items() if v is not None)
            print(f"  blind spot at {spot['magnitude']:g}: {harms}")
        else:
            print("  blind spot: none")
        hundredfold = max(d["from"], d["to"]) / min(d["from"], d["to"]) >= 99.99
        if hundredfold and int(found.get("probes_run", 0)) == 8:
            verdict = "meets" if wall < TARGET_S else "MISSES"
            print(f"  100x with 8 probes in {wall / 60:.1f} min: {verdict} the 12 min target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
