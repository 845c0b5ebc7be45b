"""``gameday drill``: its arguments and its handler (exit codes are decided in ``cli.py``).

Exit codes: 0 the drill completed, whatever the trainee's score (given up and out of time
included) · 2 bad input · 3 aborted (stack or environment problem, interrupted).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ABORTED = 0, 3


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--seed", {"type": int, "help": "which scenario (default: a random one)"}),
    ("--env", {"metavar": "FILE", "help": "environment file (default: the embedded stack)"}),
    ("--json", {"metavar": "FILE", "type": Path, "help": "write the drill's outcome here"}),
    ("--hint-after", {"type": _positive, "default": 120.0, "metavar": "SECONDS",
                      "help": "a hint every SECONDS after the page (default 120)"}),
    ("--max-minutes", {"type": _positive, "default": 15.0, "metavar": "M",
                       "help": "the fault stays on at most M minutes, then the answer is "
                       "shown (default 15)"}),
    ("--postmortem", {"metavar": "FILE", "type": Path,
                      "help": "write the blameless post-mortem template (Markdown) here (default: "
                      "postmortem.md in the run folder)"}),
    ("--facilitator", {"metavar": "FILE", "type": Path,
                       "help": "write the hidden scenario and a live timeline here"}),
    ("--journal", {"metavar": "DIR", "default": ".gameday/journal",
                   "help": "undo journal folder (default .gameday/journal)"}),
    ("--workdir", {"metavar": "DIR", "type": Path,
                   "help": "where run files go (default .gameday/drills)"}),
    ("--settle", {"type": _positive, "default": 60.0, "metavar": "SECONDS",
                  "help": "longest wait for the scenario's alerts to be quiet (default 60)"}),
)  # fmt: skip


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``drill`` subcommand to the ``gameday`` parser."""
    drill = sub.add_parser(
        "drill",
        help="training mode for on-call staff (answers read from stdin)",
        description="Play one of the scenarios blind: you are paged, acknowledge, and name the "
        "root cause (component and fault family) while the fault stays on.",
    )
    drill.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    for flag, settings in _OPTIONS:
        drill.add_argument(flag, **settings)
    drill.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the drill; 0 once it completed, 3 if its run was aborted (faults reverted)."""
    from gameday.drill.play import DrillOptions, run_drill

    options = DrillOptions(
        paths=tuple(args.paths), seed=args.seed, env=args.env, json=args.json,
        hint_after_s=args.hint_after, max_minutes=args.max_minutes,
        postmortem=args.postmortem, facilitator=args.facilitator, journal=args.journal,
        workdir=args.workdir, settle_s=args.settle,
    )  # fmt: skip
    outcome = run_drill(options)
    return EXIT_ABORTED if outcome.aborted else EXIT_OK
