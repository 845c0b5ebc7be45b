"""``gameday sweep``: the magnitude at which each expected alert starts to fire, the impact
at every probed magnitude, and the worst fault nothing noticed.

One environment (the embedded stack started once, or ``--env``) serves every probe; each
probe is a real run of the scenario at one magnitude, with its own baseline, evidence,
revert and bundle under ``DIR/probes/``. ``DIR/sweep.json``, ``DIR/index.html`` and, when a
blind spot was found, ``DIR/<scenario>-blind-spot.yaml`` are rewritten after every probe.
``gameday sweep --replay DIR`` computes all of it again from the saved probes, no network.

Exit codes: 0 the sweep measured what it set out to (thresholds and blind spot, whatever they
are), 2 bad input, 3 the stack broke (two probes in a row aborted) or the sweep was
interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from gameday.errors import ScenarioError

if TYPE_CHECKING:
    from gameday.run.results import ScenarioResult
    from gameday.scenario.model import Scenario
    from gameday.sweep.param import Param, Span
    from gameday.sweep.probe import Probe
    from gameday.sweep.result import SweepResult

EXIT_OK, EXIT_BAD_INPUT, EXIT_ABORTED = 0, 2, 3
DEFAULT_PROBES = 8
SWEEP_FILE, PAGE = "sweep.json", "index.html"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sweep",
        help="find the fault magnitude at which each expected alert starts to fire, and the "
        "worst fault nothing notices",
    )
    p.add_argument("scenario", nargs="?", metavar="SCENARIO", help="one scenario file")
    p.add_argument(
        "--param", metavar="NAME", help="the fault's numeric param (NAME, or faults[I].params.NAME)"
    )
    p.add_argument("--from", dest="start", type=float, metavar="A", help="the mildest magnitude")
    p.add_argument("--to", dest="stop", type=float, metavar="B", help="the most severe magnitude")
    p.add_argument(
        "--probes",
        type=_at_least_two,
        default=DEFAULT_PROBES,
        metavar="N",
        help=f"most probes (runs) to make (default {DEFAULT_PROBES})",
    )
    p.add_argument("--env", metavar="FILE", help="environment file (default: the embedded stack)")
    p.add_argument("--json", metavar="FILE", help="also write sweep.json here")
    p.add_argument(
        "--report",
        metavar="DIR",
        help="the sweep's folder: probes, sweep.json, index.html, the blind-spot "
        "scenario (default .gameday/sweeps/<time>-<scenario>-<param>)",
    )
    p.add_argument(
        "--impact",
        metavar="MEASURE",
        help="rank silent probes by this impact measure for the blind spot "
        "(default: the most severe silent probe)",
    )
    p.add_argument(
        "--replay",
        metavar="DIR",
        help="compute a finished sweep's findings again from its saved probes",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="longest wait for the named alerts to be quiet before a probe",
    )
    p.add_argument(
        "--journal",
        metavar="DIR",
        default=".gameday/journal",
        help="undo journal folder (default .gameday/journal)",
    )
    p.add_argument("--quiet", action="store_true", help="no run progress, only probe lines")
    p.set_defaults(handler=sweep_command)  # fmt: skip


def _at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"a sweep needs at least 2 probes (both ends); got {text}")
    return value


def sweep_command(args: argparse.Namespace) -> int:
    if args.replay:
        if args.scenario or args.param:
            raise ScenarioError("--replay DIR takes no SCENARIO or --param: the sweep names them")
        return replay(Path(args.replay), args)
    missing = [
        f
        for f, v in (
            ("SCENARIO", args.scenario),
            ("--param", args.param),
            ("--from", args.start),
            ("--to", args.stop),
        )
        if v is None
    ]
    if missing:
        raise ScenarioError(f"gameday sweep needs {', '.join(missing)} (or --replay DIR)")
    return sweep(args)


def sweep(args: argparse.Namespace) -> int:
    from gameday.run.command import load
    from gameday.sweep.param import Span, at_magnitude, find_param
    from gameday.sweep.probe import alert_keys

    scenarios, environment = load([args.scenario], args.env)
    if len(scenarios) != 1:
        raise ScenarioError(
            f"{args.scenario}: a sweep takes one scenario file, found {len(scenarios)}"
        )
    scenario = scenarios[0]
    param = find_param(scenario, args.param)
    span = Span.between(args.start, args.stop)
    for end in (span.start, span.stop):  # the injector's own range check, before anything runs
        at_magnitude(scenario, param, end, environment)
    alerts = tuple(alert_keys(scenario))
    if not alerts:
        raise ScenarioError(
            f"{args.scenario}: nothing to sweep for: no alert expectation with fires_within"
        )
    if (
        args.impact
        and environment.impact
        and args.impact not in (*environment.impact, "error_rate", "p95_ms")
    ):
        known = ", ".join(["error_rate", "p95_ms", *environment.impact])
        raise ScenarioError(f"--impact {args.impact}: no such measure; have {known}")
    if not environment.impact:
        print("note: the environment names no impact: queries, so impact is the error rate and "
              "latency of the load only (docs/reference/environment.md#impact)",
              file=sys.stderr)  # fmt: skip
    folder = Path(args.report) if args.report else _default_folder(scenario, param)
    return _probe_all(args, scenario, param, span, alerts, folder)


def _default_folder(scenario: Scenario, param: Param) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(".gameday") / "sweeps" / f"{stamp}-{scenario.name}-{param.name}"


def _probe_all(
    args: argparse.Namespace,
    scenario: Scenario,
    param: Param,
    span: Span,
    alerts: tuple[str, ...],
    folder: Path,
) -> int:
    from gameday.run.batch import Batch, BatchOptions
    from gameday.run.console import Console
    from gameday.run.interrupts import interrupted, interruptible
    from gameday.sweep.param import at_magnitude
    from gameday.sweep.probe import describe, probe_of
    from gameday.sweep.result import SweepResult
    from gameday.sweep.search import next_magnitude

    folder.mkdir(parents=True, exist_ok=True)
    options = BatchOptions(
        env_file=args.env,
        workdir=folder / "probes",
        settle_s=args.settle,
        journal=Path(args.journal),
    )
    started = time.monotonic()
    probes: list[Probe] = []

    def findings() -> SweepResult:
        wall = time.monotonic() - started
        return SweepResult(scenario.name, _file(scenario), param, span, alerts, tuple(probes),
                           wall, args.impact, args.probes)  # fmt: skip

    aborted_in_row = 0
    print(
        f"sweep of {scenario.name}: {param.path} from {span.start:g} to {span.stop:g} "
        f"({span.scale}), at most {args.probes} probes; writing to {folder}",
        flush=True,
    )
    with interruptible(), Batch(options, Console(quiet=args.quiet)) as batch:
        while len(probes) < args.probes and not interrupted():
            magnitude = next_magnitude([p.observation() for p in probes], alerts, span)
            if magnitude is None:
                break
            variant = at_magnitude(scenario, param, magnitude, batch.environment)
            t0 = time.monotonic()
            result = batch.run(variant)
            _probe_report(result)
            probe = probe_of(result, param, len(probes) + 1, time.monotonic() - t0)
            probes.append(probe)
            print(describe(probe), flush=True)
            aborted_in_row = aborted_in_row + 1 if result.aborted else 0
            _write(findings(), scenario, folder, args.json)
            if aborted_in_row >= 2:
                print(f"aborted: two probes in a row could not run ({result.reason})",
                      file=sys.stderr)  # fmt: skip
                return EXIT_ABORTED
    if not probes:
        return EXIT_ABORTED
    from gameday.sweep.result import summary

    final = findings()
    _write(final, scenario, folder, args.json)
    print(summary(final), flush=True)
    print(f"sweep written to {folder / SWEEP_FILE} and {folder / PAGE}")
    return EXIT_ABORTED if interrupted() else EXIT_OK


def _file(scenario: Scenario) -> str | None:
    return str(scenario.source) if scenario.source else None


def _probe_report(result: ScenarioResult) -> None:
    """The probe's own HTML report, in its run folder."""
    from gameday.report import Outputs

    if result.run_dir is not None:
        Outputs(result.run_dir, None, None, None).add(result)


def _write(result: SweepResult, scenario: Scenario, folder: Path, json_file: str | None) -> None:
    from gameday.sweep.html import render
    from gameday.sweep.result import blind_spot_scenario, write_scenario

    data = result.to_json(folder)
    written = folder / f"{scenario.name}-blind-spot.yaml"
    document = blind_spot_scenario(result, scenario, folder)
    if document is not None:
        write_scenario(written, document)
        data["blind_spot_scenario"] = written.name
    else:
        written.unlink(missing_ok=True)
        data["blind_spot_scenario"] = None
    text = json.dumps(data, indent=2) + "\n"
    (folder / SWEEP_FILE).write_text(text)
    if json_file:
        Path(json_file).write_text(text)
    (folder / PAGE).write_text(render(result, folder))


def replay(folder: Path, args: argparse.Namespace) -> int:
    """Findings computed again from ``folder``'s probes; says where they differ from the
    recorded ones. Exit 0, or 1 when they differ. Writes only with ``--report``/``--json``."""
    from gameday.sweep.replay import recompute

    result, scenario, differences = recompute(folder, args.impact)
    from gameday.sweep.result import summary

    print(summary(result), flush=True)
    if args.report:  # the recorded sweep.json stays as it was; a replay writes elsewhere
        Path(args.report).mkdir(parents=True, exist_ok=True)
        _write(result, scenario, Path(args.report), args.json)
    elif args.json:
        data = result.to_json(folder)
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    for line in differences:
        print(f"  ! {line}")
    return 1 if differences else EXIT_OK
