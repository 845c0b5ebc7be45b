"""What a run does on every turn of the runner's loop, besides the timeline itself.

- Poll Alertmanager's view of the alerts (at most once a second) into the run record: the
  evidence for the *notified* stage when no webhook reaches gameday
  (:mod:`gameday.evidence.alertwatch`).
- Refresh gameday's own metrics, when they are served (:mod:`gameday.run.metrics`).

Neither may break a run: an unreachable Alertmanager is noted in the record, not raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gameday.run import metrics

if TYPE_CHECKING:
    from gameday.run.record import RunRecord
    from gameday.run.results import ScenarioResult


def tick(record: RunRecord) -> None:
    """One turn of the runner's loop: watch Alertmanager, refresh the metrics."""
    url = record.environment.alertmanager
    if url is not None:
        record.alertmanager_seen.poll_url(url)
    metrics.update(record)


def finish(result: ScenarioResult) -> None:
    """A scenario has its verdict: publish it on the metrics endpoint."""
    metrics.finish(result)
