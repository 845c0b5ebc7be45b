"""The platform example's own services (``examples/platform/mlplatform``), from real parts.

A real ``redis-server``, the Feast repository applied against it, ingestion, the producer and
the three model services run as the commands a supervisor starts, on ephemeral 127.0.0.1
ports, exporting traces to gameday's sink. The test plays the batch relay: it moves the
producer's batches (or batches it writes itself) into the landing folder ingestion reads, so
it knows exactly which batch ingestion saw last.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

pytest.importorskip(
    "feast", reason="the platform extra is not installed: pip install '.[platform]'"
)
pytest.importorskip(
    "pandera", reason="the platform extra is not installed: pip install '.[platform]'"
)

import numpy as np
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from gameday.servers.sink.testing import RunningSink, running_sink

PLATFORM = Path(__file__).resolve().parents[2] / "examples" / "platform"
sys.path.insert(0, str(PLATFORM))

from mlplatform import features as F  # noqa: E402
from mlplatform import validation as V  # noqa: E402
from mlplatform.models import TrainedModel  # noqa: E402

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
START_S = 90.0  # five processes importing Feast and scikit-learn on 2 shared cores
REDIS_TIMEOUT_S = 1.0  # the Feast repo's Redis socket timeout in these tests
ENTITIES = 300
T = TypeVar("T")

integration = [pytest.mark.slow, pytest.mark.integration]


# --- helpers ----------------------------------------------------------------------------------


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    """A platform process that printed its readiness line."""

    name: str
    proc: subprocess.Popen[str]
    log: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> list[dict[str, Any]]:
        """Its JSON log lines so far."""
        return [json.loads(x) for x in self.log.read_text().splitlines() if x.startswith("{")]

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Its /metrics as ``{(sample name, labels): value}``."""
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, frozenset(labels.items())), 0.0)

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


def launch(name: str, module: str, *args: str, workdir: Path) -> Service:
    """Start ``python -m mlplatform.MODULE ARGS --port 0`` (readiness not yet read)."""
    log = workdir / f"{name}.log"
    env = {**os.environ, "PYTHONPATH": str(PLATFORM)}
    argv = [sys.executable, "-m", f"mlplatform.{module}", *args, "--port", "0"]
    with log.open("w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    return Service(name, proc, log)


def await_ready(service: Service, timeout: float = START_S) -> Service:
    """Read the service's one readiness line ``{"ready": true, "port": N, "pid": P}``."""
    assert service.proc.stdout is not None
    deadline = time.monotonic() + timeout
    while service.port == 0:
        if service.proc.poll() is not None:
            pytest.fail(f"{service.name} exited {service.proc.returncode}:\n{_tail(service.log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"{service.name} not ready in {timeout:g} s:\n{_tail(service.log)}")
        if select.select([service.proc.stdout], [], [], 0.2)[0]:
            line = json.loads(service.proc.stdout.readline())
            assert line["ready"] is True and line["pid"] == service.proc.pid
            service.port = int(line["port"])
    return service


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip(f"redis-server not found at {REDIS_SERVER} (apt-get install redis-server)")
    port = free_port()
    argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pong() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for("redis-server to answer PING", pong, timeout=10)
    return proc, port


@dataclass
class Platform:
    """The running services and the folders between them."""

    root: Path
    redis: subprocess.Popen[bytes]
    sink: RunningSink
    ingest: Service
    producer: Service
    models: dict[str, Service]
    delivered: list[str] = field(default_factory=list)

    upstream = property(lambda self: self.root / "upstream")
    landing = property(lambda self: self.root / "landing")
    processed = property(lambda self: self.root / "processed")
    quarantine = property(lambda self: self.root / "quarantine")

    def deliver(self, frame: pd.DataFrame | bytes, name: str) -> Path:
        """Put a batch into landing atomically, as the relay does."""
        temp = self.landing / f".{name}.tmp"
        if isinstance(frame, bytes):
            temp.write_bytes(frame)
        else:
            frame.to_parquet(temp, index=False)
        final = self.landing / name
        os.replace(temp, final)
        return final

    def relay_produced(self) -> str:
        """Move the producer's newest complete batch into landing; its name."""
        name = wait_for(
            "a produced batch not yet delivered",
            lambda: next(
                (n for n in sorted(os.listdir(self.upstream), reverse=True)
                 if n.endswith(".parquet") and not n.startswith(".")
                 and n not in self.delivered),
                None,
            ),
        )  # fmt: skip
        self.delivered.append(name)
        os.replace(self.upstream / name, self.landing / name)
        return name

    def settled(self, name: str, where: str = "processed", timeout: float = 20.0) -> Path:
        """Wait until ingestion moved batch ``name`` into ``where``."""
        path = self.root / where / name
        wait_for(
            f"{name} in {where}/ (ingest log:\n{_tail(self.ingest.log)})", path.exists, timeout
        )
        return path

    def predict(self, model: str, customer: str, **kw: Any) -> requests.Response:
        url = f"{self.models[model].url}/predict"
        return requests.post(url, json={"customer_id": customer}, timeout=10, **kw)


def stop_all(services: list[Service], timeout: float = 10.0) -> None:
    """SIGTERM every service at once, then wait for each (SIGKILL at the deadline)."""
    for service in services:
        if service.proc.poll() is None:
            service.proc.send_signal(signal.SIGTERM)
    for service in services:
        service.stop(timeout)


def stop_redis(redis: subprocess.Popen[bytes]) -> None:
    redis.send_signal(signal.SIGCONT)  # in case a test left it stopped
    redis.terminate()
    redis.wait(10)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Redis, the Feast repo, ingest, producer and the three models, with the snapshot stored."""
    root = tmp_path_factory.mktemp("platform")
    with contextlib.ExitStack() as stack:
        redis, port = start_redis(root)
        stack.callback(stop_redis, redis)
        sink = stack.enter_context(running_sink())
        repo = str(root / "repo")
        subprocess.run(
            [sys.executable, "-m", "mlplatform.feast_repo", "--out", repo,
             "--redis", f"127.0.0.1:{port}", "--timeout", str(REDIS_TIMEOUT_S)],
            env={**os.environ, "PYTHONPATH": str(PLATFORM)}, check=True, timeout=START_S,
            capture_output=True,
        )  # fmt: skip
        otlp = ("--otlp", sink.url)
        services: list[Service] = []
        # Stopped before the sink closes: each flushes its last spans to it on the way out.
        stack.callback(stop_all, services)
        ingest = launch("ingest", "ingest", "--landing", str(root / "landing"), "--repo", repo,
                        "--poll", "0.2", *otlp, workdir=root)  # fmt: skip
        services.append(ingest)
        producer = launch("producer", "producer", "--upstream", str(root / "upstream"),
                          "--interval", "1", "--rows", "200", "--entities", str(ENTITIES),
                          *otlp, workdir=root)  # fmt: skip
        services.append(producer)
        models = {}
        for m in F.MODELS:
            models[m] = launch(f"{m}-model", "model_service", "--model", m, "--repo", repo,
                               "--peers", str(root / "peers"), *otlp, workdir=root)  # fmt: skip
            services.append(models[m])
        for service in services:
            await_ready(service)
        running = Platform(root, redis, sink, ingest, producer, models)
        running.settled(running.relay_produced())  # the snapshot: every customer once
        yield running


def batch(customers: list[str], **columns: Any) -> pd.DataFrame:
    """A healthy batch for ``customers`` (now), with ``columns`` overriding features."""
    rng = np.random.default_rng(len(customers))
    frame = F.generate(rng, len(customers), ENTITIES)
    frame[F.ENTITY] = customers
    for name, values in columns.items():
        frame[name] = values
    return frame


# --- validation, drift and the models, in process ---------------------------------------------


def _healthy() -> pd.DataFrame:
    return F.generate(np.random.default_rng(3), 200, 2000)


def _with(column: str, values: Any) -> pd.DataFrame:
    frame = _healthy()
    frame[column] = values
    return frame


@pytest.mark.parametrize(
    ("frame", "reasons"),
    [
        pytest.param(_healthy(), (), id="healthy"),
        pytest.param(_with("merchant_risk", np.nan), ("nulls",), id="column nulled"),
        pytest.param(_with("merchant_risk", [np.nan] * 60 + [0.2] * 140), (), id="30% null passes"),
        pytest.param(_with("merchant_risk", ["12 units"] * 200), ("wrong_type",), id="text"),
        pytest.param(_with("merchant_risk", 40.0), ("out_of_range",), id="unit change"),
        pytest.param(_healthy().drop(columns="session_clicks"), ("missing_column",), id="no col"),
        pytest.param(_with(F.ENTITY, "alice"), ("bad_entity",), id="bad customer id"),
        pytest.param(_healthy().head(0), ("empty",), id="empty"),
    ],
)
def test_validation_names_what_is_wrong_with_a_batch(
    frame: pd.DataFrame, reasons: tuple[str, ...]
) -> None:
    verdict = V.validate(frame)
    assert verdict.reasons == reasons
    assert verdict.accepted == (not reasons)
    assert (verdict.frame is None) == bool(reasons)


def test_psi_is_small_for_healthy_batches_and_large_for_a_shifted_feature() -> None:
    meter = V.DriftMeter()
    healthy = meter.psi(_healthy())
    shifted = meter.psi(
        _with("category_affinity", np.clip(_healthy()["category_affinity"] + 0.2, 0, 1))
    )
    assert max(healthy.values()) < 0.2  # sampling noise of 200 rows over 10 bins
    assert shifted["category_affinity"] > 0.5
    assert shifted["merchant_risk"] == pytest.approx(healthy["merchant_risk"])


@pytest.mark.parametrize(
    ("fault", "reasons", "nulls"),
    [
        ({"type": "null_column", "column": "merchant_risk", "fraction": 1.0}, ("nulls",), 200),
        ({"type": "null_column", "column": "merchant_risk", "fraction": 0.3}, (), 60),
        ({"type": "type_change", "column": "merchant_risk"}, ("wrong_type",), 0),
        ({"type": "unit_change", "column": "merchant_risk", "factor": 100.0}, ("out_of_range",), 0),
        ({"type": "drift", "column": "category_affinity", "shift_sigma": 1.5, "scale": 1.0}, (), 0),
    ],
    ids=lambda x: x["type"] if isinstance(x, dict) else None,
)
def test_batches_altered_by_gamedays_relay_read_as_the_fault_they_carry(
    fault: dict[str, Any], reasons: tuple[str, ...], nulls: int, tmp_path: Path
) -> None:
    """The relay rewrites only the faulted column: ingestion sees that fault and no other.
    (A real relay server, driven through its HTTP API, moves one healthy batch.)"""
    from gameday.servers.relay.server import running_server

    up, land = tmp_path / "upstream", tmp_path / "landing"
    with running_server() as relay:
        body = {"name": "batches", "upstream": str(up), "landing": str(land)}
        assert requests.post(f"{relay.url}/relays", json=body, timeout=5).status_code == 201
        attributes = {k: v for k, v in fault.items() if k != "type"}
        doc = {"type": fault["type"], "attributes": {**attributes, "seed": 1}}
        added = requests.post(f"{relay.url}/relays/batches/faults", json=doc, timeout=5)
        assert added.status_code == 200, added.text
        _healthy().to_parquet(up / ".b-1.parquet.tmp", index=False)
        (up / ".b-1.parquet.tmp").rename(up / "b-1.parquet")
        wait_for("the relay to deliver the batch", (land / "b-1.parquet").exists)
    altered = pd.read_parquet(land / "b-1.parquet")
    assert V.validate(altered).reasons == reasons
    assert V.null_counts(altered)["merchant_risk"] == nulls
    drifted = V.DriftMeter().psi(altered).get("category_affinity", 0.0) > 0.5
    assert drifted == (fault["type"] == "drift")


def test_models_are_deterministic_and_impute_what_is_missing() -> None:
    spec = F.MODELS["fraud"]
    risky = {"txn_amount_avg_7d": 400.0, "txn_count_24h": 30.0, "merchant_risk": 0.95,
             "account_age_days": 3.0}  # fmt: skip
    first, second = TrainedModel(spec), TrainedModel(spec)
    assert first.score(risky) == second.score(risky)
    assert first.score(risky)[0] > 0.9
    score, missing = first.score({**risky, "merchant_risk": None})
    assert missing == ["merchant_risk"] and 0.0 <= score <= 1.0


# --- the running platform ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.integration
def test_every_service_is_up_on_its_announced_port_under_its_service_name(
    platform: Platform,
) -> None:
    expected = {"ingest": "ingest", "producer": "producer"}
    expected |= {f"{m}-model": f"{m}-model" for m in F.MODELS}
    for service in [platform.ingest, platform.producer, *platform.models.values()]:
        answer = requests.get(f"{service.url}/healthz", timeout=5)
        assert answer.status_code == 200
        assert answer.json() == {"status": "alive", "service": expected[service.name]}


@pytest.mark.slow
@pytest.mark.integration
def test_models_score_customers_from_features_ingested_into_redis(platform: Platform) -> None:
    risky = batch(["c000900", "c000901"], txn_amount_avg_7d=[500.0, 10.0],
                  txn_count_24h=[40.0, 0.0], merchant_risk=[0.99, 0.01],
                  account_age_days=[2.0, 3000.0])  # fmt: skip
    platform.settled(platform.deliver(risky, "test-scored.parquet").name)
    fraud = {c: platform.predict("fraud", c).json() for c in ("c000900", "c000901")}
    assert fraud["c000900"]["score"] > 0.8 > 0.2 > fraud["c000901"]["score"]
    assert fraud["c000900"] == {**fraud["c000900"], "model": "fraud", "missing": []}
    for model in ("ranking", "personalization"):
        answer = platform.predict(model, "c000900")
        assert answer.status_code == 200
        assert answer.json()["model"] == model and answer.json()["missing"] == []


@pytest.mark.slow
@pytest.mark.integration
def test_an_unknown_customer_is_imputed_and_counted_missing(platform: Platform) -> None:
    fraud = platform.models["fraud"]
    before = fraud.metric(
        "mlp_serving_feature_missing_total", model="fraud", feature="merchant_risk"
    )
    answer = platform.predict("fraud", "c099999")
    assert answer.status_code == 200
    assert answer.json()["missing"] == list(F.MODELS["fraud"].features)
    after = fraud.metric(
        "mlp_serving_feature_missing_total", model="fraud", feature="merchant_risk"
    )
    assert after == before + 1


@pytest.mark.slow
@pytest.mark.integration
def test_a_nulled_column_is_quarantined_with_its_reason_and_counted(platform: Platform) -> None:
    customers = [f"c0009{i:02d}" for i in range(10, 20)]
    rejected = platform.ingest.metric("mlp_ingest_rejected_total", reason="nulls")
    nulls = platform.ingest.metric("mlp_ingest_feature_nulls_total", feature="merchant_risk")
    platform.deliver(batch(customers, merchant_risk=np.nan), "test-nulled.parquet")
    platform.settled("test-nulled.parquet", "quarantine")
    note = json.loads((platform.quarantine / "test-nulled.parquet.reason.json").read_text())
    assert note["reasons"] == ["nulls"]
    assert note["failures"][0]["column"] == "merchant_risk"
    assert platform.ingest.metric("mlp_ingest_rejected_total", reason="nulls") == rejected + 1
    assert platform.ingest.metric(
        "mlp_ingest_feature_nulls_total", feature="merchant_risk"
    ) == nulls + len(customers)
    assert platform.predict("fraud", customers[0]).json()["missing"] == list(
        F.MODELS["fraud"].features
    ), "a rejected batch must not reach the online store"


@pytest.mark.slow
@pytest.mark.integration
def test_a_few_nulls_are_stored_and_only_the_models_reading_them_impute(
    platform: Platform,
) -> None:
    customers = [f"c0009{i:02d}" for i in range(20, 30)]
    platform.deliver(batch(customers, merchant_risk=[np.nan] * 3 + [0.3] * 7), "test-few.parquet")
    platform.settled("test-few.parquet")
    missing = {m: platform.predict(m, customers[0]).json()["missing"] for m in F.MODELS}
    assert missing == {
        "fraud": ["merchant_risk"],
        "ranking": ["merchant_risk"],
        "personalization": [],
    }
    assert platform.predict("fraud", customers[5]).json()["missing"] == []


@pytest.mark.slow
@pytest.mark.integration
def test_an_unreadable_file_is_quarantined_as_unreadable(platform: Platform) -> None:
    before = platform.ingest.metric("mlp_ingest_batches_total", outcome="rejected")
    platform.deliver(b"PAR1 this is not parquet", "test-garbage.parquet")
    platform.settled("test-garbage.parquet", "quarantine")
    note = json.loads((platform.quarantine / "test-garbage.parquet.reason.json").read_text())
    assert note["reasons"] == ["unreadable"]
    assert platform.ingest.metric("mlp_ingest_batches_total", outcome="rejected") == before + 1


@pytest.mark.slow
@pytest.mark.integration
def test_drift_on_a_shared_feature_shows_in_psi_and_clears_with_a_healthy_batch(
    platform: Platform,
) -> None:
    drifted = F.generate(np.random.default_rng(5), 200, ENTITIES)
    drifted["category_affinity"] = np.clip(drifted["category_affinity"] + 0.25, 0.0, 1.0)
    platform.settled(platform.deliver(drifted, "test-drifted.parquet").name)
    psi = platform.ingest.metric("mlp_feature_psi", feature="category_affinity")
    assert psi > 0.5, "a shifted feature must stand out"
    assert platform.ingest.metric("mlp_feature_psi", feature="merchant_risk") < 0.2
    platform.settled(platform.relay_produced())
    assert platform.ingest.metric("mlp_feature_psi", feature="category_affinity") < 0.2


@pytest.mark.slow
@pytest.mark.integration
def test_a_hung_redis_answers_503_fast_holds_batches_and_recovers(platform: Platform) -> None:
    fraud, ingest = platform.models["fraud"], platform.ingest
    errors = fraud.metric("mlp_feature_fetch_errors_total", model="fraud")
    failed = fraud.metric("mlp_predict_requests_total", model="fraud", outcome="error")
    write_errors = ingest.metric("mlp_ingest_write_errors_total")
    platform.redis.send_signal(signal.SIGSTOP)
    try:
        start = time.monotonic()
        answer = platform.predict("fraud", "c000001")
        assert answer.status_code == 503 and "feature store" in answer.json()["error"]
        assert time.monotonic() - start < REDIS_TIMEOUT_S * 2 + 1.0, "no request may hang"
        name = platform.deliver(batch(["c000950"]), "test-held.parquet").name
        wait_for(
            "a failed push", lambda: ingest.metric("mlp_ingest_write_errors_total") > write_errors
        )
        assert (platform.landing / name).exists(), "a batch the store refused must wait in landing"
    finally:
        platform.redis.send_signal(signal.SIGCONT)
    assert fraud.metric("mlp_feature_fetch_errors_total", model="fraud") == errors + 1
    assert fraud.metric("mlp_predict_requests_total", model="fraud", outcome="error") == failed + 1
    platform.settled(name)
    wait_for("fraud to answer again", lambda: platform.predict("fraud", "c000950").ok)
    assert platform.predict("fraud", "c000950").json()["missing"] == []


def _hex(span_id: str) -> str:
    """A span id as Tempo's API writes it (base64 of the bytes) in lowercase hex."""
    return base64.b64decode(span_id).hex() if span_id else ""


def _span_attrs(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}


def _spans(sink: RunningSink, trace_id: str) -> list[tuple[str, dict[str, Any]]]:
    """``(service.name, span)`` of every span the sink has of the trace (Tempo API)."""
    answer = requests.get(f"{sink.url}/api/traces/{trace_id}", timeout=5)
    if answer.status_code != 200:
        return []
    return [
        (_span_attrs(batch["resource"])["service.name"], span)
        for batch in answer.json()["batches"]
        for scope in batch.get("scopeSpans", [])
        for span in scope.get("spans", [])
    ]


def _trace_with(
    sink: RunningSink, trace_id: str, wanted: Callable[[dict[str, Any]], bool]
) -> list[tuple[str, dict[str, Any]]] | None:
    """The trace's spans once one of them is ``wanted`` (spans arrive in batches)."""
    spans = _spans(sink, trace_id)
    return spans if any(wanted(x) for _, x in spans) else None


@pytest.mark.slow
@pytest.mark.integration
def test_a_prediction_trace_continues_the_callers_and_credits_redis_to_the_feature_store(
    platform: Platform,
) -> None:
    trace_id, parent = os.urandom(16).hex(), os.urandom(8).hex()
    answer = platform.predict(
        "ranking", "c000002", headers={"traceparent": f"00-{trace_id}-{parent}-01"}
    )
    assert answer.status_code == 200
    spans = wait_for(
        "the trace's Redis span in the sink",
        lambda: _trace_with(platform.sink, trace_id, lambda x: "peer.service" in _span_attrs(x)),
    )
    server = [
        x
        for svc, x in spans
        if svc == "ranking-model" and _hex(x.get("parentSpanId", "")) == parent
    ]
    assert server, f"no ranking-model span continues the caller's span {parent}: {spans}"
    redis_spans = [x for _, x in spans if _span_attrs(x).get("db.system") == "redis"
                   or "redis" in _span_attrs(x).get("db.system.name", "")]  # fmt: skip
    assert redis_spans and all(
        _span_attrs(x)["peer.service"] == "feature-store" for x in redis_spans
    )
    logged = [x for x in platform.models["ranking"].lines() if x.get("trace_id") == trace_id]
    assert [x["event"] for x in logged] == ["predict"] and logged[0]["span_id"]


@pytest.mark.slow
@pytest.mark.integration
def test_ingest_traces_each_batch_with_its_redis_writes(platform: Platform) -> None:
    name = platform.relay_produced()
    platform.settled(name)
    line = wait_for(
        "ingest's log line for the batch",
        lambda: next((x for x in platform.ingest.lines() if x.get("batch") == name
                      and x["event"] == "batch stored"), None),
    )  # fmt: skip
    spans = wait_for(
        "the batch's Redis writes in the sink",
        lambda: _trace_with(
            platform.sink, line["trace_id"], lambda x: x["name"] == "push features"
        ),
    )
    assert {svc for svc, _ in spans} == {"ingest"}
    assert {"ingest batch", "validate batch", "push features"} <= {x["name"] for _, x in spans}
    assert any(_span_attrs(x).get("peer.service") == "feature-store" for _, x in spans)


MODEL_METRICS = (
    "mlp_predict_requests_total", "mlp_predict_latency_seconds_bucket",
    "mlp_feature_fetch_requests_total", "mlp_feature_fetch_errors_total",
    "mlp_feature_fetch_latency_seconds_bucket", "mlp_serving_feature_values_total",
    "mlp_serving_feature_missing_total", "mlp_prediction_score_bucket",
)  # fmt: skip
INGEST_METRICS = (
    "mlp_ingest_batches_total", "mlp_ingest_rejected_total", "mlp_ingest_rows_total",
    "mlp_ingest_feature_nulls_total", "mlp_ingest_last_success_timestamp_seconds",
    "mlp_feature_psi",
)  # fmt: skip


@pytest.mark.slow
@pytest.mark.integration
def test_metrics_carry_the_names_and_labels_alerts_and_dashboards_use(platform: Platform) -> None:
    for model, service in platform.models.items():
        samples = service.metrics()
        for name in MODEL_METRICS:
            labelled = [dict(labels) for (n, labels) in samples if n == name]
            assert labelled, f"{model}: no {name}"
            assert all(x["model"] == model for x in labelled), f"{name}: label model"
        buckets = {
            dict(lb)["le"] for (n, lb) in samples if n == "mlp_predict_latency_seconds_bucket"
        }
        assert {"0.005", "2.5"} <= buckets
    ingest = platform.ingest.metrics()
    for name in INGEST_METRICS:
        assert any(n == name for n, _ in ingest), f"ingest: no {name}"
    assert time.time() - platform.ingest.metric("mlp_ingest_last_success_timestamp_seconds") < 60
    assert {dict(lb)["feature"] for (n, lb) in ingest if n == "mlp_feature_psi"} == set(F.FEATURES)
    assert platform.producer.metric("mlp_producer_batches_total") >= 1
    last = platform.producer.metric("mlp_producer_last_batch_timestamp_seconds")
    assert time.time() - last < 10


@pytest.mark.slow
@pytest.mark.integration
def test_the_locustfile_spreads_load_over_the_three_models(
    platform: Platform, tmp_path: Path
) -> None:
    def served() -> dict[str, float]:
        return {
            m: s.metric("mlp_predict_requests_total", model=m, outcome="ok")
            for m, s in platform.models.items()
        }

    before = served()
    locust = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(PLATFORM / "locustfile.py"), "--headless",
         "-u", "3", "-r", "3", "-t", "3s", "--host", platform.models["fraud"].url,
         "--only-summary", "--loglevel", "WARNING"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "MLP_ENTITIES": str(ENTITIES), "MLP_PACING_S": "0.05"},
    )  # fmt: skip
    assert locust.returncode == 0, locust.stderr[-2000:]
    after = served()
    assert all(after[m] - before[m] >= 5 for m in F.MODELS), (before, after)
    for model in F.MODELS:
        assert f"/predict {model}" in locust.stdout + locust.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_the_producer_writes_whole_numbered_batches_and_stops_cleanly(tmp_path: Path) -> None:
    upstream = tmp_path / "upstream"
    producer = await_ready(
        launch(
            "producer",
            "producer",
            "--upstream",
            str(upstream),
            "--interval",
            "0.3",
            "--rows",
            "20",
            "--entities",
            "50",
            workdir=tmp_path,
        )
    )
    try:
        wait_for("three batches", (upstream / "batch-000003.parquet").exists)
    finally:
        code = producer.stop()
    assert code == 0
    first = pd.read_parquet(upstream / "batch-000001.parquet")
    assert sorted(first[F.ENTITY]) == [F.customer_id(i) for i in range(50)], "a snapshot first"
    second = pd.read_parquet(upstream / "batch-000002.parquet")
    assert len(second) == 20 and V.validate(second).accepted
    assert not [n for n in os.listdir(upstream) if n.startswith(".")], "no temp file left"


def test_a_service_refuses_a_folder_that_is_no_feast_repository(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlplatform.model_service", "--model", "fraud", "--repo",
         str(tmp_path)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(PLATFORM)},
    )  # fmt: skip
    assert done.returncode == 2
    assert "no feature_store.yaml" in done.stderr
    assert done.stdout == "", "no readiness line when it cannot serve"
