"""The real runner end to end on synthetic data: artifacts, metrics, failures, determinism."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from conftest import compose_config, read_json, smoke_config

from mnist_exp.errors import ConfigError, MnistExpError
from mnist_exp.training.runner import run_experiment

pytestmark = pytest.mark.slow  # each test trains or starts a process

REQUIRED_METRICS = {
    "test_accuracy",
    "test_loss",
    "best_val_accuracy",
    "epochs_run",
    "train_seconds",
    "images_per_second",
    "num_params",
    "status",
}


def test_a_run_leaves_its_artifacts_and_learns(tmp_path):
    import tensorflow as tf

    cfg = smoke_config("model=mlp", "trainer.epochs=3", "schedule=cosine", "augment=light")
    metrics = run_experiment(cfg, tmp_path)
    saved = read_json(tmp_path / "metrics.json")
    assert REQUIRED_METRICS <= set(saved)
    assert saved["status"] == "completed" and saved["epochs_run"] == 3
    assert saved["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert metrics["test_accuracy"] > 0.5, "synthetic data is easy; the MLP should learn it"
    assert metrics["objective"] == metrics["best_val_accuracy"]
    assert (tmp_path / "model.keras").stat().st_size > 0
    with open(tmp_path / "history.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3], "numbered as the log numbers them"
    assert {"loss", "val_accuracy", "learning_rate"} <= set(rows[0])
    rates = [float(row["learning_rate"]) for row in rows]
    assert rates[0] > rates[-1], "cosine decay should lower the learning rate"
    events = tmp_path / "tensorboard" / "mlp-seed0"  # TensorBoard's run names say which run
    assert list((events / "train").glob("events.out.tfevents.*"))
    assert list((events / "validation").glob("events.out.tfevents.*"))
    steps = sorted(
        event.step
        for path in (events / "train").glob("events.out.tfevents.*")
        for event in tf.compat.v1.train.summary_iterator(str(path))
        for value in event.summary.value
        if value.tag == "epoch_loss"
    )
    assert steps == [1, 2, 3], "TensorBoard's epoch axis counts like the log"


def evaluate_saved_model(run_dir, cfg, split):
    """(loss, accuracy) of the run's model.keras on its `split` ("val" or "test") images."""
    import keras

    from mnist_exp.data.pipeline import make_evaluation_dataset
    from mnist_exp.data.prepare import prepare_splits
    from mnist_exp.settings import parse_settings

    settings = parse_settings(cfg)
    splits = prepare_splits(settings.dataset, settings.seed)
    model = keras.saving.load_model(run_dir / "model.keras")
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    images, labels = getattr(splits, f"x_{split}"), getattr(splits, f"y_{split}")
    return model.evaluate(make_evaluation_dataset(images, labels, batch_size=64), verbose=0)


def test_test_set_is_scored_with_the_best_checkpoint(tmp_path):
    cfg = smoke_config("model=mlp", "trainer.epochs=2")
    metrics = run_experiment(cfg, tmp_path)
    _, accuracy = evaluate_saved_model(tmp_path, cfg, "test")
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    assert np.isfinite(metrics["test_loss"])


def test_checkpoint_monitor_last_keeps_and_scores_the_final_epoch(tmp_path):
    cfg = smoke_config("model=mlp", "trainer.epochs=3", "trainer.checkpoint_monitor=last")
    metrics = run_experiment(cfg, tmp_path)
    assert metrics["best_epoch"] == metrics["epochs_run"] == 3
    with open(tmp_path / "history.csv") as stream:
        final_val_loss = float(list(csv.DictReader(stream))[-1]["val_loss"])
    loss, _ = evaluate_saved_model(tmp_path, cfg, "val")
    assert loss == pytest.approx(final_val_loss, rel=1e-4)


def test_label_smoothing_is_the_loss_trained_on(tmp_path, shapes_run):
    plain_run, _ = shapes_run
    cfg = compose_config(
        "model=mlp",
        f"dataset.path={plain_run.parent / 'shapes.npz'}",
        "dataset.validation_size=0.1",
        "dataset.download=false",
        "trainer.epochs=3",
        "trainer.batch_size=32",
        "trainer.label_smoothing=0.5",
    )
    metrics = run_experiment(cfg, tmp_path)
    target = np.full(10, 0.5 / 10) + np.eye(10)[0] * 0.5
    floor = float(-(target * np.log(target)).sum())  # no prediction scores below the entropy
    smoothed, plain = (history_column(run, "loss") for run in (tmp_path, plain_run))
    assert min(smoothed) >= floor - 1e-3
    assert plain[-1] < floor - 1.0  # the plain loss of the same data goes far below it
    assert metrics["test_accuracy"] >= 0.9


def history_column(run_dir, column: str) -> list[float]:
    with open(run_dir / "history.csv") as stream:
        return [float(row[column]) for row in csv.DictReader(stream)]


def test_averaged_weights_are_validated_saved_and_scored_while_training_goes_on_raw(tmp_path):
    overrides = (
        "model=mlp",
        "trainer.epochs=3",
        "trainer.deterministic=true",
        "trainer.checkpoint_monitor=last",
        "~callbacks.early_stopping",
    )
    raw = run_experiment(smoke_config(*overrides), tmp_path / "raw")
    cfg = smoke_config(*overrides, "+optimizer.use_ema=true", "+optimizer.ema_momentum=0.9")
    averaged = run_experiment(cfg, tmp_path / "averaged")
    assert history_column(tmp_path / "averaged", "loss") == history_column(tmp_path / "raw", "loss")
    assert averaged["test_loss"] != raw["test_loss"]
    val_loss, _ = evaluate_saved_model(tmp_path / "averaged", cfg, "val")
    assert val_loss == pytest.approx(history_column(tmp_path / "averaged", "val_loss")[-1], 1e-4)
    test_loss, _ = evaluate_saved_model(tmp_path / "averaged", cfg, "test")
    assert test_loss == pytest.approx(averaged["test_loss"], rel=1e-4)


def test_same_seed_gives_same_result(tmp_path):
    overrides = (
        "model=cnn_small",
        "trainer.epochs=2",
        "trainer.deterministic=true",
        "augment=strong",
    )
    first = run_experiment(smoke_config(*overrides), tmp_path / "a")
    second = run_experiment(smoke_config(*overrides), tmp_path / "b")
    assert first["test_loss"] == second["test_loss"]
    assert (tmp_path / "a" / "history.csv").read_text() == (
        tmp_path / "b" / "history.csv"
    ).read_text()


def test_bad_config_is_recorded_as_failed(tmp_path):
    with pytest.raises(ConfigError, match="trainer.epochs"):
        run_experiment(smoke_config("trainer.epochs=0"), tmp_path)
    saved = read_json(tmp_path / "metrics.json")
    assert saved["status"] == "failed" and "trainer.epochs" in saved["error"]


def test_a_finished_run_is_never_overwritten(tmp_path):
    run_experiment(smoke_config("model=mlp"), tmp_path)
    before = (tmp_path / "metrics.json").read_text()
    with pytest.raises(MnistExpError, match="refusing to overwrite"):
        run_experiment(smoke_config("model=mlp"), tmp_path)
    assert (tmp_path / "metrics.json").read_text() == before


def test_divergence_stops_with_status_diverged(tmp_path):
    cfg = smoke_config(
        "model=mlp",
        "optimizer=sgd",
        "optimizer.learning_rate=1e12",
        "trainer.epochs=3",
        "schedule=constant",
    )
    metrics = run_experiment(cfg, tmp_path)
    assert metrics["status"] == "diverged"
    assert metrics["epochs_run"] == 1
    assert not math.isfinite(float(read_json(tmp_path / "metrics.json")["best_val_accuracy"]))


def test_the_train_step_is_traced_once():
    """Optimizer and metric variables exist before fit, so the first step is traced once
    (a tf.function creating variables on its first call is traced twice: tensorflow#48851,
    the guard in training/optimization.create_training_variables)."""
    from mnist_exp.data.prepare import prepare_splits
    from mnist_exp.settings import parse_settings
    from mnist_exp.training.fitting import training_dataset
    from mnist_exp.training.strategy import build_strategy
    from mnist_exp.training.trainable import build_trainable

    settings = parse_settings(smoke_config("model=fast_cnn", "trainer.epochs=2"))
    splits = prepare_splits(settings.dataset, settings.seed)
    strategy = build_strategy(settings.strategy)
    plan, model = build_trainable(settings, splits, strategy)
    traced = []
    train_step = model.train_step
    model.train_step = lambda data: traced.append(1) or train_step(data)
    model.fit(
        training_dataset(settings, splits, plan),
        epochs=2,
        steps_per_epoch=plan.steps_per_epoch,
        verbose=0,
        shuffle=False,  # the dataset shuffles itself, as in training._fit
    )
    assert len(traced) == 1
    assert model.optimizer.iterations.numpy() == 2 * plan.steps_per_epoch


PLAIN_KERAS = """
import sys
import keras
import numpy as np

data = np.load(sys.argv[2])
model = keras.saving.load_model(sys.argv[1])  # safe mode, no custom objects
predicted = model.predict(data["images"], verbose=0).argmax(axis=1)
assert not any(name.startswith("mnist_exp") for name in sys.modules)
print(float(np.mean(predicted == data["labels"])))
"""


def test_model_keras_loads_in_plain_keras_and_predicts_what_the_run_scored(tmp_path):
    import subprocess
    import sys

    from mnist_exp.data.prepare import prepare_splits
    from mnist_exp.settings import parse_settings

    cfg = smoke_config("model=cnn_small", "schedule=one_cycle", "trainer.epochs=2")
    metrics = run_experiment(cfg, tmp_path / "run")
    assert (
        "centred by its centre of mass"
        in read_json(tmp_path / "run" / "metrics.json")["input_convention"]
    )
    settings = parse_settings(cfg)
    splits = prepare_splits(settings.dataset, settings.seed)
    np.savez(tmp_path / "test.npz", images=splits.x_test, labels=splits.y_test)
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_KERAS, str(tmp_path / "run" / "model.keras"),
         str(tmp_path / "test.npz")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.split()[-1]) == pytest.approx(metrics["test_accuracy"], abs=1e-9)


@pytest.mark.parametrize("progress", ["on", "auto"])
def test_the_progress_bar_is_drawn_on_request_and_never_reaches_the_log(tmp_path, capsys, progress):
    from mnist_exp.training.job import Job, run_job

    cfg = smoke_config("model=mlp", "trainer.epochs=2", f"trainer.progress={progress}")
    run_job(cfg, Job(output_dir=tmp_path / "run"))
    drawn = capsys.readouterr().err
    if progress == "on":
        assert "\r" in drawn and "epoch 2/2" in drawn and "img/s" in drawn and "ETA" in drawn
    else:  # auto, and stderr is not a terminal under pytest: the plain log only
        assert "img/s ·" not in drawn
    log = (tmp_path / "run" / "train.log").read_text()
    assert "\r" not in log and "█" not in log and log.endswith("\n")
    assert "epoch 2/2 " in log


def test_weight_histograms_and_the_graph_are_options(tmp_path):
    import tensorflow as tf

    cfg = smoke_config("model=mlp", "trainer.histogram_freq=1", "trainer.write_graph=true")
    run_experiment(cfg, tmp_path)
    kinds = set()
    for path in (tmp_path / "tensorboard" / "mlp-seed0" / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "histograms":
                    kinds.add("histograms")
                if plugin == "graph_keras_model":  # the model's layer graph
                    kinds.add("graph")
    assert kinds == {"graph", "histograms"}
