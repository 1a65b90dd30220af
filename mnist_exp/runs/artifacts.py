"""The files a run writes into its directory, by name."""

from __future__ import annotations

from pathlib import Path

from mnist_exp.safe_files import read_json

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.keras"
TENSORBOARD_DIR = "tensorboard"
BACKUP_DIR = "backup"


def read_metrics(run_dir: Path) -> dict | None:
    """The run's metrics.json, or None if it has none yet."""
    return read_json(Path(run_dir) / METRICS_FILE)
