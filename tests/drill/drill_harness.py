"""Helpers for the drill's tests: a trainee conversation without a stack, and stack probes.

The conversation is real (a pipe for the answers, a text buffer for the screen); only the
alerts (a list the test fills) and the run record (a fault applied now) are stand-ins.
"""

from __future__ import annotations

import codecs
import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from gameday.drill.answers import answer_key, choices_for
from gameday.drill.lines import InputLines
from gameday.drill.pager import Links, Pager
from gameday.drill.trainee import Settings, Trainee
from gameday.evidence.observe import Observability
from gameday.run.record import FaultRecord, Phase, RunRecord
from gameday.scenario.environment import Environment
from gameday.scenario.model import Scenario, load_scenario
from gameday.telemetry.prometheus import PrometheusAlert, Rule
from gameday.testing import wait_until

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CATALOGUE = ROOT / "scenarios"
LATENCY = HERE / "scenarios" / "latency.yaml"
ENV = Environment.from_endpoints(
    {
        "prometheus": "http://127.0.0.1:9",
        "alertmanager": "http://127.0.0.1:9",
        "traces": "http://127.0.0.1:9",
        "toxiproxy": "http://127.0.0.1:9",
    }
)


def catalogue(name: str) -> Scenario:
    """A scenario of the shipped catalogue, by name."""
    return load_scenario(CATALOGUE / f"{name}.yaml")


def alert(name: str, state: str = "firing", **labels: str) -> PrometheusAlert:
    """An alert as Prometheus lists it, with the reference stack's annotations."""
    annotations = {
        "summary": f"{name} summary",
        "description": f"{name} description",
        "runbook_url": f"https://example.org/runbooks#{name.lower()}",
    }
    return PrometheusAlert(
        name, {"alertname": name, **labels}, annotations, state, time.time() - 3, 1.0
    )


def record_under_fault(scenario: Scenario, fault_age_s: float = 0.0) -> RunRecord:
    """A run record whose fault phase began, and whose first fault was applied, just now
    (or ``fault_age_s`` ago)."""
    record = RunRecord(scenario, ENV, Observability(ENV))
    start = time.time() - fault_age_s
    record.phases["fault"] = Phase("fault", start, planned_s=600)
    record.faults.append(FaultRecord(0, scenario.faults[0], "drill-0-test", applied_at=start))
    return record


@dataclass
class Conversation:
    """A trainee, the pipe its answers come through, the screen, and the alerts firing."""

    trainee: Trainee
    record: RunRecord
    firing: list[PrometheusAlert]
    screen: io.StringIO
    answers_fd: int
    hints_asked: list[int] = field(default_factory=list)

    def answer(self, *lines: str) -> None:
        os.write(self.answers_fd, "".join(f"{line}\n" for line in lines).encode())

    def close_input(self) -> None:
        os.close(self.answers_fd)

    def step(self) -> bool:
        return self.trainee.step(self.record)

    def step_until(self, done: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
        """Tick the drill until ``done()`` holds (the runner ticks every 0.25 s)."""
        return wait_until(lambda: (self.step(), done())[1], timeout, what, interval=0.01)

    @property
    def text(self) -> str:
        return self.screen.getvalue()


def conversation(
    scenario: Scenario | None = None, settings: Settings | None = None, fault_age_s: float = 0.0
) -> Conversation:
    """A trainee on the drill-latency scenario (or ``scenario``), no alert firing yet."""
    scenario = scenario or load_scenario(LATENCY)
    read_fd, write_fd = os.pipe()
    firing: list[PrometheusAlert] = []
    rules = {"ModelLatencyHigh": Rule("g", "f", "ModelLatencyHigh", "alerting", "p95 > 0.5", 3)}
    links = Links("http://127.0.0.1:9090", "http://127.0.0.1:9093", "http://127.0.0.1:4318")
    pager = Pager(lambda: list(firing), lambda: rules, links, every_s=0.0)
    asked: list[int] = []

    def hints(i: int, _record: RunRecord) -> list[str] | None:
        asked.append(i)
        return [f"Hint number {i + 1}"] if i < 2 else None

    screen = io.StringIO()
    trainee = Trainee(
        screen,
        InputLines(read_fd),
        answer_key(scenario),
        choices_for([scenario]),
        pager,
        hints,
        settings or Settings(hint_after_s=600, max_s=600, report_after_s=300),
    )
    record = record_under_fault(scenario, fault_age_s)
    return Conversation(trainee, record, firing, screen, write_fd, asked)


# --- probes of the shared stack ------------------------------------------------------------


def toxics(api: str) -> list[str]:
    """Names of the toxics gameday put on any proxy of the toxiproxy API at ``api``."""
    proxies = requests.get(f"{api}/proxies", timeout=5).json()
    return [
        t["name"] for p in proxies.values() for t in p["toxics"] if t["name"].startswith("gameday-")
    ]


def data_faults(producer: str) -> list[str]:
    """Ids of the data faults the producer applies now."""
    faults = requests.get(f"{producer}/internal/faults", timeout=5).json()["faults"]
    return [f["id"] for f in faults]


# --- a drill under test, answers piped ------------------------------------------------------


class PipedDrill:
    """``gameday drill`` in a subprocess, answers written to its stdin when a prompt shows.

    The screen (stdout) is read as it comes, character by character: a prompt has no newline.
    :meth:`expect` waits for text *after* what was already matched, so repeated prompts count.
    """

    def __init__(self, scenario: Path, env: Path, workdir: Path, *extra: str):
        self.out = {name: workdir / name for name in ("out.json", "pm.md", "sheet.md")}
        argv = [
            sys.executable,
            "-m",
            "gameday",
            "drill",
            str(scenario),
            "--env",
            str(env),
            "--json",
            str(self.out["out.json"]),
            "--postmortem",
            str(self.out["pm.md"]),
            "--facilitator",
            str(self.out["sheet.md"]),
            "--journal",
            str(workdir / "journal"),
            "--workdir",
            str(workdir / "runs"),
            *extra,
        ]
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            cwd=workdir,
        )
        self._screen: list[str] = []
        self._errors: list[str] = []
        self._cursor = 0
        self._readers = [
            threading.Thread(
                target=self._read, args=(self.popen.stdout, self._screen), daemon=True
            ),
            threading.Thread(
                target=self._read, args=(self.popen.stderr, self._errors), daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        while chunk := os.read(stream.fileno(), 4096):  # whatever is there: prompts have no \n
            into.append(decode(chunk))

    @property
    def screen(self) -> str:
        return "".join(self._screen)

    @property
    def output(self) -> str:
        return f"{self.screen}\n--- stderr ---\n{''.join(self._errors)}"

    def expect(self, text: str, timeout: float = 60.0) -> None:
        """Wait until ``text`` shows after the last text expected."""

        def found() -> int:
            return self.screen.find(text, self._cursor) + 1

        at = wait_until(found, timeout, f"{text!r} on the drill's screen\n{self.output}", 0.05)
        self._cursor = at - 1 + len(text)

    def answer(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(f"{line}\n".encode())

    def finish(self, timeout: float = 120.0) -> int:
        """Close stdin, wait for the exit code and for everything it printed."""
        assert self.popen.stdin is not None
        self.popen.stdin.close()
        self.popen.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return self.popen.returncode

    def stop(self) -> None:
        """Test clean-up: SIGTERM (the drill reverts on it), then kill if it lingers."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
