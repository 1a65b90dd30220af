"""Users' callbacks, metrics and loss from config (`+callbacks.NAME._target_=...`,
`+metrics.NAME._target_=...`, `loss._target_=...`): used in the real run, recorded where
the run's own columns are, and each mistake one message naming the key."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import read_metrics, run_module, smoke_config

from mnist_exp.errors import ConfigError
from mnist_exp.settings import parse_settings

USER_MODULE = '''
import keras

class EveryEpoch(keras.callbacks.Callback):
    """Writes a line per epoch into `path`; asks the run to stop after `stop_after` epochs."""

    def __init__(self, path, stop_after):
        super().__init__()
        self.path, self.stop_after = path, stop_after

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path, "a") as lines:
            lines.write(f"{epoch}\\n")
        if epoch + 1 >= self.stop_after:
            self.model.stop_training = True

def shifted_loss(y_true, y_pred, shift):
    """Cross-entropy plus `shift`: its use shows in the history's loss column."""
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred) + shift
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "user_extras.py").write_text(USER_MODULE)
    return tmp_path


@pytest.mark.slow
def test_a_users_callback_metric_and_loss_take_part_in_the_run(project):
    run_dir = project / "run"
    trained = run_module(
        "mnist_exp", "debug=smoke", "model=mlp", "trainer.epochs=4",
        "+callbacks.every_epoch._target_=user_extras.EveryEpoch",
        f"+callbacks.every_epoch.path={project / 'epochs.txt'}",
        "+callbacks.every_epoch.stop_after=2",
        "+metrics.top3._target_=keras.metrics.SparseTopKCategoricalAccuracy",
        "+metrics.top3.k=3",
        "loss._target_=user_extras.shifted_loss", "+loss.shift=100.0",
        f"hydra.run.dir={run_dir}", cwd=project,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert (project / "epochs.txt").read_text().split() == ["0", "1"]  # once per epoch
    metrics = read_metrics(run_dir)
    assert metrics["status"] == "completed" and metrics["epochs_run"] == 2  # its stop, clean
    history = (run_dir / "history.csv").read_text().splitlines()
    columns = history[0].split(",")
    assert "top3" in columns and "val_top3" in columns
    rows = [dict(zip(columns, line.split(","), strict=True)) for line in history[1:]]
    assert all(float(row["loss"]) > 100 for row in rows)  # trained with the user's loss
    assert 0.0 <= metrics["test_top3"] <= 1.0 and metrics["test_top3"] >= metrics["test_accuracy"]
    compared = subprocess.run(
        [sys.executable, "-m", "mnist_exp.cli.compare", str(run_dir), "--format", "csv"],
        capture_output=True, text=True, cwd=project,
    )  # fmt: skip
    (row,) = csv.DictReader(io.StringIO(compared.stdout))
    assert float(row["test_top3"]) == pytest.approx(metrics["test_top3"], abs=1e-4)
    grouped = subprocess.run(
        [sys.executable, "-m", "mnist_exp.cli.compare", str(run_dir), "--group-by", "model",
         "--format", "csv"], capture_output=True, text=True, cwd=project,
    )  # fmt: skip
    (group,) = csv.DictReader(io.StringIO(grouped.stdout))
    assert float(group["test_top3"]) == pytest.approx(metrics["test_top3"], abs=1e-3)
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    from mnist_exp.reporting.board_view import refresh

    (test_events,) = run_dir.glob("tensorboard/*/test/events.*")
    tags = {v.tag for e in EventFileLoader(str(test_events)).Load() for v in e.summary.value}
    assert "epoch_top3" in tags  # the test point on the top3 chart
    assert refresh(run_dir, project / "view").metrics == ("test_top3",)  # an HParams metric
    again = run_module("mnist_exp.cli.resume", str(run_dir), cwd=project)
    assert "already" in (again.stdout + again.stderr)  # a stopped run is a finished run


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+callbacks.x._target_=no_such_module.Thing"], "no module named 'no_such_module'"),
        (["+callbacks.x._target_=keras.callbacks.CSVLoger"], "has no 'CSVLoger'"),
        (["+metrics.m._target_=keras.metrics.Nope"], "has no 'Nope'"),  # was found at the fit check
        (["optimizer._target_=keras.optimizers.Adamm"], "keras.optimizers.Adamm: module"),
        (["+callbacks.x=3"], "callbacks.x=3 must name a class or function"),
        (["+metrics.accuracy._target_=keras.metrics.Accuracy"], "the run's own columns"),
        (["+metrics.val_x._target_=keras.metrics.Accuracy"], "the run's own columns"),
        (["+loss.alpha=1"], "arguments without loss._target_"),
        (
            ["loss._target_=keras.losses.Huber", "trainer.label_smoothing=0.1"],
            "pass the smoothing to your loss",
        ),
        (
            ["+metrics.t._target_=keras.metrics.Accuracy", "strategy=multi_worker"],
            "strategy=multi_worker trains in its own loop",
        ),
    ],
)
def test_mistakes_are_one_message_before_tensorflow(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_settings(smoke_config(*overrides))


def test_no_user_objects_by_default():
    settings = parse_settings(smoke_config())
    assert [entry.name for entry in settings.callbacks] == ["early_stopping"]  # the preset
    assert settings.metrics == () and settings.loss is None


def test_callback_presets_are_files_in_the_group_turned_on_and_off_by_name():
    def targets(*overrides):
        return [(e.name, e.target) for e in parse_settings(smoke_config(*overrides)).callbacks]

    assert targets() == [("early_stopping", "keras.callbacks.EarlyStopping")]
    assert targets("~callbacks.early_stopping") == []
    mine = "+callbacks.mine._target_=keras.callbacks.CSVLogger"
    assert targets("schedule=constant", "+callbacks=reduce_lr_on_plateau", mine) == [
        ("early_stopping", "keras.callbacks.EarlyStopping"),
        ("reduce_lr_on_plateau", "keras.callbacks.ReduceLROnPlateau"),
        ("mine", "keras.callbacks.CSVLogger"),
    ]  # the presets, then the user's, in the order they run


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+metrics.m._target_=keras.metrics.CategoricalAccuracy"], "SparseCategoricalAccuracy"),
        (["loss._target_=keras.losses.CategoricalCrossentropy"], "SparseCategoricalCrossentropy"),
        (["+metrics.m._target_=keras.metrics.MeanSquaredError"], "does not fit the model's"),
        (["+metrics.m._target_=keras.metrics.AUC", "+metrics.m.wrong=1"], "metrics.m: keras"),
    ],
)
def test_what_does_not_fit_the_model_is_one_message_before_training(overrides, message):
    from mnist_exp.training.extensions import check_fit

    settings = parse_settings(smoke_config(*overrides))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(ConfigError, match=message):
        check_fit(model, np.zeros((2, 4), "float32"), settings)


@pytest.mark.slow
def test_the_presets_stop_early_and_reduce_the_rate_in_a_real_run(tmp_path):
    def trained(name, *overrides):
        run_dir = tmp_path / name
        result = run_module(
            "mnist_exp", "debug=smoke", "model=mlp", *overrides, f"hydra.run.dir={run_dir}",
            cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        with open(run_dir / "history.csv") as rows:
            return read_metrics(run_dir), list(csv.DictReader(rows))

    never_better = "min_delta=100"  # no epoch improves by that much: each is a plateau
    metrics, _ = trained(
        "stopped", "trainer.epochs=4", "callbacks.early_stopping.patience=0",
        f"callbacks.early_stopping.{never_better}",
    )  # fmt: skip
    assert metrics["status"] == "completed" and metrics["epochs_run"] == 2
    _, history = trained(
        "reduced", "trainer.epochs=3", "~callbacks.early_stopping", "schedule=constant",
        "+callbacks=reduce_lr_on_plateau", "callbacks.reduce_lr_on_plateau.patience=0",
        f"+callbacks.reduce_lr_on_plateau.{never_better}",
    )  # fmt: skip
    rates = [float(row["learning_rate"]) for row in history]
    assert rates[:2] == [rates[0]] * 2 and rates[2] == pytest.approx(rates[0] / 2)
