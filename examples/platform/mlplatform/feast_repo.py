"""Write the platform's Feast repository and apply it, as ``feast apply`` would.

``python -m mlplatform.feast_repo --out DIR --redis HOST:PORT`` writes
``DIR/feature_store.yaml`` (Redis online store at HOST:PORT, a local file registry) and
``DIR/definitions.py`` (entity ``customer``, push source ``customer_push``, feature view
``customer_features``), then registers the definitions through Feast's Python API. The
repository stands on its own: ``feast -c DIR apply`` gives the same registry.

Redis is given short socket timeouts and no client retries, so a slow or dead Redis turns
into a fast, countable error in the services instead of a request hanging for many seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from mlplatform import features as F

PROJECT = "mlplatform"
DEFINITIONS = "definitions.py"
DEFAULT_TIMEOUT_S = 2.0

_YAML = """\
# Written by mlplatform.feast_repo. Online reads and writes go to Redis at {redis}.
project: {project}
registry: {registry}
provider: local
online_store:
  type: redis
  connection_string: "{redis},socket_timeout={timeout},socket_connect_timeout={timeout},retry=null"
offline_store:
  type: file
entity_key_serialization_version: 3
"""

_DEFINITIONS = '''\
"""Feast definitions of the ML platform (written by mlplatform.feast_repo)."""

from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Float64

customer = Entity(
    name="customer",
    join_keys=["{entity}"],
    value_type=ValueType.STRING,
    description="A customer of the platform, c000000 onwards",
)

# Batches are pushed straight to the online store; the file source is the offline copy a
# push source must name (ingestion does not write it).
customer_batches = FileSource(
    name="customer_batches",
    path="{offline}",
    timestamp_field="{timestamp}",
)

{push} = PushSource(name="{push}", batch_source=customer_batches)

{view} = FeatureView(
    name="{view}",
    entities=[customer],
    ttl=timedelta(days=1),
    schema=[
{fields}
    ],
    source={push},
    online=True,
)
'''


def write(out: Path, redis: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Path:
    """Write ``feature_store.yaml`` and ``definitions.py`` into ``out``; the repo folder."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    registry = (out / "data" / "registry.db").resolve()
    (out / "feature_store.yaml").write_text(
        _YAML.format(redis=redis, project=PROJECT, registry=registry, timeout=timeout_s)
    )
    fields = "\n".join(f'        Field(name="{name}", dtype=Float64),' for name in F.FEATURES)
    (out / DEFINITIONS).write_text(
        _DEFINITIONS.format(
            entity=F.ENTITY,
            offline=(out / "data" / "customer_features.parquet").resolve(),
            timestamp=F.TIMESTAMP,
            push=F.PUSH_SOURCE,
            view=F.FEATURE_VIEW,
            fields=fields,
        )
    )
    return out


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("mlplatform_feast_definitions", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load Feast definitions from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def apply(repo: Path) -> list[str]:
    """Register every Feast object defined in ``repo/definitions.py``; their names."""
    from feast import Entity, FeatureStore, FeatureView, FileSource, PushSource

    module = _load(repo / DEFINITIONS)
    kinds = (Entity, FileSource, PushSource, FeatureView)
    objects: list[Any] = [v for v in vars(module).values() if isinstance(v, kinds)]
    FeatureStore(repo_path=str(repo)).apply(objects)
    return sorted(o.name for o in objects)


def main(argv: list[str] | None = None) -> int:
    """Write and apply the repository; print ``{"repo": DIR, "applied": [...]}``."""
    p = argparse.ArgumentParser(prog="python -m mlplatform.feast_repo", description=__doc__)
    p.add_argument("--out", required=True, type=Path, help="folder of the Feast repository")
    p.add_argument("--redis", required=True, help="HOST:PORT of Redis (or of its proxy)")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"Redis socket timeout in seconds (default {DEFAULT_TIMEOUT_S:g})",
    )
    args = p.parse_args(argv)
    if ":" not in args.redis:
        print(f"--redis: expected HOST:PORT, got {args.redis!r}", file=sys.stderr)
        return 2
    repo = write(args.out, args.redis, args.timeout)
    applied = apply(repo)
    print(json.dumps({"repo": str(repo.resolve()), "applied": applied}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
