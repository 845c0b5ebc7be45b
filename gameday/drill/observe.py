"""Live clients for the drill (its pager and hints): Prometheus, Alertmanager, sink, traces.

Built once per environment. Only the live side of a drill reads through it: the verdict, the
reveal and the post-mortem are made from the run's evidence (its bundle).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gameday.errors import StackUnavailable
from gameday.scenario.environment import Environment
from gameday.telemetry.alertmanager import AlertmanagerClient, SinkClient
from gameday.telemetry.prometheus import PrometheusClient, Rule
from gameday.telemetry.traces import TraceClient, trace_client


@dataclass(frozen=True)
class Observability:
    """Clients for every evidence source an environment offers (``None`` where it has none)."""

    environment: Environment

    @cached_property
    def prometheus(self) -> PrometheusClient:
        if self.environment.prometheus is None:
            raise StackUnavailable("the environment names no prometheus URL")
        return PrometheusClient(self.environment.prometheus)

    @cached_property
    def alertmanager(self) -> AlertmanagerClient | None:
        url = self.environment.alertmanager
        return AlertmanagerClient(url) if url else None

    @cached_property
    def sink(self) -> SinkClient | None:
        url = self.environment.sink
        if not url:
            return None
        token = self.environment.sink_token
        return SinkClient(url, token.get_secret_value() if token else None)

    @cached_property
    def traces(self) -> TraceClient | None:
        url = self.environment.traces
        if not url:
            return None
        token = self.environment.sink_token_for(url)
        return trace_client(url, self.environment.traces_api, token=token)

    @cached_property
    def rules(self) -> dict[str, Rule]:
        """Alerting rules by name (fetched once: rules do not change during a run)."""
        return {r.name: r for r in self.prometheus.rules() if r.type == "alerting"}

    @cached_property
    def scrape_interval(self) -> float:
        return self.prometheus.scrape_interval()

    @cached_property
    def evaluation_interval(self) -> float:
        return self.prometheus.evaluation_interval()
