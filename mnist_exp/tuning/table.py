"""The trials table: one row per trial, every searched value, score, epochs, seconds; sorted
best first; written as CSV and Markdown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mnist_exp.runs import artifacts
from mnist_exp.safe_files import write_text_atomically
from mnist_exp.tuning.space import SearchSpace
from mnist_exp.tuning.trials import EPOCHS_VALUE
from mnist_exp.tuning.tuner import failure_reason

TABLE_CSV = "trials.csv"
TABLE_MARKDOWN = "trials.md"


def _runs(trial_dir: Path) -> list[dict]:
    runs = (artifacts.read_metrics(run) for run in sorted(trial_dir.glob("seed_*")))
    return [metrics for metrics in runs if metrics]


def _display(value):
    return str(value) if isinstance(value, (list, dict)) else value


def trials_table(oracle, project_dir: Path, space: SearchSpace) -> pd.DataFrame:
    """The oracle's trials with what their runs recorded, best first, unscored last."""
    metric = oracle.objective.name
    rows = []
    for trial_id, trial in oracle.trials.items():
        values = trial.hyperparameters.values
        runs = _runs(Path(project_dir) / f"trial_{trial_id}")
        row = {"trial": trial_id, "status": trial.status}
        row.update({key: _display(v) for key, v in space.assignments(values).items()})
        row[metric] = trial.score
        row["epochs"] = sum(run.get("epochs_run") or 0 for run in runs) or None
        row["seconds"] = round(sum(run.get("wall_seconds") or 0 for run in runs), 1) or None
        if EPOCHS_VALUE in values:
            row["budget_epochs"] = values[EPOCHS_VALUE]
        errors = [run["error"] for run in runs if run.get("error")]
        row["reason"] = failure_reason(trial) or (errors[0] if errors else "")
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    ascending = oracle.objective.direction == "min"
    return table.sort_values(metric, ascending=ascending, na_position="last").reset_index(drop=True)


def write_trials_table(table: pd.DataFrame, output_dir: Path) -> None:
    write_text_atomically(Path(output_dir) / TABLE_CSV, table.to_csv(index=False))
    markdown = table.fillna("").to_markdown(index=False, floatfmt=".4g") if len(table) else ""
    write_text_atomically(Path(output_dir) / TABLE_MARKDOWN, markdown + "\n")


def summary_counts(table: pd.DataFrame) -> dict:
    statuses = table["status"].value_counts().to_dict() if len(table) else {}
    return {
        "trials": len(table),
        "completed": int(statuses.get("COMPLETED", 0)),
        "failed": int(sum(v for k, v in statuses.items() if k in ("FAILED", "INVALID"))),
        "running": int(statuses.get("RUNNING", 0)),
    }
