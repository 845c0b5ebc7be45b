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
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from gameday.errors import Aborted, GameDayError, InjectionError, ScenarioError, StackUnavailable

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_ABORTED = 0, 1, 2, 3


class _ArgumentParser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage, which is our "bad input" code too; keep its message."""


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


def _load(paths: Sequence[str], env_file: str | None) -> tuple[list[object], object]:
    """Every scenario under ``paths``, validated (against ``env_file``, or the embedded stack)."""
    from gameday.catalogue import discover
    from gameday.environment import load_environment
    from gameday.scenario import load_scenarios
    from gameday.session import embedded_template

    environment = load_environment(env_file) if env_file else embedded_template()
    return list(load_scenarios(discover(paths), environment=environment)), environment


def _validate(args: argparse.Namespace) -> int:
    from gameday.catalogue import discover
    from gameday.scenario import load_scenario
    from gameday.session import embedded_template

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
    from gameday.catalogue import catalogue_rows

    scenarios, _ = _load(args.paths or ["scenarios"], None)
    rows = catalogue_rows(scenarios)  # type: ignore[arg-type]
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
    from gameday.schema import scenario_schema

    print(json.dumps(scenario_schema(), indent=2))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from gameday import results, session
    from gameday.catalogue import filter_by_tag
    from gameday.console import Console
    from gameday.runner import run_scenario

    scenarios, _ = _load(args.paths, args.env)
    if args.tag:
        scenarios = filter_by_tag(scenarios, args.tag)  # type: ignore[arg-type]
    if not scenarios:
        raise ScenarioError(
            f"no scenario to run in {', '.join(args.paths)}"
            + (f" with tag {', '.join(args.tag)}" if args.tag else "")
        )
    console = Console(quiet=args.quiet)
    done: list[results.ScenarioResult] = []
    workdir = Path(args.workdir) if args.workdir else Path(".gameday") / "runs"
    try:
        with session.environment(args.env, console.event) as environment:
            for scenario in scenarios:
                run_dir = workdir / f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario.name}"  # type: ignore[attr-defined]
                result = run_scenario(
                    scenario, environment, console, run_dir, settle_s=args.settle  # type: ignore[arg-type]
                )
                done.append(result)
                console.close()
                print(results.summary(result), flush=True)
                if args.json:
                    results.write_json(args.json, done)
    finally:
        console.close()
    return results.exit_code(done)


def _toxiproxy_server(args: argparse.Namespace) -> int:
    from gameday.toxiproxy import main as toxiproxy_main

    return toxiproxy_main(["--host", args.host, "--port", str(args.port)])


def build_parser() -> argparse.ArgumentParser:
    """The ``gameday`` argument parser with every subcommand."""
    parser = _ArgumentParser(prog="gameday", description=__doc__.splitlines()[0] if __doc__ else "")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run scenarios (files or folders) and give verdicts")
    run.add_argument("paths", nargs="+", metavar="PATH")
    run.add_argument("--env", metavar="FILE", help="environment file (default: the embedded stack)")
    run.add_argument("--json", metavar="FILE", help="write results: one JSON object per scenario")
    run.add_argument("--tag", action="append", help="only scenarios with this tag (repeatable)")
    run.add_argument("--workdir", metavar="DIR", help="where run files go (default .gameday/runs)")
    run.add_argument("--quiet", action="store_true", help="no progress output, only the verdicts")
    run.add_argument("--settle", type=float, default=60.0, metavar="SECONDS",
                     help="longest wait for no alert firing before a baseline (default 60)")
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

    tp = sub.add_parser("toxiproxy-server", help="run the embedded toxiproxy-compatible server")
    tp.add_argument("--host", default="127.0.0.1")
    tp.add_argument("--port", type=int, default=8474)
    tp.set_defaults(handler=_toxiproxy_server)
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


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    sys.exit(run(argv))
