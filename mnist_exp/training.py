"""Train a model from typed settings, evaluate it on the test set with its best weights."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf

from mnist_exp import artifacts
from mnist_exp.augmentation import make_augmenter
from mnist_exp.callbacks import BestModelSaver, EpochLogger, LearningRateLogger, monitor_mode
from mnist_exp.data.pipeline import make_dataset
from mnist_exp.data.prepare import Splits, prepare_splits
from mnist_exp.hardware import build_strategy, set_precision
from mnist_exp.models import build_model
from mnist_exp.optimization import build_learning_rate, build_optimizer, schedule_callbacks
from mnist_exp.reporting.report import build_report, write_report
from mnist_exp.reporting.tensorboard import write_run_record
from mnist_exp.settings import ExperimentSettings, model_arguments

log = logging.getLogger(__name__)


def start_job(seed: int, deterministic: bool) -> None:
    """Fresh Keras state and seeds, so a job alone and inside a multirun give the same result."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _callbacks(settings: ExperimentSettings, output_dir: Path, epoch_logger, saver):
    trainer = settings.trainer
    callbacks = [LearningRateLogger()]
    if trainer.terminate_on_nan:
        # Before the saver: a NaN epoch stops training and is never saved.
        callbacks.append(keras.callbacks.TerminateOnNaN())
    callbacks += [epoch_logger, saver, *schedule_callbacks(settings.schedule)]
    if trainer.early_stopping.enabled:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=trainer.early_stopping.monitor,
                mode=monitor_mode(trainer.early_stopping.monitor),
                patience=trainer.early_stopping.patience,
                min_delta=trainer.early_stopping.min_delta,
            )
        )
    callbacks += [
        keras.callbacks.CSVLogger(str(output_dir / artifacts.HISTORY_FILE)),
        keras.callbacks.TensorBoard(
            log_dir=str(output_dir / artifacts.TENSORBOARD_DIR),
            write_graph=False,
            write_steps_per_second=False,
            profile_batch=0,
        ),
    ]
    return callbacks


def _datasets(settings: ExperimentSettings, splits: Splits):
    batch_size, seed = settings.trainer.batch_size, settings.seed
    train = make_dataset(
        splits.x_train,
        splits.y_train,
        batch_size=batch_size,
        training=True,
        seed=seed,
        augment=make_augmenter(settings.augment),
    )
    validation = make_dataset(
        splits.x_val, splits.y_val, batch_size=batch_size, training=False, seed=seed
    )
    test = make_dataset(
        splits.x_test, splits.y_test, batch_size=batch_size, training=False, seed=seed
    )
    return train, validation, test


def compile_model(settings: ExperimentSettings, splits: Splits, steps_per_epoch: int):
    """Builds and compiles the model, optimizer and metrics (call inside a strategy scope)."""
    model = build_model(
        settings.model.name,
        input_shape=splits.image_shape,
        num_classes=len(splits.class_names),
        **model_arguments(settings.model),
    )
    learning_rate = build_learning_rate(
        settings.schedule,
        learning_rate=settings.learning_rate,
        steps_per_epoch=steps_per_epoch,
        epochs=settings.trainer.epochs,
    )
    model.compile(
        optimizer=build_optimizer(settings.optimizer, learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=settings.trainer.steps_per_execution,
    )
    return model


def _report(model, splits: Splits, test_data, output_dir: Path, title: str):
    probabilities = model.predict(test_data, verbose=0)
    history_path = output_dir / artifacts.HISTORY_FILE
    history = pd.read_csv(history_path) if history_path.is_file() else None
    report = build_report(
        splits=splits, test_probabilities=probabilities, history=history, title=title
    )
    write_report(report, output_dir)
    return report


def train_and_evaluate(settings: ExperimentSettings, output_dir: Path, hparams: dict) -> dict:
    """Trains, restores the best checkpoint, evaluates on the test set, writes the report.

    Args:
        settings: the checked experiment settings.
        output_dir: the run's directory; every artifact goes here.
        hparams: the flattened config, recorded for TensorBoard's HParams dashboard.

    Returns:
        The run's metrics (see README: "What a run leaves").
    """
    trainer = settings.trainer
    start_job(settings.seed, trainer.deterministic)
    set_precision(settings.precision)
    splits = prepare_splits(settings.dataset, settings.seed)
    strategy = build_strategy(settings.strategy)
    train_data, validation_data, test_data = _datasets(settings, splits)
    steps_per_epoch = math.ceil(len(splits.y_train) / trainer.batch_size)
    with strategy.scope():
        model = compile_model(settings, splits, steps_per_epoch)
    log.info("%s: %s parameters", model.name, f"{model.count_params():,}")

    epoch_logger = EpochLogger(trainer.epochs)
    saver = BestModelSaver(output_dir / artifacts.MODEL_FILE, trainer.checkpoint_monitor)
    started = time.perf_counter()
    history = model.fit(
        train_data,
        validation_data=validation_data,
        epochs=trainer.epochs,
        callbacks=_callbacks(settings, output_dir, epoch_logger, saver),
        verbose=trainer.verbose,
        shuffle=False,  # the tf.data pipeline shuffles
    )
    train_seconds = time.perf_counter() - started
    losses = history.history.get("loss", [])
    diverged = any(not math.isfinite(loss) for loss in losses)
    if saver.best_epoch is not None:
        model.load_weights(output_dir / artifacts.MODEL_FILE)
    test_loss, test_accuracy = model.evaluate(test_data, verbose=0)
    epochs_run = len(losses)
    val_accuracies = [
        accuracy
        for accuracy, loss in zip(history.history.get("val_accuracy", []), losses, strict=False)
        if math.isfinite(accuracy) and math.isfinite(loss)
    ]
    metrics = {
        "status": "diverged" if diverged else "completed",
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "best_val_accuracy": max(val_accuracies) if val_accuracies else float("nan"),
        "best_epoch": saver.best_epoch,
        "epochs_run": epochs_run,
        "train_seconds": round(train_seconds, 3),
        "images_per_second": round(
            len(splits.y_train) * epochs_run / max(sum(epoch_logger.train_seconds), 1e-9), 1
        ),
        "num_params": int(model.count_params()),
        "num_train": len(splits.y_train),
        "num_validation": len(splits.y_val),
        "num_test": len(splits.y_test),
        "data_source": splits.source,
        "num_replicas": strategy.num_replicas_in_sync,
    }
    report = _report(
        model, splits, test_data, output_dir, f"{settings.model.name} on {settings.dataset.name}"
    )
    write_run_record(
        output_dir / artifacts.TENSORBOARD_DIR,
        hparams=hparams,
        metrics=metrics,
        figures=report.figures,
        run_name=str(output_dir),
    )
    return metrics
