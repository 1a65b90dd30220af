"""What people read: epoch lines in one number format, paths as they typed them, and run
tables that say when a group mixes unlike runs."""

from __future__ import annotations

import pandas as pd
import pytest

from mnist_exp.runs.compare import run_table, summarize
from mnist_exp.runs.table import METRIC_COLUMNS
from mnist_exp.text import shown_path
from mnist_exp.training.callbacks import metric_text


def test_epoch_lines_use_one_format_per_metric():
    assert metric_text("val_accuracy", 0.99) == "0.9900"
    assert metric_text("accuracy", 0.99041) == "0.9904"
    assert metric_text("loss", 0.0812345) == "0.0812"
    assert metric_text("learning_rate", 0.0019) == "1.90e-03"


def test_paths_below_the_working_directory_are_shown_as_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "outputs" / "quickstart") == "outputs/quickstart"
    assert shown_path("/elsewhere/run") == "/elsewhere/run"


def runs(**columns) -> pd.DataFrame:
    count = len(next(iter(columns.values())))
    metrics = {metric: [0.9 + 0.01 * i for i in range(count)] for metric in METRIC_COLUMNS}
    return pd.DataFrame({**columns, **metrics, "status": ["completed"] * count,
                         "run_dir": [f"/runs/{i}" for i in range(count)]})  # fmt: skip


def test_a_group_that_pools_unlike_runs_says_what_varies_or_is_split():
    table = runs(
        model=["mlp", "mlp", "mlp", "cnn"],
        seed=[0, 1, 0, 0],
        **{"trainer.epochs": [1, 1, 5, 1], "dataset.max_train_examples": [1000, 1000, 6000, 1000]},
    )
    pooled = summarize(table, ["model"])
    mlp = pooled[pooled["model"] == "mlp"].iloc[0]
    assert mlp["varies within"] == "dataset.max_train_examples 1,000..6,000; trainer.epochs 1..5"
    assert pooled[pooled["model"] == "cnn"].iloc[0]["varies within"] == ""
    strict = summarize(table, ["model"], strict=True)
    assert sorted(strict["runs"]) == [1, 1, 2] and "varies within" not in strict.columns
    same = summarize(runs(model=["mlp", "mlp"], seed=[0, 1]), ["model"])
    assert "varies within" not in same.columns  # seeds alone are what groups pool


@pytest.mark.parametrize("count", [1, 2])
def test_the_run_table_names_the_model_even_for_a_single_run(count):
    table = runs(model=["mlp", "cnn"][:count], dataset=["mnist"] * count, seed=[0] * count,
                 **{"trainer.epochs": [8] * count})  # fmt: skip
    shown = run_table(table, None)
    assert "model" in shown.columns
    assert ("dataset" in shown.columns) == (count == 1)


def test_a_key_missing_from_some_runs_of_a_group_is_named_too():
    table = runs(model=["mlp", "mlp"], seed=[0, 0], **{"model.width": [None, "wide"]})
    assert summarize(table, ["model"]).iloc[0]["varies within"] == "model.width in {(absent), wide}"
