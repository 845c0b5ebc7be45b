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
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from gameday.errors import Aborted, GameDayError, InjectionError, ScenarioError, StackUnavailable

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


def _list(args: argparse.Namespace) -> int:
    from gameday.run.command import load
    from gameday.scenario.catalogue import catalogue_rows

    scenarios, _ = load(args.paths or ["scenarios"], args.env)
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


def _schema(args: argparse.Namespace) -> int:
    if args.of == "bundle":
        from gameday.evidence.model import bundle_schema

        print(json.dumps(bundle_schema(), indent=2))
        return EXIT_OK
    from gameday.scenario.schema import scenario_schema

    print(json.dumps(scenario_schema(), indent=2))
    return EXIT_OK


def _recover(args: argparse.Namespace) -> int:
    from gameday.scenario.environment import load_environment
    from gameday.undo.journal import Journal
    from gameday.undo.recover import recover, report

    allow_hosts = load_environment(args.env).allow_hosts if args.env else None
    outcomes = recover(Journal(args.journal), allow_hosts)
    report(outcomes, as_json=args.json)
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_ABORTED


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


def _relay_server(args: argparse.Namespace) -> int:
    from gameday.servers.relay import main as relay_main

    argv = ["--host", args.host, "--port", str(args.port)]
    argv += ["--state", str(args.state)] if args.state else []
    return relay_main(argv + (["--announce"] if args.announce else []))


def build_parser() -> argparse.ArgumentParser:
    """The ``gameday`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="gameday", description="Chaos and game-day testing for ML pipelines."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from gameday.run.command import add_parsers as add_run  # light: no runner imported

    add_run(sub)

    lst = sub.add_parser("list", help="the scenario catalogue: name, tags, faults, expectations")
    lst.add_argument("paths", nargs="*", metavar="PATH", help="default: ./scenarios")
    lst.add_argument("--json", action="store_true", help="as JSON")
    lst.add_argument("--env", metavar="FILE", help="check targets against this environment")
    lst.set_defaults(handler=_list)

    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.add_argument(
        "of",
        nargs="?",
        choices=("scenario", "bundle"),
        default="scenario",
        help="scenario files (default) or a run bundle's evidence.json.gz",
    )
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

    rs = sub.add_parser("relay-server", help="run the batch relay (toxiproxy for files)")
    rs.add_argument("--host", default="127.0.0.1")
    rs.add_argument("--port", type=int, default=8475, help="API port; 0 picks a free one")
    rs.add_argument("--state", metavar="DIR", help="held batches live here (default: a temp dir)")
    rs.add_argument("--announce", action="store_true", help="print the JSON readiness line")
    rs.set_defaults(handler=_relay_server)

    from gameday.alerting.command import add_parser as add_plan  # light: imports lazily

    add_plan(sub)
    from gameday.sweep.command import add_parser as add_sweep  # light: imports lazily

    add_sweep(sub)
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
