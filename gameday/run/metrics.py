"""gameday's own metrics while it runs, on a Prometheus endpoint: what is broken right now.

Series (every one labelled ``scenario``):

- ``gameday_fault_active{fault,target,injector}``: 1 while the fault is applied, else 0
  (``fault`` is the fault's index in the scenario file).
- ``gameday_phase{phase}``: 1 for the current phase (baseline, fault, recovery), else 0.
- ``gameday_verdict{verdict}``: 1 for the scenario's latest verdict (pass, fail, aborted,
  inconclusive).
- ``gameday_checks_total{kind,result}``: checks decided, by kind and result (pass, fail).
- ``gameday_detection_seconds{alert}``: how long the alert took to fire after the fault,
  in the latest run that expected it to.

Off unless asked: ``gameday run --metrics-listen HOST:PORT`` serves them there (HOST
defaults to 127.0.0.1); an environment with ``metrics_sd_dir`` (the embedded stack's has one)
serves them on ``--metrics-listen`` or an ephemeral loopback port, and writes the address
into ``{metrics_sd_dir}/gameday-<pid>.json``, a ``file_sd_configs`` target file: the embedded
stack's Prometheus has a ``gameday`` job globbing that folder (:func:`scrape_config`), re-reads
it when it changes, and scrapes every running gameday. The file is removed on exit.

The runner only calls :func:`update` and :func:`finish`; they do nothing when no exporter is
active, so runs without metrics pay nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, start_http_server
from prometheus_client.registry import Collector

from gameday.errors import ScenarioError
from gameday.scenario.expectations import AlertExpectation

if TYPE_CHECKING:
    from gameday.run.record import RunRecord
    from gameday.run.results import ScenarioResult

PHASES = ("baseline", "fault", "recovery")
VERDICTS = ("pass", "fail", "aborted", "inconclusive")
SD_JOB = "gameday"
LINGER_S = 3.0  # longest wait on exit for a last scrape (Prometheus scrapes every second)


class _ScrapeClock(Collector):
    """Notes when the endpoint was last scraped: ``collect`` runs once per scrape."""

    def __init__(self) -> None:
        self.last = 0.0

    def collect(self) -> Iterable[Any]:
        self.last = time.time()
        return []

    def describe(self) -> Iterable[Any]:
        return []


class Exporter:
    """gameday's own series in a registry of their own, optionally served over HTTP."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.fault_active = self._gauge(
            "gameday_fault_active", "1 while the fault is applied.", "fault", "target", "injector"
        )
        self.phase = self._gauge("gameday_phase", "1 for the current phase of the run.", "phase")
        self.verdict = self._gauge("gameday_verdict", "1 for the latest verdict.", "verdict")
        self.detection = self._gauge(
            "gameday_detection_seconds", "Seconds from fault to alert firing, latest run.", "alert"
        )
        self.checks = Counter(
            "gameday_checks",
            "Checks decided, by kind and result.",
            ["scenario", "kind", "result"],
            registry=self.registry,
        )
        self._clock = _ScrapeClock()
        self.registry.register(self._clock)
        self._changed = 0.0
        self.server: WSGIServer | None = None
        self.address: str | None = None

    def _gauge(self, name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(name, doc, ["scenario", *labels], registry=self.registry)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve ``/metrics`` on ``host:port`` (0: any free port); the address as ``host:port``."""
        try:
            self.server, _ = start_http_server(port, host, registry=self.registry)
        except OSError as exc:
            raise ScenarioError(f"--metrics-listen {host}:{port}: cannot listen ({exc})") from None
        self.address = f"{host}:{self.server.server_port}"
        return self.address

    def update(self, record: RunRecord) -> None:
        """Phase and fault gauges from the run as it stands (called on every runner tick)."""
        name = record.scenario.name
        current = next((p.name for p in record.phases.values() if p.end is None), None)
        for phase in PHASES:
            self.phase.labels(name, phase).set(1 if phase == current else 0)
        for fr in record.faults:
            active = fr.applied_at is not None and fr.reverted_at is None
            labels = (name, str(fr.index), fr.fault.target, fr.fault.injector)
            self.fault_active.labels(*labels).set(1 if active else 0)

    def finish(self, result: ScenarioResult) -> None:
        """Verdict, checks and detection times of a finished scenario; phases and faults off."""
        name = result.scenario.name
        for fault in result.evidence.timeline.faults:
            labels = (name, str(fault.index), fault.target, fault.injector)
            self.fault_active.labels(*labels).set(0)
        for phase in PHASES:
            self.phase.labels(name, phase).set(0)
        for verdict in VERDICTS:
            self.verdict.labels(name, verdict).set(1 if verdict == result.verdict else 0)
        for check in result.checks:
            self.checks.labels(name, check.kind, "pass" if check.passed else "fail").inc()
        for expectation, check in zip(result.scenario.expect, result.checks, strict=False):
            detected = check.extra.get("detected_after_s")
            if isinstance(expectation, AlertExpectation) and isinstance(detected, int | float):
                self.detection.labels(name, expectation.alert).set(float(detected))
        self._changed = time.time()

    def text(self) -> str:
        """The exposition, as a scrape would read it."""
        return generate_latest(self.registry).decode()

    def close(self, linger_s: float = LINGER_S) -> None:
        """Stop serving; if someone scrapes us, first wait (bounded) for one last scrape so
        the latest verdict reaches Prometheus."""
        if self.server is None:
            return
        deadline = time.monotonic() + linger_s
        scraped = self._clock.last > 0
        while scraped and self._clock.last < self._changed and time.monotonic() < deadline:
            time.sleep(0.05)
        self.server.shutdown()
        self.server.server_close()
        self.server = None


_active: Exporter | None = None


def update(record: RunRecord) -> None:
    """Refresh the active exporter's gauges from ``record`` (no-op without an exporter)."""
    if _active is not None:
        _active.update(record)


def finish(result: ScenarioResult) -> None:
    """Publish a finished scenario on the active exporter (no-op without one)."""
    if _active is not None:
        _active.finish(result)


def listen_address(text: str) -> tuple[str, int]:
    """``(host, port)`` from ``HOST:PORT`` or ``PORT`` (host 127.0.0.1)."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ScenarioError(f"--metrics-listen: expected HOST:PORT or PORT, got {text!r}") from None
    if not 0 <= number <= 65535:
        raise ScenarioError(f"--metrics-listen: port {number} out of range")
    return host.strip("[]") or "127.0.0.1", number


@contextlib.contextmanager
def exporting(
    listen: str | None,
    sd_dir: str | Path | None,
    say: Callable[[str], object] = lambda _: None,
) -> Iterator[Exporter | None]:
    """Serve gameday's metrics for the duration of the block, if ``listen`` or ``sd_dir`` says so.

    With ``sd_dir``, the endpoint is announced there as a file_sd target file (removed on
    exit). ``say`` hears where it serves. Yields the exporter, or ``None`` when metrics are off.
    """
    global _active  # noqa: PLW0603 - one exporter per process, like prometheus_client's REGISTRY
    if listen is None and sd_dir is None:
        yield None
        return
    exporter = Exporter()
    address = exporter.serve(*listen_address(listen or "127.0.0.1:0"))
    target: Path | None = None
    try:
        target = announce(Path(sd_dir), address) if sd_dir else None
        where = f" (announced in {target})" if target else ""
        say(f"gameday metrics: http://{address}/metrics{where}")
        _active = exporter
        yield exporter
    finally:
        _active = None
        exporter.close()
        if target is not None:
            target.unlink(missing_ok=True)


def announce(sd_dir: Path, address: str) -> Path:
    """Write ``address`` as a file_sd target file in ``sd_dir``; its path (one per process)."""
    host, _, port = address.rpartition(":")
    if host in ("0.0.0.0", "::", ""):  # listening everywhere: Prometheus on this host uses loopback
        host = "127.0.0.1"
    path = sd_dir / f"gameday-{os.getpid()}.json"
    tmp = sd_dir / f".gameday-{os.getpid()}.tmp"  # not matched by the *.json glob
    try:
        sd_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps([{"targets": [f"{host}:{port}"]}]))
        os.replace(tmp, path)  # Prometheus never reads half a file
    except OSError as exc:
        raise ScenarioError(
            f"metrics_sd_dir {sd_dir}: cannot announce gameday there ({exc})"
        ) from None
    return path


def scrape_config(sd_dir: str | Path) -> dict[str, Any]:
    """The Prometheus scrape job that finds every gameday announced in ``sd_dir``."""
    return {
        "job_name": SD_JOB,
        "file_sd_configs": [{"files": [str(Path(sd_dir) / "*.json")], "refresh_interval": "1s"}],
        "scrape_timeout": "900ms",
    }
