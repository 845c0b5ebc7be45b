"""Start, watch and stop the embedded reference stack, one process per part.

Order: telemetry sink, toxiproxy-compatible server and batch relay server, then the feature
store, the proxies in front of it and the relay that moves the producer's batches to the
pipeline (:mod:`gameday.stack.batches`), the services that use them, and last Alertmanager
and Prometheus (which must know every port). Everything binds 127.0.0.1 on ephemeral ports
and lives in one working folder that is removed on stop. ``Stack.endpoints`` is a valid
environment file.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from gameday import _procs
from gameday.errors import StackUnavailable
from gameday.run import metrics
from gameday.stack import batches, observability
from gameday.stack.control import ControlApi, ControlServer
from gameday.stack.model import bootstrap
from gameday.telemetry import backends

# The names under which prometheus_client takes a multiprocess directory (the lower-case one
# is its legacy spelling).
_MULTIPROCESS_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")

SERVICES = (
    "feature-store",
    "model-server",
    "pipeline",
    "producer",
    "drift-monitor",
    "label-feed",
    "trainer",
)
PROXIES = {
    "feature_store": "model-server → feature-store",
    "feature_store_writes": "pipeline → feature-store",
}


@dataclass(frozen=True)
class StackOptions:
    """Knobs of the embedded stack (defaults are what the catalogue is tuned for)."""

    entities: int = 2000
    batch_rows: int = 500
    batch_interval_s: float = 2.0
    feature_timeout_s: float = 2.0
    workdir: Path | None = None
    keep_workdir: bool = False
    ready_timeout_s: float = 60.0
    label_delay_s: float = 3.0
    train_interval_s: float = 15.0
    sink_token: str | None = None
    # An existing toxiproxy(-compatible) server to create the stack's proxies on, instead of
    # starting one; its proxies are deleted again on stop.
    toxiproxy_url: str | None = None
    # False: no Prometheus or Alertmanager of its own (an external pair scrapes the stack,
    # see Stack.scrape_targets); the endpoints then name neither.
    observability: bool = True


def targets() -> dict[str, dict[str, str]]:
    """The stack's logical targets, as an environment file names them: the model server's
    link to the feature store and the pipeline's (proxies, each naming the feature store as
    the service behind it), the upstream batches (the batch relay; the producer makes them),
    the learning loop's feeds and every service (control API). The drill's answer key is
    made of these (:mod:`gameday.drill.answers`)."""
    out: dict[str, dict[str, str]] = {name: {"service": name} for name in SERVICES}
    out["feature-store"] = {"proxy": "feature_store", "service": "feature-store"}
    out["feature-store-writes"] = {"proxy": "feature_store_writes", "service": "feature-store"}
    out["upstream"] = {"relay": batches.RELAY, "service": "producer"}
    out["labels"] = {"service": "label-feed"}
    out["training-data"] = {"service": "label-feed"}
    return out


def template_endpoints() -> dict[str, object]:
    """The stack's endpoints before it runs (placeholder loopback URLs, real targets), so
    scenarios can be validated against it before anything starts."""
    placeholder = "http://127.0.0.1:9"
    keys = ("model_server", "toxiproxy", "prometheus", "alertmanager", "traces", "producer",
            "control", "feature_store", "pipeline", "relay")  # fmt: skip
    relays = batches.folders(Path("gameday-stack")).relays()
    return {
        **dict.fromkeys(keys, placeholder),
        "relays": relays,
        "targets": targets(),
        "impact": observability.impact_queries(),
    }


@dataclass
class Stack:
    """The running reference stack. Use as a context manager, or ``start()`` / ``stop()``."""

    options: StackOptions = field(default_factory=StackOptions)
    children: dict[str, _procs.Child] = field(default_factory=dict)
    endpoints: dict[str, Any] = field(default_factory=dict)
    proxies: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    argvs: dict[str, list[str]] = field(default_factory=dict)
    paused: set[str] = field(default_factory=set)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _control: ControlServer | None = None

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> dict[str, Any]:
        """Start every part and wait until healthy; on failure stop what started and raise."""
        try:
            self._start_all()
            self.wait_healthy(self.options.ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    def _start_all(self) -> None:
        self.workdir = self.options.workdir or Path(tempfile.mkdtemp(prefix="gameday-stack-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self._write_model()
        first = {"telemetry": self._argv_sink(), "relay": batches.relay_argv(self.workdir)}
        if self.options.toxiproxy_url is None:
            first["toxiproxy"] = self._argv_toxiproxy()
        self._start_parallel(first)
        self._start_parallel({"feature-store": self._argv_feature_store()})
        self._create_proxies()
        batches.create_relay(self.url("relay"), self._batches())
        self._start_parallel(
            {n: self._argv_service(n) for n in ("model-server", "pipeline", "producer")}
        )
        self._start_parallel({n: self._argv_service(n) for n in ("drift-monitor", "label-feed")})
        self._start_parallel({"trainer": self._argv_service("trainer")})
        if self.options.observability:
            self._start_observability()
        self._control = ControlServer(ControlApi(self))
        control_url = self._control.start()
        self.endpoints = self._endpoints() | {"control": control_url}

    def _log(self, name: str) -> Path:
        assert self.workdir is not None
        return self.workdir / "logs" / f"{name}.log"

    def _spawn(self, service: str, argv: list[str]) -> _procs.Child:
        # A service is one process whose latency exemplars live in its own memory. A
        # multiprocess directory inherited from the caller (importing Feast sets one) would put
        # prometheus_client in multiprocess mode, which keeps no exemplars: dropped here.
        token = self.options.sink_token
        return _procs.spawn(
            service,
            argv,
            log_path=self._log(service),
            env={"GAMEDAY_SINK_TOKEN": token} if token else None,
            unset=_MULTIPROCESS_VARIABLES,
        )

    def _start_parallel(self, argvs: dict[str, list[str]]) -> None:
        self.argvs.update(argvs)
        spawned = [self._spawn(n, a) for n, a in argvs.items()]
        for child in spawned:
            self.children[child.name] = child
        for child in spawned:
            _procs.wait_ready(child, self.options.ready_timeout_s)

    def url(self, name: str) -> str:
        if name == "toxiproxy" and self.options.toxiproxy_url:
            return self.options.toxiproxy_url.rstrip("/")
        return f"http://127.0.0.1:{self.children[name].port}"

    def scrape_targets(self) -> dict[str, str]:
        """``{service: "127.0.0.1:port"}``, for ``observability.scrape_configs``."""
        return {name: f"127.0.0.1:{self.children[name].port}" for name in SERVICES}

    def _metrics_sd_dir(self) -> Path:
        """Where running gamedays announce their own metrics endpoint (``gameday.run.metrics``)."""
        assert self.workdir is not None
        return self.workdir / "prometheus" / "gameday-sd"

    def _write_model(self) -> None:
        from gameday.stack.drift_monitor import build_reference

        assert self.workdir is not None
        model, cols = bootstrap()
        (self.workdir / "models").mkdir(exist_ok=True)
        model.save(self.workdir / "models" / "live.json")
        reference = build_reference(cols, model.predict_proba(cols))
        (self.workdir / "reference.json").write_text(json.dumps(reference))

    def _argv_sink(self) -> list[str]:
        return _procs.python_module("gameday.servers.sink", "--host", "127.0.0.1", "--port", "0")

    def _argv_toxiproxy(self) -> list[str]:
        return _procs.python_module(
            "gameday.servers.toxiproxy", "--host", "127.0.0.1", "--port", "0", "--announce"
        )

    def _common(self) -> list[str]:
        return ["--otlp", self.url("telemetry")]

    def _argv_feature_store(self) -> list[str]:
        assert self.workdir is not None
        return _procs.python_module(
            "gameday.stack.feature_store",
            "--db",
            str(self.workdir / "features.db"),
            "--entities",
            str(self.options.entities),
            *self._common(),
        )

    def _argv_service(self, name: str) -> list[str]:
        module = "gameday.stack." + name.replace("-", "_")
        args = getattr(self, "_args_" + name.replace("-", "_"))()
        return _procs.python_module(module, *args, *self._common())

    def _args_model_server(self) -> list[str]:
        assert self.workdir is not None
        return [
            "--feature-store",
            self.proxy_url("feature_store"),
            "--model",
            str(self.workdir / "models" / "live.json"),
            "--timeout",
            str(self.options.feature_timeout_s),
        ]

    def _args_pipeline(self) -> list[str]:
        return [
            "--landing",
            str(self._batches().landing),
            "--feature-store",
            self.proxy_url("feature_store_writes"),
        ]

    def _args_producer(self) -> list[str]:
        return [
            "--upstream",
            str(self._batches().upstream),
            "--rows",
            str(self.options.batch_rows),
            "--entities",
            str(self.options.entities),
            "--interval",
            str(self.options.batch_interval_s),
        ]

    def _args_drift_monitor(self) -> list[str]:
        assert self.workdir is not None
        return [
            "--feature-store",
            self.url("feature-store"),
            "--model-server",
            self.url("model-server"),
            "--reference",
            str(self.workdir / "reference.json"),
        ]

    def _args_label_feed(self) -> list[str]:
        return [
            "--model-server",
            self.url("model-server"),
            "--delay",
            str(self.options.label_delay_s),
        ]

    def _args_trainer(self) -> list[str]:
        assert self.workdir is not None
        return [
            "--label-feed",
            self.url("label-feed"),
            "--model-server",
            self.url("model-server"),
            "--model-dir",
            str(self.workdir / "models"),
            "--interval",
            str(self.options.train_interval_s),
        ]

    def _batches(self) -> batches.Folders:
        assert self.workdir is not None
        return batches.folders(self.workdir)

    def proxy_url(self, proxy: str) -> str:
        """The data-plane address of a toxiproxy proxy of the stack, as a base URL."""
        return f"http://{self.proxies[proxy]}"

    def _create_proxies(self) -> None:
        upstream = f"127.0.0.1:{self.children['feature-store'].port}"
        for name in PROXIES:
            body = {"name": name, "listen": "127.0.0.1:0", "upstream": upstream, "enabled": True}
            response = requests.post(f"{self.url('toxiproxy')}/proxies", json=body, timeout=5)
            if response.status_code != 201:
                raise StackUnavailable(f"toxiproxy: cannot create proxy {name}: {response.text}")
            self.proxies[name] = response.json()["listen"]

    def _start_observability(self) -> None:
        assert self.workdir is not None
        am_config = observability.alertmanager_config(
            self.url("telemetry"), self.options.sink_token
        )
        am = backends.start_alertmanager(
            am_config, self.workdir / "alertmanager", timeout=self.options.ready_timeout_s
        )
        self.children["alertmanager"] = am
        scrape = observability.scrape_configs(self.scrape_targets())
        self._metrics_sd_dir().mkdir(parents=True, exist_ok=True)  # Prometheus watches it
        prom = backends.start_prometheus(
            self.workdir / "prometheus",
            rule_files=observability.rule_files(),
            alertmanager_url=str(am.info["url"]),
            scrape_configs=[*scrape, metrics.scrape_config(self._metrics_sd_dir())],
            timeout=self.options.ready_timeout_s,
        )
        self.children["prometheus"] = prom

    def _endpoints(self) -> dict[str, Any]:
        assert self.workdir is not None
        return self._service_endpoints() | self._observability_endpoints()

    def _observability_endpoints(self) -> dict[str, Any]:
        if not self.options.observability:
            return {}
        return {
            "prometheus": str(self.children["prometheus"].info["url"]),
            "alertmanager": str(self.children["alertmanager"].info["url"]),
            "metrics_sd_dir": str(self._metrics_sd_dir()),
            "impact": observability.impact_queries(),
        }

    def _service_endpoints(self) -> dict[str, Any]:
        assert self.workdir is not None
        return {
            "model_server": self.url("model-server"),
            "feature_store": self.url("feature-store"),
            "pipeline": self.url("pipeline"),
            "producer": self.url("producer"),
            "drift_monitor": self.url("drift-monitor"),
            "label_feed": self.url("label-feed"),
            "trainer": self.url("trainer"),
            "toxiproxy": self.url("toxiproxy"),
            "relay": self.url("relay"),
            "relays": self._batches().relays(),
            "traces": self.url("telemetry"),
            "traces_api": "tempo",
            "sink": self.url("telemetry"),
            "landing": str(self._batches().landing),
            "quarantine": str(self._batches().quarantine),
            "allow_hosts": ["127.0.0.1", "localhost"],
            "targets": targets(),
        }

    def wait_healthy(self, timeout: float) -> None:
        """Until every scrape target is up and spans arrive; else say which part is not."""
        deadline = time.monotonic() + timeout
        problem: str | None = "not checked"
        while time.monotonic() < deadline:
            problem = self._health_problem()
            if problem is None:
                return
            time.sleep(0.25)
        raise StackUnavailable(f"reference stack not healthy after {timeout:g} s: {problem}")

    def _health_problem(self) -> str | None:
        for name, child in self.children.items():
            if not child.alive():
                return f"{name} exited with code {child.popen.returncode} (log: {child.log_path})"
        try:
            stats = requests.get(f"{self.endpoints['sink']}/api/stats", timeout=2).json()
            problem = self._scrape_problem() if self.options.observability else None
        except (requests.RequestException, ValueError) as exc:
            return f"observability not answering: {exc}"
        if problem:
            return problem
        if not stats.get("traces", {}).get("received"):
            return "no spans received by the trace sink yet"
        return None

    def _scrape_problem(self) -> str | None:
        url = f"{self.endpoints['prometheus']}/api/v1/targets"
        active = requests.get(url, timeout=2).json()["data"]["activeTargets"]
        active = [t for t in active if t["labels"].get("service")]  # not a gameday announced there
        down = [t["labels"]["service"] for t in active if t["health"] != "up"]
        if down or len(active) < len(SERVICES):
            return f"scrape targets not up yet: {', '.join(down) or 'none discovered'}"
        return None

    def stop(self) -> None:
        """Stop every process started (reverse order), then remove the working folder."""
        if self._control is not None:
            self._control.stop()
            self._control = None
        if self.options.toxiproxy_url:  # not ours to stop: leave the server as we found it
            for name in self.proxies:
                with contextlib.suppress(requests.RequestException):
                    requests.delete(f"{self.url('toxiproxy')}/proxies/{name}", timeout=5)
            self.proxies.clear()
        with self._lock:
            for name in reversed(list(self.children)):
                self.children[name].stop()
            self.children.clear()
        if self.workdir and not self.options.keep_workdir and self.options.workdir is None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # Process faults on stack services (the control API and the process injectors use these).
    def service_names(self) -> tuple[str, ...]:
        return SERVICES

    def describe(self, name: str) -> dict[str, Any]:
        with self._lock:
            child = self.children.get(name)
            return {
                "pid": child.pid if child else None,
                "alive": bool(child and child.alive()),
                "paused": name in self.paused,
                "url": self.url(name) if child else None,
            }

    def pause(self, service: str) -> None:
        """SIGSTOP the service: it holds its connections but answers nothing."""
        self._signal(service, signal.SIGSTOP)
        self.paused.add(service)

    def resume(self, service: str) -> None:
        self._signal(service, signal.SIGCONT)
        self.paused.discard(service)

    def kill(self, service: str) -> None:
        """SIGKILL the service (no chance to clean up), as a crash would."""
        with self._lock:
            child = self._child(service)
            with contextlib.suppress(ProcessLookupError):
                child.popen.send_signal(signal.SIGCONT)
                child.popen.kill()
            child.popen.wait(10)
            self.paused.discard(service)

    def restart(self, service: str) -> None:
        """Start a killed (or stopped) service again on the same port; no-op if alive."""
        with self._lock:
            child = self._child(service)
            if child.alive():
                return
            argv = [*self.argvs[service], "--port", str(child.port)]
            fresh = self._spawn(service, argv)
            self.children[service] = _procs.wait_ready(fresh, self.options.ready_timeout_s)

    def _child(self, service: str) -> _procs.Child:
        child = self.children.get(service)
        if child is None or service not in SERVICES:
            raise StackUnavailable(
                f"unknown stack service {service!r}; known: {', '.join(SERVICES)}"
            )
        return child

    def _signal(self, service: str, sig: signal.Signals) -> None:
        with self._lock:
            child = self._child(service)
            with contextlib.suppress(ProcessLookupError):
                child.popen.send_signal(sig)
