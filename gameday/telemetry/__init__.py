"""Telemetry for game days: the OTLP span sink, the Alertmanager webhook sink, and query clients.

The sink (``python -m gameday.servers.sink``, or :mod:`gameday.servers.sink.server`) takes OTLP/HTTP
spans and Alertmanager webhooks and answers Tempo-style trace queries. The clients read it,
a real Tempo or Jaeger, Prometheus and Alertmanager. :mod:`gameday.telemetry.backends` starts
Prometheus, Alertmanager and the sink as child processes. The server side (Starlette,
uvicorn) is not exported here. Names load on first use, so ``import
gameday.telemetry.spans`` does not pull in requests, protobuf and the clients.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gameday.telemetry.spans import Span, Trace

if TYPE_CHECKING:
    from gameday.telemetry.alertmanager import (
        AlertmanagerAlert,
        AlertmanagerClient,
        SinkClient,
    )
    from gameday.telemetry.notifications import (
        Notification,
        NotificationStore,
        NotifiedAlert,
    )
    from gameday.telemetry.prometheus import (
        AlertTransition,
        PrometheusAlert,
        PrometheusClient,
        PrometheusError,
        Rule,
        Sample,
        Series,
        Target,
    )
    from gameday.telemetry.traces import (
        JaegerClient,
        TempoClient,
        TraceClient,
        get_traces,
        trace_client,
    )

_LAZY = {
    "AlertmanagerAlert": "gameday.telemetry.alertmanager",
    "AlertmanagerClient": "gameday.telemetry.alertmanager",
    "SinkClient": "gameday.telemetry.alertmanager",
    "Notification": "gameday.telemetry.notifications",
    "NotificationStore": "gameday.telemetry.notifications",
    "NotifiedAlert": "gameday.telemetry.notifications",
    "AlertTransition": "gameday.telemetry.prometheus",
    "PrometheusAlert": "gameday.telemetry.prometheus",
    "PrometheusClient": "gameday.telemetry.prometheus",
    "PrometheusError": "gameday.telemetry.prometheus",
    "Rule": "gameday.telemetry.prometheus",
    "Sample": "gameday.telemetry.prometheus",
    "Series": "gameday.telemetry.prometheus",
    "Target": "gameday.telemetry.prometheus",
    "JaegerClient": "gameday.telemetry.traces",
    "TempoClient": "gameday.telemetry.traces",
    "TraceClient": "gameday.telemetry.traces",
    "get_traces": "gameday.telemetry.traces",
    "trace_client": "gameday.telemetry.traces",
}

__all__ = [
    "AlertTransition",
    "AlertmanagerAlert",
    "AlertmanagerClient",
    "JaegerClient",
    "Notification",
    "NotificationStore",
    "NotifiedAlert",
    "PrometheusAlert",
    "PrometheusClient",
    "PrometheusError",
    "Rule",
    "Sample",
    "Series",
    "SinkClient",
    "Span",
    "Target",
    "TempoClient",
    "Trace",
    "TraceClient",
    "get_traces",
    "trace_client",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
