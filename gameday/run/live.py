"""What a run publishes while it runs, besides its console: gameday's own metrics.

Neither call may break a run: metrics that cannot be served are a warning, never an abort.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gameday.run import metrics

if TYPE_CHECKING:
    from gameday.run.record import RunRecord
    from gameday.run.results import ScenarioResult


def tick(record: RunRecord) -> None:
    """One turn of the runner's loop: refresh the metrics."""
    metrics.update(record)


def finish(result: ScenarioResult) -> None:
    """A scenario has its verdict: publish it on the metrics endpoint."""
    metrics.finish(result)
