"""Locust plugin: one JSON line per request into ``$GAMEDAY_LOAD_DIR/records-<pid>.jsonl``.

Loaded beside any locustfile (``-f recorder.py,user.py``), so every scenario's load, the
default one or the user's own, hands the runner per-request records: start time, latency,
status, and the trace id when the user class passed ``context={"trace_id": ...}``.
"""

import json
import os
import time

from locust import events

_DIR = os.environ.get("GAMEDAY_LOAD_DIR", "")
_out = None


def _file():
    global _out  # noqa: PLW0603 - one file per Locust process, opened lazily after fork
    if _out is None and _DIR:
        _out = open(os.path.join(_DIR, f"records-{os.getpid()}.jsonl"), "a", buffering=1)  # noqa: SIM115
    return _out


@events.request.add_listener
def _record(
    request_type,
    name,
    response_time,
    response_length,
    response=None,
    context=None,
    exception=None,
    start_time=None,
    **_,
):
    out = _file()
    if out is None:
        return
    status = getattr(response, "status_code", None) if response is not None else None
    record = {
        "t": start_time if start_time is not None else time.time() - response_time / 1000.0,
        "ms": round(float(response_time), 3),
        "ok": exception is None,
        "status": status or 0,
        "name": name,
        "method": request_type,
        "trace_id": (context or {}).get("trace_id"),
    }
    if exception is not None:
        record["error"] = str(exception)[:200]
    out.write(json.dumps(record) + "\n")


@events.quitting.add_listener
def _close(**_):
    if _out is not None:
        _out.close()
