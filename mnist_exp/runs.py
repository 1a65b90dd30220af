"""Finding run directories and reading them into one pandas table, one row per run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from mnist_exp.artifacts import METRICS_FILE
from mnist_exp.flatten import flatten_config, with_group_choices

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
CONFIG_FILE = Path(".hydra") / "config.yaml"
HYDRA_FILE = Path(".hydra") / "hydra.yaml"


def find_run_dirs(paths) -> list[Path]:
    """Run directories (those holding `.hydra/config.yaml`) at or below each path, sorted."""
    found = set()
    for path in map(Path, paths):
        if (path / CONFIG_FILE).is_file():
            found.add(path.resolve())
        found.update(
            config.parent.parent.resolve()
            for config in path.rglob("config.yaml")
            if config.parent.name == ".hydra"
        )
    return sorted(found)


def _read_choices(run_dir: Path) -> dict:
    """Hydra's config-group choices (model=cnn_bn, optimizer=adam, ...) of the run."""
    try:
        hydra = OmegaConf.load(run_dir / HYDRA_FILE)
        return OmegaConf.to_container(hydra.hydra.runtime.choices)
    except Exception:  # an old or partial run: the table still shows it, just with fewer columns
        return {}


def read_run(run_dir: Path) -> dict:
    """One table row: group choices, flattened config, metrics, status and directory."""
    flat: dict = {}
    try:
        flat = flatten_config(OmegaConf.load(run_dir / CONFIG_FILE))
    except Exception as error:
        log.warning("%s: unreadable config (%s)", run_dir, error)
    row = with_group_choices(flat, _read_choices(run_dir))
    metrics_path = run_dir / METRICS_FILE
    metrics = {}
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text())
        except json.JSONDecodeError:
            metrics = {"status": "unreadable"}
    for column in METRIC_COLUMNS:
        value = metrics.get(column)
        row[column] = value if isinstance(value, (int, float)) else float("nan")
    row["status"] = metrics.get("status", "no metrics")
    row["error"] = metrics.get("error", "")
    row["run_dir"] = str(run_dir)
    return row


def runs_table(paths) -> pd.DataFrame:
    """All runs under `paths` as a DataFrame; config keys missing in older runs become NaN."""
    rows = [read_run(run_dir) for run_dir in find_run_dirs(paths)]
    return pd.DataFrame(rows)
