"""A fault active on a relay: its spec, what it has done so far (evidence), and how it acts on
one batch on its way to landing.

Randomness is seeded per fault and batch (``seed`` and the batch id), so a run that sends the
same batches through the same fault changes the same rows, whatever the timing.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gameday.servers.relay.formats import FormatError, Frame, batch_id, count_rows, read_frame
from gameday.servers.relay.model import FaultSpec
from gameday.servers.relay.sampling import Moments
from gameday.servers.relay.transforms import TRANSFORM_TYPES, apply


@dataclass
class Evidence:
    """What a fault did: batches changed (ids), rows changed, columns touched, batches held
    now and released so far, rows dropped."""

    batches: list[str] = field(default_factory=list)
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    released: int = 0
    dropped: int = 0

    def add(self, batch: str, rows: int = 0, columns: list[str] | None = None) -> None:
        if batch not in self.batches:
            self.batches.append(batch)
        self.rows += rows
        self.columns.extend(c for c in columns or [] if c not in self.columns)

    def to_json(self, held: int) -> dict[str, Any]:
        return {
            "batches": list(self.batches),
            "rows": self.rows,
            "columns": list(self.columns),
            "held": held,
            "released": self.released,
            "dropped": self.dropped,
        }


@dataclass
class Work:
    """One batch on its way to landing, and what the faults have done to it so far."""

    name: str
    fmt: str | None
    data: bytes
    frame: Frame | None = None
    unreadable: bool = False
    duplicate: bool = False
    touched: list[ActiveFault] = field(default_factory=list)

    @property
    def id(self) -> str:
        return batch_id(self.name)

    def parsed(self) -> Frame | None:
        """The batch as a frame (parsed once); None if its format is unknown or it is unreadable."""
        if self.frame is None and self.fmt is not None and not self.unreadable:
            try:
                self.frame = read_frame(self.data, self.fmt)
            except FormatError:
                self.unreadable = True
        return self.frame

    def output(self) -> bytes:
        """The bytes landing gets: the transformed batch, or the original if no row changed."""
        changed = any(f.spec.type in TRANSFORM_TYPES for f in self.touched)
        return self.frame.to_bytes() if changed and self.frame is not None else self.data


class ActiveFault:
    """A fault on a relay: applies to batches until ``batches`` of them were touched."""

    def __init__(self, spec: FaultSpec, reference: dict[str, Moments], slot: int):
        self.spec = spec
        self.reference = reference
        self.slot = slot  # names this fault's folder of kept originals in the state dir
        self.evidence = Evidence()
        self.used = 0
        self.held_now = 0
        self.expires_at = time.monotonic() + spec.ttl_s if spec.ttl_s else math.inf

    @property
    def name(self) -> str:
        return self.spec.name

    def applies(self, fmt: str | None) -> bool:
        """True if the fault would act on the next batch (of format ``fmt``)."""
        limit = self.spec.integer("batches")
        if limit and self.used >= limit:
            return False
        return self.spec.holds or fmt is not None

    def due(self, arrived: float) -> float:
        """When a batch that arrived at ``arrived`` (monotonic) may leave: never for stale."""
        if self.spec.type == "delay":
            return arrived + self.spec.number("delay_s")
        return math.inf

    def hold(self, name: str) -> None:
        self.used += 1
        self.held_now += 1
        self.evidence.add(batch_id(name))

    def release(self) -> None:
        self.held_now -= 1
        self.evidence.released += 1

    def act(self, work: Work) -> None:
        """Change ``work`` as this fault does (duplicate, or a transform of its rows)."""
        if self.spec.type == "duplicate":
            work.duplicate = True
            self._touched(work, count_rows(work.data, work.fmt or ""), [])
            return
        frame = work.parsed()
        if frame is None:
            return
        rng = np.random.default_rng([self.spec.integer("seed"), zlib.crc32(work.id.encode())])
        change = apply(self.spec, frame, rng, self.reference)
        if change.touched:
            self.evidence.dropped += change.dropped
            self._touched(work, change.rows, change.columns)

    def _touched(self, work: Work, rows: int, columns: list[str]) -> None:
        self.used += 1
        self.evidence.add(work.id, rows, columns)
        work.touched.append(self)

    def to_json(self) -> dict[str, Any]:
        return {**self.spec.to_json(), "evidence": self.evidence.to_json(self.held_now)}
