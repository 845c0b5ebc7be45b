"""Finding scenario files: ``gameday run`` and ``gameday validate`` take files and folders;
:func:`discover` turns them into the sorted list of ``*.yaml`` / ``*.yml`` files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from gameday.errors import ScenarioError

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
