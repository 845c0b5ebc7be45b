"""Model server: ``POST /predict`` scores one entity with the fraud model.

It fetches the entity's features from the feature store (through whatever address it is
given: in the embedded stack, toxiproxy's ``feature_store`` proxy), imputes missing features,
and scores. One request is one trace: the SERVER span, a CLIENT span ``feature_store.get``
(whose time not covered by the feature store's own span is the link's), and ``model.predict``.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram

from gameday.stack import _runtime as rt
from gameday.stack import features as F
from gameday.stack.model import Model
from gameday.stack.service_faults import ServiceFaults

SERVICE = "model-server"

FETCH_LATENCY = Histogram(
    "feature_fetch_duration_seconds",
    "Feature store fetch latency seen by the model server.",
    buckets=rt.LATENCY_BUCKETS,
)
FETCHES = Counter("feature_fetch_requests_total", "Feature fetches attempted.")
FETCH_ERRORS = Counter(
    "feature_fetch_errors_total", "Feature fetches that failed, by reason.", ["reason"]
)
NULLS = Counter("model_feature_nulls_total", "Served feature values that were null.", ["feature"])
SERVED_ROWS = Counter("model_feature_rows_total", "Feature vectors served to the model.")
SCORES = Histogram(
    "model_prediction_score",
    "Fraud score of served predictions.",
    buckets=tuple(round(0.05 * i, 2) for i in range(1, 21)),
)
MODEL_INFO = Gauge("model_info", "The serving model version (value 1).", ["version"])
FETCH_REASONS = ("timeout", "connect", "protocol", "status_5xx")


class FeatureStoreError(Exception):
    """The feature store could not answer; ``reason`` is a metric label."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class Recent:
    """Ring buffer of recently served feature vectors and scores (tailed by the drift monitor)."""

    def __init__(self, size: int = 5000):
        self.rows: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)
        self.seq = 0

    def add(self, features: dict[str, Any], score: float) -> None:
        self.seq += 1
        self.rows.append({"seq": self.seq, "t": time.time(), **features, "score": score})

    def after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["seq"] > seq][:limit]


class Server:
    """State of the model server: model, feature-store client, fault hooks, recent rows."""

    def __init__(self, model: Model, feature_store: str, timeout: float, tracer: trace.Tracer):
        self.model = model
        self.tracer = tracer
        self.feature_store = feature_store.rstrip("/")
        self.session = rt.LazySession(timeout, connect_s=min(timeout, 1.0), limit=200)
        self.faults = ServiceFaults()
        self.recent = Recent()

    async def fetch(self, entity_id: str) -> dict[str, Any] | None:
        """The entity's features, ``None`` if unknown; raises FeatureStoreError on failure."""
        with self.tracer.start_as_current_span("feature_store.get", kind=SpanKind.CLIENT) as span:
            span.set_attribute("peer.service", "feature-store")
            span.set_attribute("gameday.entity_id", entity_id)
            headers: dict[str, str] = {}
            propagate.inject(headers)
            FETCHES.inc()
            start = time.perf_counter()
            url = f"{self.feature_store}/features/{entity_id}"
            try:
                async with self.session().get(url, headers=headers) as response:
                    status = response.status
                    body = await response.json() if status == 200 else None
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise _fetch_failed(span, exc) from exc
            finally:
                FETCH_LATENCY.observe(time.perf_counter() - start)
            span.set_attribute("http.response.status_code", status)
            if status == 404:
                return None
            if body is None:
                span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
                FETCH_ERRORS.labels("status_5xx").inc()
                raise FeatureStoreError("status_5xx", f"feature store answered {status}")
            features: dict[str, Any] = body["features"]
            return features

    async def predict(self, features: dict[str, Any]) -> float:
        with self.tracer.start_as_current_span("model.predict") as span:
            await self.faults.before("inference")
            score = float(self.model.predict_proba(F.columns_from_rows([features]))[0])
            span.set_attribute("gameday.score", score)
            return score


def _fetch_failed(span: trace.Span, exc: Exception) -> FeatureStoreError:
    if isinstance(exc, TimeoutError):
        reason = "timeout"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        reason = "connect"
    else:
        reason = "protocol"
    FETCH_ERRORS.labels(reason).inc()
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{reason}: {exc!r}"))
    return FeatureStoreError(reason, f"feature store unavailable ({reason})")


def _count_nulls(features: dict[str, Any]) -> None:
    SERVED_ROWS.inc()
    for name in F.FEATURE_NAMES:
        if features.get(name) is None:
            NULLS.labels(name).inc()


async def _parse_entity(request: Request) -> str | JSONResponse:
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        return rt.error(400, f"request body is not valid JSON: {exc}")
    if not isinstance(body, dict) or not isinstance(body.get("entity_id"), str):
        return rt.error(400, 'expected a JSON object {"entity_id": "<id>"}')
    return str(body["entity_id"])


def build_app(server: Server, log: Any) -> FastAPI:
    """The model server's HTTP API."""

    async def ready() -> str | None:
        try:
            async with server.session().get(f"{server.feature_store}/healthz") as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"feature store unreachable: {exc!r}"
        return None if status == 200 else f"feature store: HTTP {status}"

    app = rt.create_app(SERVICE, server.tracer, log, ready, closers=(server.session.close,))
    MODEL_INFO.labels(server.model.version).set(1)
    for reason in FETCH_REASONS:
        FETCH_ERRORS.labels(reason)
    for name in F.FEATURE_NAMES:
        NULLS.labels(name)
    for status in ("200", "400", "404", "500", "503"):
        rt.HTTP_REQUESTS.labels("POST", "/predict", status)

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        entity = await _parse_entity(request)
        if isinstance(entity, JSONResponse):
            return entity
        return await _predict(server, entity)

    @app.get("/internal/recent")
    async def recent(after: int = 0, limit: int = 5000) -> dict[str, Any]:
        rows = server.recent.after(after, limit)
        return {"seq": rows[-1]["seq"] if rows else after, "rows": rows}

    @app.post("/internal/model")
    async def load_model(request: Request) -> JSONResponse:
        """Serve another model version (the trainer's promotion)."""
        try:
            model = Model.load(Path(json.loads(await request.body())["path"]))
        except (ValueError, KeyError, TypeError, OSError) as exc:
            return rt.error(400, f"cannot load model: {exc}")
        MODEL_INFO.remove(server.model.version)
        server.model = model
        MODEL_INFO.labels(model.version).set(1)
        return JSONResponse({"model_version": model.version})

    server.faults.mount(app)
    return app


async def _predict(server: Server, entity_id: str) -> JSONResponse:
    try:
        features = await server.fetch(entity_id)
    except FeatureStoreError as exc:
        return rt.error(503, str(exc))
    if features is None:
        return rt.error(404, f"unknown entity {entity_id!r}")
    _count_nulls(features)
    try:
        score = await server.predict(features)
    except Exception as exc:  # noqa: BLE001 - an inference failure is a 500, never a crash
        trace.get_current_span().set_status(Status(StatusCode.ERROR, repr(exc)))
        return rt.error(500, f"inference failed: {exc}")
    SCORES.observe(score)
    server.recent.add(features, score)
    label = "fraud" if score >= server.model.threshold else "legit"
    return JSONResponse(
        {
            "entity_id": entity_id,
            "score": score,
            "label": label,
            "model_version": server.model.version,
        }
    )


def main(argv: list[str] | None = None) -> None:
    p = rt.parser("gameday reference stack: model server")
    p.add_argument("--feature-store", required=True, help="base URL of the feature store")
    p.add_argument("--model", type=Path, required=True, help="model JSON file")
    p.add_argument("--timeout", type=float, default=2.0, help="feature fetch timeout (s)")
    args: argparse.Namespace = p.parse_args(argv)
    log = rt.setup_logging(SERVICE, args.log_level)
    tracer = rt.setup_tracing(SERVICE, args.otlp)
    server = Server(Model.load(args.model), args.feature_store, args.timeout, tracer)
    rt.serve(build_app(server, log), args, service=SERVICE)


if __name__ == "__main__":
    main()
