"""Where runs are tracked besides their own folders: an MLflow tracking server."""

from __future__ import annotations

from pathlib import Path

RUN_FILE = "mlflow.json"  # in a run's folder, and in a sweep's or search's for its parent


def end_tracked_parent(folder: Path) -> None:
    """Ends the MLflow parent run of a sweep's or search's folder, when it has one (MLflow is
    imported only then)."""
    if (Path(folder) / RUN_FILE).is_file():
        from mnist_exp.tracking.mlflow_run import end_parent

        end_parent(folder)
