"""The platform example end to end: ``run-stack`` brings the stack up, gameday drives it
through the environment file alone, and ``run-stack`` leaves nothing running when it stops,
after a clean run, a failed start or Ctrl-C alike."""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "examples" / "platform"
RUN_STACK = PLATFORM / "run-stack"
SCENARIOS = PLATFORM / "scenarios"
# Three of the catalogue, one per layer, each checking who was paged: the shared store's link
# (latency, with each model's traces blaming the store; an outage, with its single page, its
# grouped burn-rate page and the model teams' symptoms inhibited), a model's process (only its
# team paged; distributed load). The upstream data through the relay (a drifting shared
# feature paging the data team once) runs as the severe end of a sweep (SWEPT). The other two
# run on demand (the platform's README).
E2E_SCENARIOS = (
    "redis-latency",
    "redis-outage",
    "ranking-model-killed",
)
SWEPT = "category-affinity-drift"
STACK_START_S = 420.0  # five Python services importing Feast and scikit-learn on 2 shared cores
RUN_S = 15 * 60.0


# --- helpers ----------------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat), or None if it is gone or a
    zombie: with the pid, it names one process even if the pid is reused later."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def _descendants(root: int) -> dict[int, str]:
    """Every live process below ``root`` (children, grandchildren...) with its start time."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        started = _start_time(pid)
        if started is not None:
            found[pid] = started
        todo.extend(children.get(pid, []))
    return found


def _still_running(pids: dict[int, str]) -> list[int]:
    return [pid for pid, started in pids.items() if _start_time(pid) == started]


def _started_pids(stderr: str) -> list[int]:
    """The pids run-stack says it started (``started NAME (pid N)``)."""
    return [
        int(line.rsplit("(pid ", 1)[1].rstrip(")"))
        for line in stderr.splitlines()
        if "run-stack: started " in line and "(pid " in line
    ]


def _wait_for(
    condition: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[str], log: Path
) -> None:
    """Poll ``condition`` until it holds; fail (with run-stack's log) if run-stack exits first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            tail = log.read_text()[-4000:]
            pytest.fail(f"run-stack exited with {proc.returncode} waiting for {what}:\n{tail}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:g} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def _stub_configs(folder: Path) -> list[str]:
    """Options for an empty rule file and a one-receiver Alertmanager template: tests of the
    supervision need no alerting of the platform's own."""
    (folder / "rules.yml").write_text("groups: []\n")
    (folder / "am.yml.tmpl").write_text(
        "route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: '${SINK}/r'}]}]\n"
    )
    return [
        "--rules",
        str(folder / "rules.yml"),
        "--alertmanager-template",
        str(folder / "am.yml.tmpl"),
    ]


def _run_stack(args: list[str], stderr: Path) -> subprocess.Popen[str]:
    with stderr.open("w") as err:
        return subprocess.Popen(
            [sys.executable, str(RUN_STACK), *args],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
        )


def _needs(*binaries: str) -> None:
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (CI installs it with apt-get)")


def _needs_alertmanager() -> None:
    if not (shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")):
        pytest.skip("Alertmanager not installed (apt-get install -y prometheus-alertmanager)")


# --- the example stays independent ------------------------------------------------------------


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_under_examples_platform_imports_gameday() -> None:
    """The example could be copied into another repository: gameday runs only as commands."""
    sources = [RUN_STACK, *PLATFORM.rglob("*.py")]
    assert len(sources) > 1
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if m.split(".")[0] == "gameday"
        )
        for path in sources
    }
    assert {p: m for p, m in offenders.items() if m} == {}


def test_run_stack_is_an_executable_python_script() -> None:
    assert os.access(RUN_STACK, os.X_OK)
    assert RUN_STACK.read_text().startswith("#!/usr/bin/env python3\n")


def _run_stack_module() -> ModuleType:
    """run-stack loaded as a module (it is a script without ``.py``), for its functions."""
    loader = importlib.machinery.SourceFileLoader("run_stack", str(RUN_STACK))
    module = ModuleType(loader.name)
    module.__file__ = str(RUN_STACK)
    saved = list(sys.path)  # run-stack puts its folder first on the path
    sys.modules[loader.name] = module  # its dataclasses look their module up there
    try:
        loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


def test_every_scenario_validates_against_the_environment_run_stack_writes(tmp_path: Path) -> None:
    """Targets, params and locustfiles of the catalogue fit the environment's shape, without
    starting the stack (the end-to-end test validates against a live one too)."""
    rs = _run_stack_module()
    urls = {k: f"http://127.0.0.1:{9000 + i}" for i, k in enumerate(
        ("toxiproxy", "prometheus", "alertmanager", "sink", "relay", "control"))}  # fmt: skip
    models = {}
    for i, service in enumerate(rs.MODELS.values()):
        models[service] = rs.Process(rs.Spec(service, []), tmp_path)
        models[service].port = 9100 + i
    relays = {"batches": {"upstream": str(tmp_path / "up"), "landing": str(tmp_path / "land")}}
    env = tmp_path / "env.json"
    env.write_text(json.dumps(rs.environment(urls, relays, models, tmp_path / "sd")))
    scenarios = sorted(SCENARIOS.glob("*.yaml"))
    assert len(scenarios) >= 6
    validate = subprocess.run(
        [sys.executable, "-m", "gameday", "validate", "--env", str(env), *map(str, scenarios)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert validate.stdout.count(": ok") == len(scenarios)


# --- supervision: nothing left running --------------------------------------------------------


@pytest.mark.integration
def test_a_failing_start_stops_everything_already_started(tmp_path: Path) -> None:
    """Redis exits at once: the sidecars started before it are stopped, and the exit code is 1."""
    _needs("prometheus")
    _needs_alertmanager()
    broken = tmp_path / "redis-server"
    broken.write_text("#!/bin/sh\necho 'cannot open the door' >&2\nexit 3\n")
    broken.chmod(0o755)
    env = tmp_path / "env.json"
    args = ["--env", str(env), "--workdir", str(tmp_path / "stack"), "--redis-server", str(broken)]
    proc = _run_stack([*args, *_stub_configs(tmp_path)], tmp_path / "stderr")
    assert proc.wait(timeout=120) == 1
    stderr = (tmp_path / "stderr").read_text()
    assert "redis: exited with code 3" in stderr
    assert "cannot open the door" in stderr  # the end of the failing process's log is shown
    started = _started_pids(stderr)
    assert len(started) >= 3, stderr  # sink, toxiproxy and relay, at least, ran before Redis
    assert [pid for pid in started if _start_time(pid) is not None] == []
    assert not env.exists()


@pytest.mark.integration
def test_ctrl_c_during_the_start_stops_everything_already_started(tmp_path: Path) -> None:
    """Redis never answers; Ctrl-C while run-stack waits for it stops every process."""
    _needs("prometheus")
    _needs_alertmanager()
    silent = tmp_path / "redis-server"
    silent.write_text("#!/bin/sh\nexec sleep 300\n")
    silent.chmod(0o755)
    env = tmp_path / "env.json"
    args = ["--env", str(env), "--workdir", str(tmp_path / "stack"), "--redis-server", str(silent)]
    stderr = tmp_path / "stderr"
    proc = _run_stack([*args, *_stub_configs(tmp_path)], stderr)
    try:
        _wait_for(lambda: "started redis" in stderr.read_text(), 120, "Redis", proc, stderr)
        running = _descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(running) >= 4  # sink, toxiproxy, relay, the fake Redis
    assert _still_running(running) == []
    assert "SIGINT: stopping the stack" in stderr.read_text()
    assert not env.exists()


# --- the platform, end to end -----------------------------------------------------------------


@dataclass
class Platform:
    """A running ``run-stack``: its process, environment file, workdir and stderr."""

    proc: subprocess.Popen[str]
    env: Path
    workdir: Path
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text()[-4000:]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """run-stack started once for the module, given until its environment file appears."""
    if importlib.util.find_spec("feast") is None:
        pytest.skip("feast is not installed: pip install -e '.[platform]'")
    _needs("redis-server", "prometheus")
    _needs_alertmanager()
    folder = tmp_path_factory.mktemp("platform")
    env, stderr = folder / "env.json", folder / "run-stack.stderr"
    proc = _run_stack(["--env", str(env), "--workdir", str(folder / "stack")], stderr)
    running = Platform(proc, env, folder / "stack", stderr)
    try:
        _wait_for(env.exists, STACK_START_S, "environment file", proc, stderr)
        yield running
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(STACK_START_S + RUN_S + 300)
def test_platform_scenarios_pass_through_the_environment_file_alone(
    platform: Platform, tmp_path: Path
) -> None:
    """The catalogue validates against the written environment, the scenarios of
    E2E_SCENARIOS pass, and their mutants fail."""
    gameday = [sys.executable, "-m", "gameday"]
    validate = subprocess.run(
        [*gameday, "validate", "--env", str(platform.env), str(SCENARIOS)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert validate.returncode == 0, validate.stdout + validate.stderr
    planned = tmp_path / "plan.jsonl"
    plan = subprocess.run(
        [*gameday, "plan", "--env", str(platform.env), "--json", str(planned), str(SCENARIOS)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stdout + plan.stderr  # every bound can be met
    rows = [json.loads(line) for line in planned.read_text().splitlines()]
    down = next(r for r in rows if r["alert"] == "FeatureStoreDown")
    assert down["receiver"] == "platform-oncall" and down["predicted_min_s"] >= 5.0  # group_wait
    out = tmp_path / "results.jsonl"
    paths = [str(SCENARIOS / f"{name}.yaml") for name in E2E_SCENARIOS]
    options = ["--env", str(platform.env), "--json", str(out), "--workdir", str(tmp_path / "runs"),
               "--no-history", "--journal", str(tmp_path / "journal")]  # fmt: skip
    run = subprocess.run(
        [*gameday, "run", *paths, *options],
        capture_output=True, text=True, timeout=RUN_S, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    results = (
        {r["scenario"]: r for r in map(json.loads, out.read_text().splitlines())}
        if out.exists()
        else {}
    )
    report = f"{run.stdout[-6000:]}\n{run.stderr[-3000:]}\nrun-stack:\n{platform.log()}"
    assert set(results) == set(E2E_SCENARIOS), report
    failing = {
        name: [f"{c['name']}: {c['detail']}" for c in r["checks"] if not c["passed"]]
        + [r.get("reason", "")]
        for name, r in results.items()
        if r["verdict"] != "pass"
    }
    assert failing == {}, report
    assert run.returncode == 0, report
    _every_mutant_fails(results)


def _every_mutant_fails(results: dict[str, dict[str, Any]]) -> None:
    """Wrong expectations derived from each run's own evidence (one page more or fewer, the
    wrong inhibitor, a later bound...) all fail when the bundle is judged again offline."""
    from gameday.evidence.bundle import read_bundle
    from gameday.run.judge import judge, rejudge
    from gameday.verifiers.mutants import kill_report

    kinds: set[str] = set()
    survivors = []
    for result in results.values():
        bundle = read_bundle(result["run_dir"])
        report = kill_report(rejudge(bundle).scenario, bundle.evidence, judge)
        survivors += [(result["scenario"], o.mutant.how) for o in report.survivors]
        kinds |= set(report.by_kind())
    assert not survivors, survivors
    assert kinds >= {"alert", "pages", "inhibited", "grouped", "root_cause", "recovered"}, kinds


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(RUN_S)
def test_a_sweep_on_the_platform_finds_the_drift_threshold_and_the_blind_spot_below(
    platform: Platform, tmp_path: Path
) -> None:
    """``gameday sweep`` through the environment file alone: the drift of the shared feature at
    the scenario's own 2 sigma (its game day, which must pass) and at 0.2 sigma, where the
    drift alert stays silent; each model's served score is the impact measured."""
    out = tmp_path / "sweep"
    sweep = subprocess.run(
        [sys.executable, "-m", "gameday", "sweep", str(SCENARIOS / f"{SWEPT}.yaml"),
         "--param", "shift_sigma", "--from", "0.2", "--to", "2", "--probes", "2",
         "--env", str(platform.env), "--report", str(out), "--journal", str(tmp_path / "j"),
         "--quiet"],
        capture_output=True, text=True, timeout=RUN_S - 60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    report = f"{sweep.stdout[-4000:]}\n{sweep.stderr[-3000:]}\nrun-stack:\n{platform.log()}"
    assert sweep.returncode == 0, report
    found = json.loads((out / "sweep.json").read_text())
    severe, mild = found["probes"]
    assert (severe["magnitude"], mild["magnitude"]) == (2.0, 0.2)
    assert severe["verdict"] == "pass", json.dumps(severe["alerts"], indent=1) + report
    assert mild["fired"] == {"FeatureDriftHigh": False}, report
    assert found["thresholds"] == {"FeatureDriftHigh": 2.0}
    assert found["blind_spot"]["magnitude"] == 0.2
    score = severe["impact_detail"]["score_mean"]
    assert score["baseline"] is not None and "model=" in score["note"], score


@pytest.mark.integration
@pytest.mark.slow
def test_sigterm_stops_every_process_the_platform_started(platform: Platform) -> None:
    """After SIGTERM run-stack exits 0, no process it started (or theirs) runs, and the
    environment file, which would point at dead ports, is gone."""
    assert "targets" in json.loads(platform.env.read_text())
    running = _descendants(platform.proc.pid)
    assert len(running) >= 11, platform.log()  # 3 sidecars, Redis, 5 services, 2 backends
    platform.proc.terminate()
    assert platform.proc.wait(timeout=60) == 0, platform.log()
    assert _still_running(running) == [], platform.log()
    assert not platform.env.exists()
