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


def read_history(run_dir: Path):
    """The run's history.csv as a DataFrame (no rows before its first epoch ended)."""
    import pandas as pd  # here: predicting and serving never read a history (0.2 s)

    path = Path(run_dir) / HISTORY_FILE
    if not path.is_file():
        return pd.DataFrame(columns=["epoch", "loss", "val_loss", "val_accuracy"])
    return pd.read_csv(path)
