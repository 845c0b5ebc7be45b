"""The ``gameday`` command line. The only module that turns errors into exit codes.

Exit codes: 0 every verdict passed · 1 a verdict failed · 2 bad input · 3 aborted (steady
state broken, stop condition, environment unreachable).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from gameday.errors import Aborted, GameDayError, InjectionError, ScenarioError, StackUnavailable

if TYPE_CHECKING:  # imported lazily at run time: `gameday --help` stays fast
    from gameday.report import Outputs
    from gameday.scenario.environment import Environment
    from gameday.scenario.model import Scenario

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_ABORTED = 0, 1, 2, 3


def _stack_up(args: argparse.Namespace) -> int:
    from gameday.stack.launcher import Stack, StackOptions

    stop = threading.Event()
    _on_signals(lambda *_: stop.set())
    options = StackOptions(workdir=args.workdir, keep_workdir=args.keep)
    stack = Stack(options)
    try:
        endpoints = stack.start()
        if args.endpoints:
            _write_json(args.endpoints, endpoints)
        _print_endpoints(endpoints, args.endpoints)
        while not stop.wait(0.5):
            pass
    finally:
        stack.stop()
        if args.endpoints:
            Path(args.endpoints).unlink(missing_ok=True)
    print("stack stopped", file=sys.stderr)
    return EXIT_OK


def _on_signals(handler: Callable[[int, FrameType | None], None]) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def _write_json(path: str | Path, data: object) -> None:
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, target)


def _print_endpoints(endpoints: dict[str, object], path: str | None) -> None:
    width = max(len(k) for k in endpoints)
    lines = [f"  {k:<{width}}  {v}" for k, v in endpoints.items() if not isinstance(v, list)]
    where = f" (written to {path})" if path else ""
    print("reference stack is up" + where + ":\n" + "\n".join(lines), flush=True)
    print("Ctrl-C or SIGTERM stops every process it started.", flush=True)


def _load(paths: Sequence[str], env_file: str | None) -> tuple[list[Scenario], Environment]:
    """Every scenario under ``paths``, validated (against ``env_file``, or the embedded stack)."""
    from gameday.run.session import embedded_template
    from gameday.scenario.environment import load_environment
    from gameday.scenario.files import discover
    from gameday.scenario.model import load_scenarios

    environment = load_environment(env_file) if env_file else embedded_template()
    return list(load_scenarios(discover(paths), environment=environment)), environment


def _validate(args: argparse.Namespace) -> int:
    from gameday.run.session import embedded_template
    from gameday.scenario.files import discover
    from gameday.scenario.model import load_scenario

    environment = embedded_template()
    errors = 0
    files = discover(args.paths)
    for path in files:
        try:
            load_scenario(path, environment=environment)
        except ScenarioError as exc:
            errors += 1
            print(f"{exc}", file=sys.stderr)
        else:
            print(f"{path}: ok")
    if errors:
        print(f"{errors} of {len(files)} file(s) invalid", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from gameday.scenario.catalogue import catalogue_rows

    scenarios, _ = _load(args.paths or ["scenarios"], None)
    rows = catalogue_rows(scenarios)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
        return EXIT_OK
    for row in rows:
        tags = f" [{', '.join(row.tags)}]" if row.tags else ""
        print(f"{row.name}{tags}")
        for fault in row.faults:
            print(f"    fault   {fault}")
        for exp in row.expectations:
            print(f"    expect  {exp}")
    return EXIT_OK


def _schema(_: argparse.Namespace) -> int:
    from gameday.scenario.schema import scenario_schema

    print(json.dumps(scenario_schema(), indent=2))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from gameday.run import metrics, results, session
    from gameday.run.console import Console
    from gameday.run.interrupts import interrupted, interruptible
    from gameday.run.runner import run_scenario
    from gameday.scenario.catalogue import filter_by_tag
    from gameday.undo.journal import Journal

    scenarios, _ = _load(args.paths, args.env)
    if args.tag:
        scenarios = filter_by_tag(scenarios, args.tag)
    if not scenarios:
        raise ScenarioError(
            f"no scenario to run in {', '.join(args.paths)}"
            + (f" with tag {', '.join(args.tag)}" if args.tag else "")
        )
    console = Console(quiet=args.quiet)
    done: list[results.ScenarioResult] = []
    outputs = _outputs(args)
    workdir = Path(args.workdir) if args.workdir else Path(".gameday") / "runs"
    try:
        with (
            interruptible(),
            session.environment(args.env, console.event) as environment,
            metrics.exporting(args.metrics_listen, environment.metrics_sd_dir, console.event),
        ):
            for scenario in scenarios:
                run_dir = workdir / f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario.name}"
                result = run_scenario(
                    scenario,
                    environment,
                    console,
                    run_dir,
                    settle_s=args.settle,
                    journal=Journal(args.journal),
                    ttl_margin_s=args.ttl_margin,
                )
                done.append(result)
                console.close()
                print(results.summary(result), flush=True)
                if args.json:
                    results.write_json(args.json, done)
                outputs.add(result)  # while the stack is up: the HTML report reads from it
                if interrupted():  # Ctrl-C or SIGTERM stops the batch, not only this scenario
                    break
    finally:
        console.close()
    return results.exit_code(done)


def _recover(args: argparse.Namespace) -> int:
    from gameday.scenario.environment import load_environment
    from gameday.undo.journal import Journal
    from gameday.undo.recover import recover, report

    allow_hosts = load_environment(args.env).allow_hosts if args.env else None
    outcomes = recover(Journal(args.journal), allow_hosts)
    report(outcomes, as_json=args.json)
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_ABORTED


def _outputs(args: argparse.Namespace) -> Outputs:
    from gameday.report import Outputs

    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    history = None if args.no_history else Path(args.history)
    return Outputs(path(args.report), path(args.junit), path(args.markdown), history)


def _history(args: argparse.Namespace) -> int:
    from gameday.report import history

    if not Path(args.db).exists():
        raise ScenarioError(f"no history file at {args.db} (gameday run --history FILE writes one)")
    with history.History(args.db) as db:
        runs = db.runs(args.scenario)
    if args.json:
        print(json.dumps(history.to_json(runs), indent=2))
    else:
        print(history.render_text(runs, limit=args.limit))
    return EXIT_OK


def _toxiproxy_server(args: argparse.Namespace) -> int:
    from gameday.servers.toxiproxy import main as toxiproxy_main

    return toxiproxy_main(["--host", args.host, "--port", str(args.port)])


def build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - a flat table of options
    """The ``gameday`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="gameday", description="Chaos and game-day testing for ML pipelines."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run scenarios (files or folders) and give verdicts")
    run.add_argument("paths", nargs="+", metavar="PATH")
    run.add_argument("--env", metavar="FILE", help="environment file (default: the embedded stack)")
    run.add_argument("--json", metavar="FILE", help="write results: one JSON object per scenario")
    run.add_argument("--tag", action="append", help="only scenarios with this tag (repeatable)")
    run.add_argument("--workdir", metavar="DIR", help="where run files go (default .gameday/runs)")
    run.add_argument("--quiet", action="store_true", help="no progress output, only the verdicts")
    run.add_argument(
        "--settle",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="longest wait for no alert firing before a baseline (default 60)",
    )
    run.add_argument(
        "--journal",
        metavar="DIR",
        default=".gameday/journal",
        help="undo journal folder (default .gameday/journal)",
    )
    run.add_argument(
        "--ttl-margin",
        type=_positive,
        default=30.0,
        metavar="SECONDS",
        help="a fault's TTL is its window plus this (default 30)",
    )
    run.add_argument(
        "--report",
        metavar="DIR",
        help="write an HTML report per scenario, and index.html, into DIR",
    )
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML (a testcase per check)")
    run.add_argument(
        "--markdown", metavar="FILE", help="write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)"
    )
    run.add_argument(
        "--history",
        metavar="FILE",
        default=".gameday/history.sqlite",
        help="append every run to this SQLite file (default .gameday/history.sqlite)",
    )
    run.add_argument("--no-history", action="store_true", help="do not record the runs")
    run.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="serve gameday's own metrics (faults, phase, verdicts) for Prometheus "
        "here (HOST default 127.0.0.1; on by itself for the embedded stack)",
    )
    run.set_defaults(handler=_run)

    validate = sub.add_parser("validate", help="check scenario files without running anything")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.set_defaults(handler=_validate)

    lst = sub.add_parser("list", help="the scenario catalogue: name, tags, faults, expectations")
    lst.add_argument("paths", nargs="*", metavar="PATH", help="default: ./scenarios")
    lst.add_argument("--json", action="store_true", help="as JSON")
    lst.set_defaults(handler=_list)

    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.set_defaults(handler=_schema)

    stack = sub.add_parser("stack", help="the embedded reference ML stack")
    stack_sub = stack.add_subparsers(dest="stack_command", required=True, metavar="ACTION")
    up = stack_sub.add_parser("up", help="start the stack in the foreground until SIGINT/SIGTERM")
    up.add_argument(
        "--endpoints", metavar="FILE", help="write the endpoints (an environment file) here"
    )
    up.add_argument(
        "--workdir", type=Path, help="keep the stack's files (logs, data) in this folder"
    )
    up.add_argument("--keep", action="store_true", help="do not delete the working folder on stop")
    up.set_defaults(handler=_stack_up)

    rec = sub.add_parser("recover", help="revert every fault a crashed or killed run left behind")
    rec.add_argument("--env", metavar="FILE", help="its allow_hosts bound where reverts go")
    rec.add_argument(
        "--journal",
        metavar="DIR",
        default=".gameday/journal",
        help="undo journal folder (default .gameday/journal)",
    )
    rec.add_argument("--json", action="store_true", help="print a JSON summary")
    rec.set_defaults(handler=_recover)

    hist = sub.add_parser("history", help="past runs: verdicts, detection times, regressions")
    hist.add_argument(
        "--db",
        metavar="FILE",
        default=".gameday/history.sqlite",
        help="the history file (default .gameday/history.sqlite)",
    )
    hist.add_argument("--scenario", metavar="NAME", help="only this scenario")
    hist.add_argument("--json", action="store_true", help="as JSON")
    hist.add_argument(
        "--limit",
        type=int,
        default=20,
        metavar="N",
        help="runs shown per scenario (default 20; all are analysed)",
    )
    hist.set_defaults(handler=_history)

    tp = sub.add_parser("toxiproxy-server", help="run the embedded toxiproxy-compatible server")
    tp.add_argument("--host", default="127.0.0.1")
    tp.add_argument("--port", type=int, default=8474)
    tp.set_defaults(handler=_toxiproxy_server)

    from gameday.drill.command import add_parser as add_drill  # light: no runner imported

    add_drill(sub)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, and return its exit code (never raises GameDayError)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (StackUnavailable, Aborted, InjectionError) as exc:
        print(f"aborted: {exc}", file=sys.stderr)
        return EXIT_ABORTED
    except GameDayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ABORTED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_ABORTED
    # A bug: faults were reverted on the way out; exit 1 would read as "a verdict failed".
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        print("aborted: internal error (traceback above)", file=sys.stderr)
        return EXIT_ABORTED


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point. Everything printed goes through secret redaction."""
    from gameday.redaction import RedactingStream

    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    try:
        code = run(argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    sys.exit(code)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value
