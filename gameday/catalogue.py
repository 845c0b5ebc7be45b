"""The scenario catalogue: find scenario files, filter them by tag, list them.

``gameday run`` and ``gameday validate`` take files and folders; :func:`discover` turns them
into the sorted list of ``*.yaml`` / ``*.yml`` files. :func:`catalogue_rows` is what
``gameday list`` prints: name, tags, faults as ``injector@target``, expectation titles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gameday.errors import ScenarioError

if TYPE_CHECKING:
    from gameday.scenario import Scenario

SUFFIXES = (".yaml", ".yml")


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Scenario files named by ``paths``: files as given, folders searched recursively.

    Folders contribute their ``*.yaml`` / ``*.yml`` files (hidden ones skipped), sorted; a
    file is listed once even if named twice. A path that does not exist is a ScenarioError.
    """
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.update(dict.fromkeys(_yaml_files(path)))
        elif path.is_file():
            found[path] = None
        else:
            raise ScenarioError("no such file or folder", path)
    return list(found)


def _yaml_files(folder: Path) -> list[Path]:
    files = (
        p
        for p in folder.rglob("*")
        if p.suffix in SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    return sorted(files)


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
