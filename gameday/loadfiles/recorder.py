"""Locust plugin: one JSON line per request into ``$GAMEDAY_LOAD_DIR/records-<pid>.jsonl``.

Loaded beside any locustfile (``-f recorder.py,user.py``), so every scenario's load, the
default one or the user's own, hands the runner per-request records: start time, latency,
status, and the trace id when the user class passed ``context={"trace_id": ...}``.

Where the records are written depends on the Locust runner of this process:

- **local** (``locust --headless``): straight into the records file, as requests finish.
- **worker** (``--worker``, on this host or another one): buffered and sent to the master as
  Locust custom messages (``gameday_records``) every :data:`FLUSH_S` seconds, and once more
  when the worker stops or quits, before Locust's own final stats report. A worker needs no
  folder of its own and no gameday install: ``locust --worker -f -`` fetches this file from
  the master.
- **master**: writes what its workers send into its own records file, and every
  :data:`FLUSH_S` seconds a status file (``load-status.json``: workers joined, users running)
  that the runner reads to wait for workers with a deadline.

Only ``locust`` and gevent are imported, and ``locust`` first (FACTS.md).
"""

import json
import os
import time

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

MESSAGE = "gameday_records"
FLUSH_S = 0.5
STATUS_FILE = "load-status.json"

_DIR = os.environ.get("GAMEDAY_LOAD_DIR", "")
_out = None
_role = "local"
_buffer: list = []  # worker only: records not yet sent to the master
_worker = ""  # worker only: this worker's Locust client id


def _file():
    global _out  # noqa: PLW0603 - one file per Locust process, opened lazily after fork
    if _out is None and _DIR:
        _out = open(os.path.join(_DIR, f"records-{os.getpid()}.jsonl"), "a", buffering=1)  # noqa: SIM115
    return _out


def _write(records):
    out = _file()
    if out is not None and records:
        out.write("".join(json.dumps(r) + "\n" for r in records))


@events.init.add_listener
def _on_init(environment, **_):
    """Pick the role of this process; start the worker's pump or the master's receiver."""
    global _role, _worker  # noqa: PLW0603 - decided once, when Locust has built its runner
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        _role, _worker = "worker", runner.client_id
        gevent.spawn(_pump, runner)
        environment.events.test_stop.add_listener(lambda **__: _flush(runner))
        # Registered after the runner's own listener, and quitting listeners run in reverse:
        # a worker sends its last records before its runner tells the master it quits.
        environment.events.quitting.add_listener(lambda **__: _flush(runner))
    elif isinstance(runner, MasterRunner):
        _role = "master"
        runner.register_message(MESSAGE, _receive)
    if runner is not None and _role != "worker":
        gevent.spawn(_report_status, runner)


def _pump(runner):
    """Worker: send the buffered records to the master every FLUSH_S seconds."""
    while True:
        gevent.sleep(FLUSH_S)
        _flush(runner)


def _flush(runner):
    global _buffer  # swapped, not copied: no greenlet switch in between
    if not _buffer:
        return
    batch, _buffer = _buffer, []
    runner.send_message(MESSAGE, {"worker": _worker, "records": batch})


def _receive(environment, msg, **_):
    """Master: write a worker's batch of records."""
    _write(msg.data.get("records") or [])


def _report_status(runner):
    """Master and local runner: workers joined and users running, for the runner to wait on."""
    path = os.path.join(_DIR, STATUS_FILE) if _DIR else ""
    while path:
        workers = getattr(runner, "worker_count", 0)
        status = {"role": _role, "workers": workers, "users": runner.user_count}
        status |= {"state": runner.state, "t": time.time()}
        with open(path + ".tmp", "w") as fh:
            json.dump(status, fh)
        os.replace(path + ".tmp", path)  # the runner never reads half a file
        gevent.sleep(FLUSH_S)


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
    if _role == "worker":
        record["worker"] = _worker
        _buffer.append(record)
    else:
        _write([record])


@events.quitting.add_listener
def _close(**_):
    # Flushed, not closed: a master still writes what its workers send while it quits.
    if _out is not None:
        _out.flush()
