"""What the model delivered during a run: the environment's impact queries, read once.

An environment names its impact measures (``impact:`` in the environment file: a PromQL
query per measure and which way is harm); a run reads each over the whole run as a range
query and keeps every series here, in the bundle. ``gameday sweep`` computes a probe's
impact from this and the load's requests alone, so it can be recomputed with no network.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Harm = Literal["rise", "drop", "change"]
"""Which way a measure hurts: ``rise`` (PSI, error share), ``drop`` (AUC, accuracy), or
``change`` either way (the mean served score)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MeasureSeries(_Model):
    """One series a measure's query returned: its labels and ``(time, value)`` points."""

    labels: dict[str, str] = Field(default_factory=dict)
    points: tuple[tuple[float, float], ...] = ()


class MeasureEvidence(_Model):
    """One impact measure over the run: the query, which way is harm, and what it returned
    (``error`` when it could not be read: never a measured zero)."""

    query: str
    harm: Harm = "change"
    unit: str = ""
    series: tuple[MeasureSeries, ...] = ()
    error: str | None = None


class ImpactEvidence(_Model):
    """Every impact measure the environment names, read over the run. ``collected`` is
    False when the environment names none (or has no Prometheus to ask)."""

    collected: bool = False
    step_s: float = 1.0
    measures: dict[str, MeasureEvidence] = Field(default_factory=dict)
    error: str | None = None
