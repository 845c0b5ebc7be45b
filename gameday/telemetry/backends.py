"""Start the observability backends as child processes: Prometheus, Alertmanager, the sink.

Each ``start_*`` writes its config into a directory the caller owns, starts the binary on
127.0.0.1, waits (bounded) until it answers its readiness endpoint, and returns a
:class:`gameday._procs.Child` with ``info = {"port": N, "url": "http://127.0.0.1:N"}``.
Stop with ``child.stop()``; the caller removes the directory. Prometheus and Alertmanager
cannot report an ephemeral port back, so a free port is chosen first and the start is
retried on a new one if another process took it in between.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml

from gameday import _procs
from gameday.errors import StackUnavailable

INSTALL_HINT = "apt-get install -y prometheus prometheus-alertmanager"
PROMETHEUS_BINARIES = ("prometheus",)
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")
_PORT_ATTEMPTS = 3
# The intervals of the Prometheus gameday starts (the embedded stack's): 1 s, so game days of
# a few minutes see alerts within seconds.
SCRAPE_INTERVAL_S = 1.0
EVALUATION_INTERVAL_S = 1.0


def find_binary(candidates: Sequence[str], explicit: str | Path | None = None) -> str:
    """The path of ``explicit`` or of the first candidate on PATH; else ``StackUnavailable``."""
    if explicit is not None:
        path = shutil.which(str(explicit))
        if path is None:
            raise StackUnavailable(f"{explicit}: not found or not executable")
        return path
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    raise StackUnavailable(
        f"{' / '.join(candidates)} not found on PATH; install it with: {INSTALL_HINT}"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_http_ok(url: str, child: _procs.Child, timeout: float) -> None:
    """Poll ``url`` until it answers 200, the child exits, or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not child.alive():
            raise StackUnavailable(
                f"{child.name}: exited with code {child.popen.returncode} before it was ready"
                f"{_log_tail(child.log_path)}"
            )
        try:
            response = requests.get(url, timeout=1.0)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.05)
    child.stop()
    raise StackUnavailable(f"{child.name}: {url} not ready after {timeout:g} s ({last})")


def prometheus_config(
    scrape_targets: Mapping[str, Iterable[str]] | None = None,
    rule_files: Iterable[str | Path] = (),
    alertmanager_url: str | None = None,
    *,
    scrape_interval: str = f"{SCRAPE_INTERVAL_S:g}s",
    evaluation_interval: str = f"{EVALUATION_INTERVAL_S:g}s",
    scrape_configs: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A Prometheus config: one static job per ``{job: ["host:port", ...]}`` entry.

    ``scrape_configs`` are appended verbatim (for auth, metrics paths, relabelling).
    """
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "rule_files": [str(Path(f).resolve()) for f in rule_files],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]}
            for job, targets in (scrape_targets or {}).items()
        ]
        + [dict(c) for c in scrape_configs],
    }
    if alertmanager_url:
        config["alerting"] = {"alertmanagers": [_alertmanager_target(alertmanager_url)]}
    return config


def _alertmanager_target(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    target: dict[str, Any] = {
        "scheme": parts.scheme or "http",
        "static_configs": [{"targets": [parts.netloc]}],
    }
    if parts.path.strip("/"):
        target["path_prefix"] = parts.path
    return target


def start_prometheus(
    config_dir: str | Path,
    rule_files: Iterable[str | Path] = (),
    scrape_targets: Mapping[str, Iterable[str]] | None = None,
    alertmanager_url: str | None = None,
    *,
    scrape_interval: str = f"{SCRAPE_INTERVAL_S:g}s",
    evaluation_interval: str = f"{EVALUATION_INTERVAL_S:g}s",
    scrape_configs: Iterable[Mapping[str, Any]] = (),
    resend_delay: str = "1s",
    binary: str | Path | None = None,
    timeout: float = 30.0,
) -> _procs.Child:
    """Start Prometheus with a config written to ``config_dir/prometheus.yml``.

    TSDB in ``config_dir/prometheus-data``, log in ``config_dir/prometheus.log``; a rule file
    that does not load fails the start. ``resend_delay`` is how often firing alerts are sent
    to Alertmanager again: Prometheus discovers its Alertmanagers only ~5 s after start and
    drops alerts fired before that, and its 1 m default would delay their first
    notification by a minute.
    """
    rule_paths = _existing(rule_files)
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    config = prometheus_config(
        scrape_targets,
        rule_paths,
        alertmanager_url,
        scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval,
        scrape_configs=scrape_configs,
    )
    config_file = _write_yaml(config_dir / "prometheus.yml", config)
    argv = [
        find_binary(PROMETHEUS_BINARIES, binary),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={config_dir / 'prometheus-data'}",
        "--web.enable-lifecycle",  # lets a launcher reload rules without a restart
        f"--rules.alert.resend-delay={resend_delay}",
    ]
    return _start_on_free_port("prometheus", argv, "--web.listen-address", config_dir, timeout)


def _existing(rule_files: Iterable[str | Path]) -> list[Path]:
    paths = [Path(f) for f in rule_files]
    missing = [str(f) for f in paths if not f.is_file()]
    if missing:
        # Prometheus treats rule_files as globs: a wrong path would load nothing, silently.
        raise StackUnavailable(f"prometheus: rule files not found: {', '.join(missing)}")
    return paths


def alertmanager_config(
    webhook_url: str,
    receiver: str = "gameday",
    *,
    group_by: Sequence[str] = ("alertname",),
    group_wait: str = "0s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    token: str | None = None,
    send_resolved: bool = True,
) -> dict[str, Any]:
    """An Alertmanager config routing everything to one webhook receiver.

    ``webhook_url`` is posted to as is; for gameday's sink use ``{sink}/alertmanager/{receiver}``.
    """
    webhook: dict[str, Any] = {"url": webhook_url, "send_resolved": send_resolved}
    if token:
        webhook["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
    return {
        "route": {
            "receiver": receiver,
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [{"name": receiver, "webhook_configs": [webhook]}],
    }


def start_alertmanager(
    config: Mapping[str, Any] | str,
    config_dir: str | Path,
    *,
    binary: str | Path | None = None,
    timeout: float = 30.0,
) -> _procs.Child:
    """Start Alertmanager (no clustering) with ``config`` (a mapping or YAML text).

    Config in ``config_dir/alertmanager.yml``, state in ``config_dir/alertmanager-data``, log
    in ``config_dir/alertmanager.log``.
    """
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    config_file = config_dir / "alertmanager.yml"
    if isinstance(config, str):
        config_file.write_text(config)
    else:
        _write_yaml(config_file, config)
    argv = [
        find_binary(ALERTMANAGER_BINARIES, binary),
        f"--config.file={config_file}",
        f"--storage.path={config_dir / 'alertmanager-data'}",
        "--cluster.listen-address=",  # empty: no gossip port, no peers
    ]
    return _start_on_free_port("alertmanager", argv, "--web.listen-address", config_dir, timeout)


def start_sink(
    *,
    max_spans: int | None = None,
    token: str | None = None,
    log_path: Path | None = None,
    timeout: float = 30.0,
) -> _procs.Child:
    """Start ``python -m gameday.servers.sink`` on 127.0.0.1 and wait for its readiness line.

    The token travels in the environment, not argv, so ``ps`` does not show it.
    """
    args = ["--max-spans", str(max_spans)] if max_spans else []
    env = {"GAMEDAY_SINK_TOKEN": token} if token else None
    argv = _procs.python_module("gameday.servers.sink", *args)
    child = _procs.start("telemetry", argv, log_path=log_path, env=env, timeout=timeout)
    child.info["url"] = f"http://127.0.0.1:{child.port}"
    return child


def _write_yaml(path: Path, config: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path


def _start_on_free_port(
    name: str, argv: list[str], listen_flag: str, config_dir: Path, timeout: float
) -> _procs.Child:
    log_path = config_dir / f"{name}.log"
    for attempt in range(_PORT_ATTEMPTS):
        port = free_port()
        child = _procs.start(
            name, [*argv, f"{listen_flag}=127.0.0.1:{port}"], log_path=log_path, handshake=False
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http_ok(f"{url}/-/ready", child, timeout)
        except StackUnavailable:
            child.stop()
            if attempt + 1 < _PORT_ATTEMPTS and "address already in use" in _log_text(log_path):
                continue
            raise
        child.info = {"port": port, "url": url}
        return child
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _log_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _log_tail(path: Path | None, lines: int = 10) -> str:
    # Prometheus and Alertmanager log the reason (a bad rule file, a taken port) at
    # level=error, followed by many lines of orderly shutdown: show the errors first.
    text = _log_text(path).splitlines() if path else []
    shown = [line for line in text if "level=error" in line][:lines] or text[-lines:]
    return "\n  " + "\n  ".join(shown) if shown else ""
