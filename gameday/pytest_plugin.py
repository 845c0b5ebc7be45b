"""pytest plugin: game-day scenarios as test items, and the stack they run on as a fixture.

``pytest --gameday scenarios/`` collects every scenario file under the path as one test item
named after the scenario (``scenarios/control.yaml::control``). The item passes when the
verdict passes, fails with the failing checks and their details, and errors when the run
aborted (steady state broken, environment unreachable). A scenario's tags are keywords
(``-k network``). ``--gameday-env FILE`` attaches to a running stack (an environment file,
such as the endpoints file ``gameday stack up`` writes); without it the embedded reference
stack starts once per session, on first use, and stops at the end.

Without ``--gameday`` nothing changes in a pytest run: the plugin only adds its options and
the ``gameday_stack`` fixture, which starts (or attaches to) the stack only if a test asks.
With ``--gameday`` and no test paths on the command line, only the game days run (the
``testpaths`` of the project are not added); name other paths to run them too.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gameday.run.batch import Batch
    from gameday.run.results import ScenarioResult
    from gameday.scenario.environment import Environment
    from gameday.scenario.model import Scenario
    from gameday.stack.launcher import Stack

SCENARIO_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class GamedayStack:
    """What ``gameday_stack`` gives a test: the environment game days run in, its endpoints
    (URLs by key, as in an endpoints file) and the embedded :class:`Stack` when started here
    (``None`` when attached with ``--gameday-env``)."""

    environment: Environment
    endpoints: Mapping[str, Any]
    stack: Stack | None = None


class ScenarioAborted(Exception):
    """The run aborted: reported as a test error, not a failure."""


class ScenarioFailed(AssertionError):
    """The verdict failed; the message lists the failing checks with their details."""


class _Session:
    """The session's stack (started or attached on first use) and how scenarios run on it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._handle: GamedayStack | None = None
        self._cleanup = contextlib.ExitStack()
        self._batch: Batch | None = None
        self._failed: Exception | None = None

    def stack(self) -> GamedayStack:
        if self._failed is not None:  # a stack that would not start is not retried per item
            raise self._failed
        if self._handle is None:
            try:
                self._handle = self._start()
            except Exception as exc:
                self._failed = exc
                raise
        return self._handle

    def _start(self) -> GamedayStack:
        from gameday.scenario.environment import Environment, load_environment

        env_file = self.config.getoption("gameday_env")
        if env_file:
            env = load_environment(env_file)
            return GamedayStack(env, env.model_dump(mode="json", exclude_none=True))
        from gameday.stack.launcher import Stack

        stack = self._cleanup.enter_context(Stack())
        return GamedayStack(Environment.from_endpoints(stack.endpoints), stack.endpoints, stack)

    def template(self) -> Environment:
        """What scenario files are validated against at collection (nothing is started)."""
        from gameday.run.session import embedded_template
        from gameday.scenario.environment import load_environment

        env_file = self.config.getoption("gameday_env")
        return load_environment(env_file) if env_file else embedded_template()

    def run(self, scenario: Scenario) -> ScenarioResult:
        return self.batch().run(scenario)

    def batch(self) -> Batch:
        """The session's batch on its stack (opened on first use, closed at the end)."""
        if self._batch is None:
            from gameday.run.batch import Batch, BatchOptions
            from gameday.run.console import Console

            options = BatchOptions(
                workdir=Path(self.config.getoption("gameday_workdir")),
                settle_s=self.config.getoption("gameday_settle"),
            )
            report_dir = self.config.getoption("gameday_report")
            outputs = None
            if report_dir:
                from gameday.report import Outputs

                outputs = Outputs(report_dir=Path(report_dir))
            batch = Batch(options, Console(sys.stderr), outputs, self.stack().environment)
            self._batch = self._cleanup.enter_context(batch)
        return self._batch

    def close(self) -> None:
        self._cleanup.close()


_SESSION = pytest.StashKey[_Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gameday", "game days (gameday)")
    group.addoption(
        "--gameday",
        action="append",
        default=[],
        metavar="PATH",
        help="run the scenario files under PATH (file or folder) as tests; repeatable",
    )
    group.addoption(
        "--gameday-env",
        metavar="FILE",
        help="environment file of a running stack (default: start the embedded stack once)",
    )
    group.addoption(
        "--gameday-workdir",
        default=str(Path(".gameday") / "runs"),
        metavar="DIR",
        help="where run files go (default .gameday/runs)",
    )
    group.addoption(
        "--gameday-settle",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="longest wait for the scenario's alerts to be quiet before a baseline (default 60)",
    )
    group.addoption("--gameday-report", metavar="DIR", help="write HTML reports into DIR")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SESSION] = _Session(config)
    paths = config.getoption("gameday")
    if not paths:
        return
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args.extend(p for p in paths if p not in config.args)
    else:  # no paths were named: run the game days, not the project's testpaths too
        config.args[:] = paths


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.close()


def _under(path: Path, roots: list[str]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(Path(r).resolve()) for r in roots)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    roots = parent.config.getoption("gameday")
    if roots and file_path.suffix in SCENARIO_SUFFIXES and _under(file_path, roots):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario file: one test item, named after the scenario."""

    def collect(self) -> Iterator[ScenarioItem]:
        from gameday.errors import ScenarioError
        from gameday.scenario.model import load_scenario

        session = self.config.stash[_SESSION]
        try:
            scenario = load_scenario(self.path, environment=session.template())
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioItem(pytest.Item):
    """One game day: the run happens in setup (an abort is an error), the verdict in call."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.result: ScenarioResult | None = None
        self.extra_keyword_matches.update(scenario.tags)  # -k selects by tag

    def setup(self) -> None:
        from gameday.errors import GameDayError

        try:
            self.result = self.config.stash[_SESSION].run(self.scenario)
        except GameDayError as exc:  # bad environment or a stack that would not start
            raise ScenarioAborted(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        if self.result.reason:  # aborted, or inconclusive (a fault never took effect)
            raise ScenarioAborted(f"{self.name}: {self.result.verdict}: {self.result.reason}")

    def runtest(self) -> None:
        from gameday.run.results import PASS

        assert self.result is not None
        if self.result.verdict != PASS:
            raise ScenarioFailed(failure_text(self.result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailed | ScenarioAborted):
            from gameday.redaction import redact_text

            return redact_text(str(excinfo.value))
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"game day {self.name}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    # pytest shows a traceback for setup errors; an aborted run's reason says it all.
    excinfo = call.excinfo
    if isinstance(item, ScenarioItem) and excinfo and isinstance(excinfo.value, ScenarioAborted):
        from gameday.redaction import redact_text

        report.longrepr = redact_text(str(excinfo.value))
    return report


def failure_text(result: ScenarioResult) -> str:
    """The failing checks of ``result`` with their details (and the runbook), secrets masked."""
    from gameday.redaction import redact_text

    took = result.finished_at - result.started_at
    passed = len(result.checks) - len(result.failing)
    lines = [
        f"game day {result.scenario.name}: {result.verdict.upper()} ({took:.1f} s); "
        f"{passed} of {len(result.checks)} checks passed"
    ]
    for check in result.failing:
        state = "FAIL" if check.decided else "UNDECIDED"
        lines.append(f"  {state} {check.name}\n       {check.detail}")
    if result.scenario.runbook:
        lines.append(f"  runbook: {result.scenario.runbook}")
    return redact_text("\n".join(lines))


@pytest.fixture(scope="session")
def gameday_stack(request: pytest.FixtureRequest) -> GamedayStack:
    """The stack game days run on: ``--gameday-env FILE``, else the embedded reference stack
    (started once per session, on first use, and stopped at the end)."""
    return request.config.stash[_SESSION].stack()
