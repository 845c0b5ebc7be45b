"""The run bundle: one folder per run holding everything its verdict uses.

Layout (``docs/reference/bundle.md``)::

    RUN_DIR/
      evidence.json.gz   the RunEvidence, gzip'd JSON (format "gameday-bundle", version 1)
      verdict.json       the verdict and checks as judged when the run ended
      scenario.yaml      the scenario file as it was read (for people; evidence.json.gz
                         holds the scenario as loaded, defaults filled in)
      load/              Locust's own files (logs, per-request records), when there was load

``gameday verify RUN_DIR`` and ``gameday report RUN_DIR`` read it back with no network.
Secrets are masked in ``evidence.json.gz`` and ``verdict.json`` before they are written;
``scenario.yaml`` is the user's own file, copied as it is. Files are written atomically.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from gameday.errors import ScenarioError
from gameday.evidence.model import FORMAT, FORMAT_VERSION, RunEvidence
from gameday.redaction import redact

if TYPE_CHECKING:
    from gameday.run.results import ScenarioResult

EVIDENCE = "evidence.json.gz"
VERDICT = "verdict.json"
SCENARIO = "scenario.yaml"


@dataclass(frozen=True)
class Bundle:
    """A run bundle as read from disk: its evidence and the verdict recorded with it."""

    path: Path
    evidence: RunEvidence
    recorded: dict[str, object]

    @property
    def recorded_verdict(self) -> str | None:
        verdict = self.recorded.get("verdict")
        return verdict if isinstance(verdict, str) else None


def write_bundle(run_dir: Path, result: ScenarioResult) -> None:
    """Write ``result``'s evidence, verdict and scenario text into ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    data = redact(result.evidence.model_dump(mode="json"))
    _atomic(run_dir / EVIDENCE, gzip.compress(json.dumps(data).encode(), mtime=0))
    verdict = json.dumps(result.to_json(), indent=1).encode()
    _atomic(run_dir / VERDICT, verdict)
    source = result.scenario.source
    if source is not None and source.is_file():
        _atomic(run_dir / SCENARIO, source.read_bytes())


def read_bundle(run_dir: str | Path) -> Bundle:
    """Read the bundle in ``run_dir``; :class:`ScenarioError` names what is wrong with it."""
    path = Path(run_dir)
    file = path / EVIDENCE
    if not file.is_file():
        raise ScenarioError(f"not a run bundle: no {EVIDENCE}", path)
    try:
        raw = json.loads(gzip.decompress(file.read_bytes()))
    except (OSError, ValueError, EOFError) as exc:
        raise ScenarioError(f"unreadable evidence: {exc}", file) from None
    _check_format(raw, file)
    try:
        evidence = RunEvidence.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ScenarioError(
            f"evidence does not match the bundle format: {where}: {first['msg']}", file
        ) from None
    recorded: dict[str, object] = {}
    verdict = path / VERDICT
    if verdict.is_file():
        try:
            loaded = json.loads(verdict.read_text())
        except ValueError as exc:
            raise ScenarioError(f"unreadable verdict: {exc}", verdict) from None
        recorded = loaded if isinstance(loaded, dict) else {}
    return Bundle(path, evidence, recorded)


def _check_format(raw: object, file: Path) -> None:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ScenarioError(f"not a gameday bundle (format is not {FORMAT!r})", file)
    version = raw.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ScenarioError(
            f"bundle format version {version!r}; this gameday reads up to {FORMAT_VERSION}", file
        )


def find_bundles(paths: list[str | Path]) -> list[Path]:
    """Run folders named by ``paths``: each path is a bundle, or a folder of bundles."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / EVIDENCE).is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p.parent for p in path.glob(f"*/{EVIDENCE}"))
        else:
            raise ScenarioError("no such run folder", path)
    if not found:
        raise ScenarioError(f"no run bundle ({EVIDENCE}) in {', '.join(map(str, paths))}")
    return found


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
