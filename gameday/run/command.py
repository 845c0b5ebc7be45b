"""``gameday run``, ``validate``, ``verify`` and ``report``: their arguments and handlers.

Exit codes are decided in ``cli.py`` for errors; a handler returns the verdicts' code:
0 every verdict passed · 1 a verdict failed · 3 aborted or inconclusive.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.errors import ScenarioError

if TYPE_CHECKING:  # imported lazily at run time: `gameday --help` stays fast
    from gameday.alerting.preflight import Routing
    from gameday.report import Outputs
    from gameday.run.results import ScenarioResult
    from gameday.scenario.environment import Environment
    from gameday.scenario.model import Scenario

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def load(paths: Sequence[str], env_file: str | None) -> tuple[list[Scenario], Environment]:
    """Every scenario under ``paths``, validated (against ``env_file``, or the embedded stack).

    Names must be unique across the batch; every scenario must expect something.
    """
    from gameday.run.session import embedded_template
    from gameday.scenario.environment import load_environment
    from gameday.scenario.files import discover
    from gameday.scenario.model import load_scenarios

    environment = load_environment(env_file) if env_file else embedded_template()
    return list(load_scenarios(discover(paths), environment=environment)), environment


# --- gameday validate ---------------------------------------------------------------------------


def validate(args: argparse.Namespace) -> int:
    """Check every file (against ``--env`` when given); each problem is ``file:line: ...``."""
    from gameday.alerting.preflight import problems
    from gameday.run.session import embedded_template
    from gameday.scenario.environment import load_environment
    from gameday.scenario.files import discover
    from gameday.scenario.model import load_scenario

    environment = load_environment(args.env) if args.env else embedded_template()
    files = discover(args.paths)
    routing = _routing(environment, embedded=not args.env)
    names: dict[str, str] = {}
    errors = 0
    for path in files:
        try:
            scenario = load_scenario(path, environment=environment)
            _unique(scenario, names)
        except ScenarioError as exc:
            errors += 1
            print(f"{exc}", file=sys.stderr)
            continue
        unroutable = problems(scenario, routing) if routing else []
        for problem in unroutable:
            print(problem, file=sys.stderr)
        errors += bool(unroutable)
        if not unroutable:
            print(f"{path}: ok")
    if errors:
        print(f"{errors} of {len(files)} file(s) invalid", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _routing(environment: Environment, *, embedded: bool) -> Routing | None:
    """The Alertmanager routing paging expectations are checked against, or None (said on
    stderr: validating before the stack is up is normal, so this is a note, not an error)."""
    from gameday.alerting.preflight import live_routing
    from gameday.run.session import embedded_routing

    found = embedded_routing() if embedded else live_routing(environment)
    if isinstance(found, str):
        print(f"note: routing not checked: {found}", file=sys.stderr)
        return None
    return found


def _unique(scenario: Scenario, names: dict[str, str]) -> None:
    where = str(scenario.location) if scenario.location else scenario.name
    first = names.setdefault(scenario.name, where)
    if first != where:
        raise ScenarioError(
            f"scenario name {scenario.name!r} is already used by {first}",
            scenario.source,
            scenario.location.line if scenario.location else None,
        )


# --- gameday run --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run the scenarios as one batch; results, reports and bundles after each one."""
    from gameday.run import results
    from gameday.run.batch import Batch, BatchOptions
    from gameday.run.console import Console
    from gameday.run.interrupts import interrupted, interruptible
    from gameday.scenario.catalogue import filter_by_tag

    scenarios, _ = load(args.paths, args.env)
    if args.tag:
        scenarios = filter_by_tag(scenarios, args.tag)
    if not scenarios:
        raise ScenarioError(
            f"no scenario to run in {', '.join(args.paths)}"
            + (f" with tag {', '.join(args.tag)}" if args.tag else "")
        )
    options = BatchOptions(
        env_file=args.env,
        workdir=Path(args.workdir) if args.workdir else BatchOptions.workdir,
        settle_s=args.settle,
        ttl_margin_s=args.ttl_margin,
        journal=Path(args.journal),
        metrics_listen=args.metrics_listen,
    )
    console = Console(quiet=args.quiet)
    with interruptible(), Batch(options, console, _outputs(args)) as batch:
        for scenario in scenarios:
            result = batch.run(scenario)
            print(results.summary(result), flush=True)
            if args.json:
                results.write_json(args.json, batch.results)
            if interrupted():  # Ctrl-C or SIGTERM stops the batch, not only this scenario
                break
    return results.exit_code(batch.results)


def _outputs(args: argparse.Namespace) -> Outputs:
    from gameday.report import Outputs

    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    history = None if args.no_history else Path(args.history)
    return Outputs(path(args.report), path(args.junit), path(args.markdown), history)


# --- gameday verify / report --------------------------------------------------------------------


def rejudged(paths: Sequence[str]) -> list[tuple[ScenarioResult, str | None]]:
    """Every bundle under ``paths`` judged again from its evidence alone, with the verdict
    recorded when it ran."""
    from gameday.evidence.bundle import find_bundles, read_bundle
    from gameday.run.judge import rejudge

    out = []
    for path in find_bundles(list(paths)):
        bundle = read_bundle(path)
        out.append((rejudge(bundle), bundle.recorded_verdict))
    return out


def verify(args: argparse.Namespace) -> int:
    """Re-judge run bundles with no network; say where a verdict differs from the recorded one."""
    from gameday.run import results

    judged = rejudged(args.paths)
    for result, recorded in judged:
        print(results.summary(result), flush=True)
        if recorded is not None and recorded != result.verdict:
            print(
                f"  ! the run recorded {recorded.upper()}; judged again: {result.verdict.upper()}"
            )
    if args.json:
        results.write_json(args.json, [r for r, _ in judged])
    return results.exit_code(r for r, _ in judged)


def report(args: argparse.Namespace) -> int:
    """Write HTML, JUnit and Markdown from run bundles (the stack may be long gone): into
    ``--out`` for all of them, else into each run folder."""
    from gameday.report import Outputs

    judged = [r for r, _ in rejudged(args.paths)]
    if args.out:
        out = Path(args.out)
        batch = Outputs(out, out / "junit.xml", out / "summary.md", None)
        for result in judged:
            batch.add(result)
        print(f"reports of {len(judged)} run(s) written to {out}")
        return EXIT_OK
    for result in judged:
        folder = result.run_dir
        assert folder is not None  # a re-judged result names its bundle
        Outputs(folder, folder / "junit.xml", folder / "summary.md", None).add(result)
        print(f"{result.scenario.name}: reports written to {folder}")
    return EXIT_OK


# --- the parsers --------------------------------------------------------------------------------


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run``, ``validate``, ``verify`` and ``report`` to the ``gameday`` parser."""
    _run_parser(sub)
    val = sub.add_parser("validate", help="check scenario files without running anything")
    val.add_argument("paths", nargs="+", metavar="PATH")
    val.add_argument("--env", metavar="FILE", help="check targets against this environment")
    val.set_defaults(handler=validate)
    ver = sub.add_parser("verify", help="re-judge run bundles from their evidence, no network")
    ver.add_argument("paths", nargs="+", metavar="RUN_DIR", help="run folders, or folders of them")
    ver.add_argument("--json", metavar="FILE", help="write results: one JSON object per run")
    ver.set_defaults(handler=verify)
    rep = sub.add_parser("report", help="write HTML, JUnit and Markdown reports from run bundles")
    rep.add_argument("paths", nargs="+", metavar="RUN_DIR", help="run folders, or folders of them")
    rep.add_argument(
        "--out", metavar="DIR", help="one folder for every report (default: each run folder)"
    )
    rep.set_defaults(handler=report)


def _run_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run_p = sub.add_parser("run", help="run scenarios (files or folders) and give verdicts")
    run_p.add_argument("paths", nargs="+", metavar="PATH")
    for flag, settings in _RUN_OPTIONS:
        run_p.add_argument(flag, **settings)
    run_p.set_defaults(handler=run)


_RUN_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (  # argparse's own keywords
    ("--env", {"metavar": "FILE", "help": "environment file (default: the embedded stack)"}),
    ("--json", {"metavar": "FILE", "help": "write results: one JSON object per scenario"}),
    ("--tag", {"action": "append", "help": "only scenarios with this tag (repeatable)"}),
    ("--workdir", {"metavar": "DIR",
                   "help": "where run folders (bundles) go (default .gameday/runs)"}),
    ("--quiet", {"action": "store_true", "help": "no progress output, only the verdicts"}),
    ("--settle", {"type": float, "default": 60.0, "metavar": "SECONDS",
                  "help": "longest wait for the named alerts to be quiet (default 60)"}),
    ("--journal", {"metavar": "DIR", "default": ".gameday/journal",
                   "help": "undo journal folder (default .gameday/journal)"}),
    ("--ttl-margin", {"type": _positive, "default": 30.0, "metavar": "SECONDS",
                      "help": "a fault's TTL is its window plus this (default 30)"}),
    ("--report", {"metavar": "DIR",
                  "help": "write an HTML report per scenario, and index.html, into DIR"}),
    ("--junit", {"metavar": "FILE", "help": "write JUnit XML (a testcase per check)"}),
    ("--markdown", {"metavar": "FILE",
                    "help": "write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)"}),
    ("--history", {"metavar": "FILE", "default": ".gameday/history.sqlite",
                   "help": "append every run to this SQLite file (default "
                   ".gameday/history.sqlite)"}),
    ("--no-history", {"action": "store_true", "help": "do not record the runs"}),
    ("--metrics-listen", {"metavar": "HOST:PORT",
                          "help": "serve gameday's own metrics (faults, phase, verdicts) for "
                          "Prometheus here (HOST default 127.0.0.1; on by itself for the "
                          "embedded stack)"}),
)  # fmt: skip
