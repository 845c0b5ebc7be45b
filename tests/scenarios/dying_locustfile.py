"""A load that quits by itself 18 s after it started: the model server's predict user, with a
timer that stops the whole Locust runner (as an OOM kill or a crashed pod would)."""

import os
import time

import gevent
from locust import FastHttpUser, constant_pacing, events, task

LIFETIME_S = 18.0


@events.test_start.add_listener
def _die_later(environment, **_kwargs):
    def quit_runner():
        gevent.sleep(LIFETIME_S)
        environment.runner.quit()

    gevent.spawn(quit_runner)


class PredictUser(FastHttpUser):
    wait_time = constant_pacing(0.1)

    @task
    def predict(self):
        trace_id = os.urandom(16).hex()
        headers = {"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"}
        entity = f"e{int(time.time() * 1000) % 2000:05d}"
        self.client.post(
            "/predict", json={"entity_id": entity}, headers=headers, name="/predict",
            context={"trace_id": trace_id},
        )  # fmt: skip
