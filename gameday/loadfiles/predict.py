"""The reference stack's default load: ``POST /predict`` for random known entities.

Each request starts a fresh W3C trace (``traceparent`` with a new trace id, sampled), so the
caller's trace id names the request's trace and the runner can fetch exactly the traces of
slow or failed requests. Pacing and the entity space come from the environment.
"""

import os
import random

from locust import FastHttpUser, constant_pacing, task

ENTITIES = int(os.environ.get("GAMEDAY_ENTITIES", "2000"))
PACING_S = float(os.environ.get("GAMEDAY_PACING_S", "0.1"))


class PredictUser(FastHttpUser):
    """One caller of the model server, ~1/PACING_S requests a second."""

    wait_time = constant_pacing(PACING_S)

    @task
    def predict(self):
        trace_id = os.urandom(16).hex()
        headers = {"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"}
        entity = f"e{random.randrange(ENTITIES):05d}"
        with self.client.post(
            "/predict",
            json={"entity_id": entity},
            headers=headers,
            name="/predict",
            context={"trace_id": trace_id},
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
