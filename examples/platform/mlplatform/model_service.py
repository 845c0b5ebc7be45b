"""One model behind HTTP, reading its features from the shared Feast online store.

``python -m mlplatform.model_service --model fraud|ranking|personalization --repo FEAST_REPO
[--port 0] [--otlp URL] [--peers DIR]``

- ``POST /predict {"customer_id": "c000123"}`` answers
  ``{"model": "fraud", "customer_id": "c000123", "score": 0.12, "missing": [...]}``: the
  features come from ``FeatureStore(repo).get_online_features``; a customer or feature the
  store does not have is imputed and listed in ``missing``; a store that cannot be read
  answers 503 (a feature fetch error), anything else unexpected 500.
- ``GET /models`` lists the platform's model services found in ``--peers DIR`` (each service
  writes ``DIR/{model}.json`` with its URL once bound), so a load generator pointed at one
  model can spread over all of them.
- ``GET /healthz``, ``GET /metrics``: every metric carries the label ``model``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, Field

from mlplatform import features as F
from mlplatform import service, telemetry
from mlplatform.models import TrainedModel

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5)
SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))

REQUESTS = Counter(
    "mlp_predict_requests", "Predictions answered, by outcome.", ["model", "outcome"]
)
LATENCY = Histogram(
    "mlp_predict_latency_seconds", "Time to answer /predict.", ["model"], buckets=LATENCY_BUCKETS
)
FETCHES = Counter("mlp_feature_fetch_requests", "Online feature reads.", ["model"])
FETCH_ERRORS = Counter("mlp_feature_fetch_errors", "Online feature reads that failed.", ["model"])
FETCH_LATENCY = Histogram(
    "mlp_feature_fetch_latency_seconds",
    "Time to read a customer's features from the online store.",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
VALUES = Counter("mlp_serving_feature_values", "Feature values served.", ["model", "feature"])
MISSING = Counter(
    "mlp_serving_feature_missing", "Feature values missing and imputed.", ["model", "feature"]
)
SCORES = Histogram("mlp_prediction_score", "Scores answered.", ["model"], buckets=SCORE_BUCKETS)


class PredictRequest(BaseModel):
    """The body of ``POST /predict``."""

    customer_id: str = Field(min_length=1, max_length=64)


class FeatureStoreUnavailable(Exception):
    """The online store could not be read (Redis down, refused, or too slow)."""


class ModelService:
    """A trained model and the feature store it reads from."""

    def __init__(self, spec: F.ModelSpec, repo: Path, log: logging.Logger):
        from feast import FeatureStore

        self.spec, self.log = spec, log
        self.model = TrainedModel(spec)
        self.store = FeatureStore(repo_path=str(repo))
        self.refs = [f"{F.FEATURE_VIEW}:{name}" for name in spec.features]
        self.tracer = trace.get_tracer(spec.service)
        for outcome in ("ok", "error"):
            REQUESTS.labels(spec.name, outcome)
        FETCHES.labels(spec.name)
        FETCH_ERRORS.labels(spec.name)
        for name in spec.features:
            VALUES.labels(spec.name, name)
            MISSING.labels(spec.name, name)

    def fetch(self, customer_id: str) -> dict[str, Any]:
        """The model's features of ``customer_id`` from Redis (None where absent)."""
        from redis.exceptions import RedisError

        model = self.spec.name
        FETCHES.labels(model).inc()
        start = time.perf_counter()
        with self.tracer.start_as_current_span("fetch features") as span:
            try:
                found = self.store.get_online_features(
                    features=self.refs, entity_rows=[{F.ENTITY: customer_id}]
                ).to_dict()
            except (RedisError, OSError) as exc:
                FETCH_ERRORS.labels(model).inc()
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                raise FeatureStoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
            finally:
                FETCH_LATENCY.labels(model).observe(time.perf_counter() - start)
        return {name: found.get(name, [None])[0] for name in self.spec.features}

    def predict(self, customer_id: str) -> dict[str, Any]:
        """Fetch, impute, score; counts every feature served or missing."""
        values = self.fetch(customer_id)
        score, missing = self.model.score(values)
        for name in self.spec.features:
            (MISSING if name in missing else VALUES).labels(self.spec.name, name).inc()
        SCORES.labels(self.spec.name).observe(score)
        return {
            "model": self.spec.name,
            "customer_id": customer_id,
            "score": score,
            "missing": missing,
        }

    def answer(self, customer_id: str) -> JSONResponse:
        """The HTTP answer to one prediction request, counted and logged."""
        start, outcome, status = time.perf_counter(), "error", 500
        body: dict[str, Any]
        try:
            body, outcome, status = self.predict(customer_id), "ok", 200
        except FeatureStoreUnavailable as exc:
            body, status = {"error": f"feature store unavailable: {exc}"}, 503
        except Exception as exc:
            self.log.exception("predict failed")
            body = {"error": f"{type(exc).__name__}: {exc}"}
        elapsed = time.perf_counter() - start
        REQUESTS.labels(self.spec.name, outcome).inc()
        LATENCY.labels(self.spec.name).observe(elapsed)
        telemetry.log(
            self.log,
            "predict",
            logging.INFO if status == 200 else logging.WARNING,
            customer_id=customer_id,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
            **({"missing": body["missing"]} if status == 200 else {"error": body["error"]}),
        )
        return JSONResponse(body, status_code=status)


def peers(folder: Path | None) -> dict[str, str]:
    """``{model: url}`` of the model services that announced themselves in ``folder``."""
    found: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")) if folder else []:
        try:
            entry = json.loads(path.read_text())
            found[str(entry["model"])] = str(entry["url"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not ours
    return found


def _announce_peer(folder: Path, model: str, host: str, port: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{model}.json.tmp"
    temp.write_text(json.dumps({"model": model, "url": f"http://{host}:{port}"}))
    temp.replace(folder / f"{model}.json")


def create_app(svc: ModelService, peers_dir: Path | None) -> FastAPI:
    """The model's HTTP app: ``/predict``, ``/models``, ``/healthz``, ``/metrics``."""
    app = service.create_app(svc.spec.service)

    @app.post("/predict")
    def predict(request: PredictRequest) -> JSONResponse:
        # A plain function: FastAPI runs it on a worker thread (Feast's reads block), with
        # the request's span as the current context.
        return svc.answer(request.customer_id)

    @app.get("/models")
    def models() -> dict[str, Any]:
        return {"model": svc.spec.name, "models": peers(peers_dir)}

    return app


def main(argv: list[str] | None = None) -> int:
    """Parse options, train the model, then serve until SIGTERM; the exit code."""
    p = service.parser("python -m mlplatform.model_service", "one model behind HTTP")
    p.add_argument("--model", required=True, choices=sorted(F.MODELS), help="which model")
    p.add_argument("--repo", required=True, type=Path, help="Feast repository folder")
    p.add_argument("--peers", type=Path, default=None, help="folder model services announce in")
    args = p.parse_args(argv)
    if not (args.repo / "feature_store.yaml").is_file():
        print(f"--repo: no feature_store.yaml in {args.repo}", file=sys.stderr)
        return 2
    spec = F.MODELS[args.model]
    log = telemetry.setup_logging(spec.service, args.log_level)
    telemetry.setup_tracing(spec.service, args.otlp)
    svc = ModelService(spec, args.repo, log)
    app = create_app(svc, args.peers)
    folder = args.peers

    def bound(port: int) -> None:
        if folder is not None:
            _announce_peer(folder, spec.name, args.host, port)

    return service.serve(app, args.host, args.port, bound)


if __name__ == "__main__":
    sys.exit(main())
