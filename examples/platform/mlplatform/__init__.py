"""An ML platform from off-the-shelf parts: Feast on Redis, pandera, scikit-learn, FastAPI,
OpenTelemetry and Prometheus instrumentation.

Each part is a command, ``python -m mlplatform.<part> --help``: ``feast_repo`` (write and
apply the Feast repository), ``producer`` (upstream Parquet batches), ``ingest`` (landing
folder -> validation -> online store), ``model_service`` (one model behind HTTP). Nothing
here imports gameday: a game day drives this platform only through its environment file.
"""

from mlplatform.features import FEATURES, MODELS, ModelSpec

__all__ = ["FEATURES", "MODELS", "ModelSpec"]
