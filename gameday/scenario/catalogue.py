"""The scenario catalogue: filter scenarios by tag, list them.

:func:`catalogue_rows` is what ``gameday list`` prints: name, tags, faults as
``injector@target``, expectation titles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gameday.scenario.model import Scenario


def filter_by_tag(scenarios: Iterable[Scenario], tags: str | Iterable[str]) -> list[Scenario]:
    """Scenarios carrying at least one of ``tags`` (all of them when ``tags`` is empty)."""
    wanted = {tags} if isinstance(tags, str) else set(tags)
    if not wanted:
        return list(scenarios)
    return [s for s in scenarios if wanted.intersection(s.tags)]


@dataclass(frozen=True)
class CatalogueRow:
    """One line of ``gameday list``."""

    name: str
    tags: tuple[str, ...]
    faults: tuple[str, ...]
    expectations: tuple[str, ...]
    source: str = ""

    def to_json(self) -> dict[str, object]:
        """The row as JSON data."""
        return {
            "name": self.name,
            "tags": list(self.tags),
            "faults": list(self.faults),
            "expectations": list(self.expectations),
            "source": self.source,
        }


def catalogue_rows(scenarios: Sequence[Scenario]) -> list[CatalogueRow]:
    """Rows for ``gameday list``, sorted by scenario name."""
    return [
        CatalogueRow(
            name=s.name,
            tags=tuple(s.tags),
            faults=tuple(f.title for f in s.faults),
            expectations=tuple(e.title for e in s.expect),
            source=str(s.source or ""),
        )
        for s in sorted(scenarios, key=lambda s: s.name)
    ]
