"""Load for the ML platform: ``POST /predict`` spread over the three model services.

Locust's ``--host`` is one model service (a game day's ``model_server``). The others are
found, once per Locust process, in this order:

1. ``MLP_MODEL_URLS``: ``fraud=http://127.0.0.1:P1,ranking=http://...,personalization=...``;
2. ``GET {host}/models``: the model services that announced themselves in the folder the
   services share (``--peers``);
3. the host alone.

Traffic shares follow ``MLP_MODEL_WEIGHTS`` (``fraud=2,ranking=1,...``; default equal).
Each request starts a fresh W3C trace and hands its id to Locust's request context, so a
slow or failed request's trace can be fetched by id. Customers are drawn from
``MLP_ENTITIES`` (2000) at ``MLP_PACING_S`` (0.1 s) per user. Runs the same on a local
runner, a master and its workers: each worker discovers the models itself.
"""

import json
import os
import random
import urllib.request

from locust import FastHttpUser, constant_pacing, task

ENTITIES = int(os.environ.get("MLP_ENTITIES", "2000"))
PACING_S = float(os.environ.get("MLP_PACING_S", "0.1"))
DISCOVERY_TIMEOUT_S = 5.0

_models: dict[str, str] = {}


def _pairs(text: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in text.replace(" ", "").split(",") if "=" in p)


def _ask(host: str) -> dict[str, str]:
    """The model services ``host`` knows of (empty when it cannot say)."""
    try:
        with urllib.request.urlopen(  # noqa: S310 (the URL is the load's own --host)
            host.rstrip("/") + "/models", timeout=DISCOVERY_TIMEOUT_S
        ) as answer:
            body = json.load(answer)
    except (OSError, ValueError):
        return {}
    models = body.get("models") or {}
    return {str(k): str(v) for k, v in models.items()} or {str(body.get("model", "model")): host}


def models(host: str) -> dict[str, str]:
    """``{model: base URL}`` to spread load over, discovered once per process."""
    if not _models:
        found = _pairs(os.environ.get("MLP_MODEL_URLS", "")) or _ask(host) or {"model": host}
        _models.update({name: url.rstrip("/") for name, url in found.items()})
    return _models


def _weights(names: list[str]) -> list[float]:
    given = {k: float(v) for k, v in _pairs(os.environ.get("MLP_MODEL_WEIGHTS", "")).items()}
    return [given.get(name, 1.0) for name in names]


class PlatformUser(FastHttpUser):
    """A caller of the platform's models, ~1/MLP_PACING_S predictions a second."""

    wait_time = constant_pacing(PACING_S)

    def on_start(self) -> None:
        found = models(self.host or "")
        self.names = sorted(found)
        self.urls = found
        self.weights = _weights(self.names)

    @task
    def predict(self) -> None:
        model = random.choices(self.names, self.weights)[0]
        trace_id = os.urandom(16).hex()
        headers = {"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"}
        customer = f"c{random.randrange(ENTITIES):06d}"
        with self.client.post(
            f"{self.urls[model]}/predict",
            json={"customer_id": customer},
            headers=headers,
            name=f"/predict {model}",
            context={"trace_id": trace_id, "model": model},
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{model}: HTTP {response.status_code}")
