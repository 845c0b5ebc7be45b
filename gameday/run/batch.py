"""A batch of game days: the one API the command line, the pytest plugin and the drill use.

A :class:`Batch` opens its environment once (attaching to an environment file, or starting
the embedded stack), ensures its batch relays (starting a relay server when the environment
names none), serves gameday's metrics when asked, and runs scenarios one after another:
each writes its bundle into its own run folder and, when the batch has
:class:`~gameday.report.Outputs`, its reports.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

from gameday.run import metrics, session
from gameday.run.console import Console
from gameday.run.record import RunRecord
from gameday.run.relays import relays_for
from gameday.run.results import ScenarioResult
from gameday.run.runner import TTL_MARGIN_S, RunOptions, Seams, run_scenario
from gameday.scenario.environment import Environment
from gameday.scenario.model import Scenario
from gameday.undo.journal import DEFAULT_DIR, Journal

DEFAULT_WORKDIR = Path(".gameday") / "runs"


class ResultSink(Protocol):
    """Where a batch hands each finished result (reports, history): ``gameday.report.Outputs``."""

    def add(self, result: ScenarioResult) -> None:
        """Take one finished scenario."""


@dataclass(frozen=True)
class BatchOptions:
    """Where a batch runs and writes.

    ``env_file`` None starts the embedded stack; ``workdir`` holds one run folder (bundle)
    per scenario; ``metrics_listen`` serves gameday's own metrics (``HOST:PORT``).
    """

    env_file: str | Path | None = None
    workdir: Path = DEFAULT_WORKDIR
    settle_s: float = 60.0
    ttl_margin_s: float = TTL_MARGIN_S
    journal: Path = DEFAULT_DIR
    metrics_listen: str | None = None
    seams: Seams = field(default_factory=Seams)


class Batch:
    """Scenarios run one after another on one environment (a context manager).

    ``environment`` attaches to one that is already open (the pytest plugin's stack);
    otherwise entering the batch opens ``options.env_file`` or starts the embedded stack.
    """

    def __init__(
        self,
        options: BatchOptions,
        console: Console | None = None,
        outputs: ResultSink | None = None,
        environment: Environment | None = None,
    ) -> None:
        self.options = options
        self.console = console or Console()
        self.outputs = outputs
        self.results: list[ScenarioResult] = []
        self._stack = contextlib.ExitStack()
        self._given = environment
        self._environment: Environment | None = None

    def __enter__(self) -> Batch:
        try:
            opened = self._given or self._stack.enter_context(
                session.environment(self.options.env_file, self.console.event)
            )
            state = self.options.workdir.parent / "relay-state"
            self._environment = self._stack.enter_context(
                relays_for(opened, state, self.console.event)
            )
            self._stack.enter_context(
                metrics.exporting(
                    self.options.metrics_listen,
                    self._environment.metrics_sd_dir,
                    self.console.event,
                )
            )
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.console.close()
        self._stack.close()

    @property
    def environment(self) -> Environment:
        """The environment the batch runs in (only inside ``with``)."""
        if self._environment is None:
            raise RuntimeError("a Batch is used inside `with Batch(...) as batch:`")
        return self._environment

    def run_dir(self, scenario: Scenario) -> Path:
        """A fresh run folder for ``scenario`` under the batch's workdir."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.options.workdir / f"{stamp}-{scenario.name}"
        n = 1
        while path.exists():
            n += 1
            path = self.options.workdir / f"{stamp}-{scenario.name}-{n}"
        return path

    def run(
        self,
        scenario: Scenario,
        *,
        fault_until: Callable[[RunRecord], bool] | None = None,
        console: Console | None = None,
    ) -> ScenarioResult:
        """Run ``scenario``; its bundle goes to a new run folder, its reports to the outputs."""
        opts = self.options
        run_options = RunOptions(
            settle_s=opts.settle_s,
            ttl_margin_s=opts.ttl_margin_s,
            journal=Journal(opts.journal),
            fault_until=fault_until,
        )
        result = run_scenario(
            scenario,
            self.environment,
            console or self.console,
            self.run_dir(scenario),
            run_options,
            opts.seams,
        )
        self.results.append(result)
        (console or self.console).close()
        if self.outputs is not None:
            self.outputs.add(result)
        return result
