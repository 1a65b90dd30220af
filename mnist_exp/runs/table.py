"""Finding run directories and reading them into one pandas table, one row per run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from mnist_exp.runs.flatten import flatten_config, with_group_choices
from mnist_exp.runs.load import Run
from mnist_exp.runs.record import CONFIG_FILE

log = logging.getLogger(__name__)

METRIC_COLUMNS = (
    "test_accuracy",
    "test_loss",
    "best_val_accuracy",
    "epochs_run",
    "train_seconds",
    "images_per_second",
    "num_params",
)


def users_metrics(names) -> list[str]:
    """The users' metrics (`metrics.NAME` in config) among `names`: their `test_NAME` values,
    sorted; the run's own test_accuracy and test_loss left out."""
    return sorted(n for n in names if n.startswith("test_") and n not in METRIC_COLUMNS)


SEARCH_LOG = "tune.log"  # a search directory's own log: its root is a search, not a run


def find_run_dirs(paths) -> list[Path]:
    """Run directories (those holding `.hydra/config.yaml`) at or below each path, sorted.
    A search directory is not a run: its trials (runs below it) are listed instead."""
    found = set()
    for path in map(Path, paths):
        if (path / CONFIG_FILE).is_file():
            found.add(path.resolve())
        found.update(
            config.parent.parent.resolve()
            for config in path.rglob("config.yaml")
            if config.parent.name == ".hydra"
        )
    return sorted(run for run in found if not (run / SEARCH_LOG).is_file())


def read_run(run_dir: Path) -> dict:
    """One table row: group choices, flattened config, metrics, status and directory."""
    run = Run(Path(run_dir))
    flat: dict = {}
    try:
        flat = flatten_config(run.config)
    except Exception as error:
        log.warning("%s: unreadable config (%s)", run_dir, error)
    row = with_group_choices(flat, run.choices)
    metrics = run.metrics
    for column in METRIC_COLUMNS:
        value = metrics.get(column)
        row[column] = value if isinstance(value, (int, float)) else float("nan")
    for key in users_metrics(metrics):
        if isinstance(metrics[key], (int, float)):
            row[key] = metrics[key]
    row["status"] = metrics.get("status", "no metrics")
    row["error"] = metrics.get("error", "")
    row["run_dir"] = str(run_dir)
    return row


def read_runs(run_dirs: list[Path], on_read: Callable[[int], None] | None = None) -> pd.DataFrame:
    """The runs as a DataFrame; config keys missing in older runs become NaN.

    Args:
        run_dirs: run directories, as `find_run_dirs` lists them.
        on_read: called with the number of runs read so far (progress).
    """
    rows = []
    for run_dir in run_dirs:
        rows.append(read_run(run_dir))
        if on_read is not None:
            on_read(len(rows))
    return pd.DataFrame(rows)


def runs_table(paths) -> pd.DataFrame:
    """All runs under `paths` as a DataFrame (see `read_runs`)."""
    return read_runs(find_run_dirs(paths))
