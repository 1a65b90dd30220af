"""Train a model from typed settings, evaluate it on the test set with its best weights."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from mnist_exp import safe_files
from mnist_exp.data.arrays import INPUT_CONVENTION
from mnist_exp.data.augmentation import augmented_copies, make_augmenter
from mnist_exp.data.pipeline import (
    make_evaluation_dataset,
    make_training_dataset,
)
from mnist_exp.data.prepare import Splits, prepare_splits
from mnist_exp.models.builders import build_from_target
from mnist_exp.models.files import load_keras_model
from mnist_exp.models.inference import evaluate
from mnist_exp.reporting.report import build_report, write_report
from mnist_exp.reporting.tensorboard import write_run_record
from mnist_exp.reporting.tensorboard_names import tensorboard_dir
from mnist_exp.runs import artifacts
from mnist_exp.runs.status import Status
from mnist_exp.settings import BuilderSettings, ExperimentSettings, ModelSettings
from mnist_exp.settings.trainer import better_direction
from mnist_exp.training import stop
from mnist_exp.training.averaging import with_averaged_weights
from mnist_exp.training.backup import remove_backups, restore_latest, with_backup
from mnist_exp.training.batch_plan import BatchPlan
from mnist_exp.training.callbacks import (
    BestModelSaver,
    EpochLogger,
    HistoryFile,
    LearningRateLogger,
    StopWhenAsked,
    TensorBoardEpochs,
)
from mnist_exp.training.custom_loop import fit_with_strategy
from mnist_exp.training.epoch_progress import ProgressBar, wanted
from mnist_exp.training.losses import classification_loss
from mnist_exp.training.optimization import build_learning_rate, build_optimizer, schedule_callbacks
from mnist_exp.training.strategy import build_strategy, is_multi_worker, set_precision

log = logging.getLogger(__name__)


_jobs_started = 0  # in this process: a multirun's jobs share it


def start_job(seed: int, deterministic: bool) -> None:
    """Fresh Keras state and seeds, so a job alone and inside a multirun give the same result.
    The earlier job's models and graphs are freed here, by a garbage collection (~0.2 s) that
    the first job, or a single run just before its process exits, need not wait for."""
    global _jobs_started
    keras.backend.clear_session(free_memory=_jobs_started > 0)
    _jobs_started += 1
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def plan_batches(settings: ExperimentSettings, strategy, num_train: int) -> BatchPlan:
    return BatchPlan.build(
        settings,
        replicas=strategy.num_replicas_in_sync,
        multi_worker=is_multi_worker(strategy),
        num_train=num_train,
    )


def build_trainable(settings: ExperimentSettings, splits: Splits, strategy):
    """Fresh Keras state, precision, batch plan, and the compiled model in the strategy's scope.

    Returns:
        (plan, model).
    """
    start_job(settings.seed, settings.trainer.deterministic)
    set_precision(settings.precision)
    plan = plan_batches(settings, strategy, len(splits.y_train))
    with strategy.scope():
        model = compile_model(settings, splits, plan)
        create_training_variables(model, splits.image_shape)
    return plan, model


def create_training_variables(model, image_shape) -> None:
    """Creates the optimizer's and the metrics' variables now rather than in fit's first step.

    Outside a tf.distribute scope Keras creates them while tracing the train step, and a
    tf.function that creates variables on its first call is traced twice (tensorflow#48851):
    about a second more before the first step. This is the (private) build Keras itself runs
    when the model was made inside a strategy scope; should a Keras release drop it, the
    optimizer is still built through its public API (test_the_train_step_is_traced_once
    then reports the second trace).
    """
    symbolic_build = getattr(model, "_symbolic_build", None)
    if symbolic_build is None:
        model.optimizer.build(model.trainable_variables)
        return
    symbolic_build(
        data_batch=(
            keras.KerasTensor((None, *image_shape), dtype="float32"),
            keras.KerasTensor((None,), dtype="int32"),
        )
    )


def training_dataset(
    settings: ExperimentSettings,
    splits: Splits,
    plan: BatchPlan,
    initial_epoch: int = 0,
    shard_index: int = 0,
    num_shards: int = 1,
):
    """The training batches of epochs `initial_epoch`.. for this run's settings."""
    epochs = settings.trainer.epochs
    return make_training_dataset(
        splits.x_train,
        splits.y_train,
        batch_size=plan.global_batch,
        seed=settings.seed,
        initial_epoch=initial_epoch,
        epochs=epochs,
        augment=make_augmenter(settings.augment),
        augmented_epochs=epochs - settings.augment.plain_epochs(epochs),
        shard_index=shard_index,
        num_shards=num_shards,
    )


def build_callbacks(
    settings: ExperimentSettings,
    output_dir: Path,
    tensorboard_dir: Path,
    epoch_logger,
    saver,
    append,
    plan: BatchPlan,
):
    """The run's callbacks, in the order they must run at each epoch's end."""
    trainer = settings.trainer
    callbacks = [StopWhenAsked(), LearningRateLogger()]
    if wanted(trainer.progress, trainer.verbose):  # before the epoch's log line: it clears
        callbacks.append(ProgressBar(trainer.epochs, plan.steps_per_epoch, plan.global_batch))
    if trainer.terminate_on_nan:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    callbacks += [epoch_logger, saver, *schedule_callbacks(settings.schedule)]
    if trainer.early_stopping.enabled:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=trainer.early_stopping.monitor,
                mode=better_direction(trainer.early_stopping.monitor),
                patience=trainer.early_stopping.patience,
                min_delta=trainer.early_stopping.min_delta,
            )
        )
    callbacks += [
        HistoryFile(str(output_dir / artifacts.HISTORY_FILE), append=append),
        TensorBoardEpochs(
            log_dir=str(tensorboard_dir),
            write_graph=trainer.write_graph,
            histogram_freq=trainer.histogram_freq,
            write_steps_per_second=False,
            profile_batch=0,
        ),
    ]
    return callbacks


def build_network(model: ModelSettings | BuilderSettings, input_shape, num_classes: int):
    """The uncompiled model from the builder the settings name: a built-in one
    (mnist_exp.models.NAME.build_model) or the user's own function (`_target_`)."""
    return build_from_target(
        model.builder, input_shape=input_shape, num_classes=num_classes, **model.arguments()
    )


def compile_model(settings: ExperimentSettings, splits: Splits, plan: BatchPlan):
    """Builds and compiles the model, optimizer and metrics (call inside a strategy scope)."""
    model = build_network(settings.model, splits.image_shape, len(splits.class_names))
    learning_rate = build_learning_rate(
        settings.schedule,
        learning_rate=plan.learning_rate,
        steps_per_epoch=plan.steps_per_epoch,
        epochs=settings.trainer.epochs,
    )
    model.compile(
        optimizer=build_optimizer(settings.optimizer, learning_rate),
        loss=classification_loss(settings.trainer.label_smoothing),
        metrics=["accuracy"],
        steps_per_execution=settings.trainer.steps_per_execution,
        jit_compile=settings.trainer.jit_compile,
    )
    return model


def _fit(model, strategy, settings, splits, plan, validation_data, initial_epoch, callbacks):
    if is_multi_worker(strategy):
        fit_with_strategy(
            model,
            strategy,
            dataset_fn=lambda context: training_dataset(
                settings,
                splits,
                plan,
                initial_epoch,
                context.input_pipeline_id,
                context.num_input_pipelines,
            ),
            validation_data=validation_data,
            epochs=settings.trainer.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=plan.steps_per_epoch,
            global_batch_size=plan.global_batch,
            loss_function=classification_loss(settings.trainer.label_smoothing, reduction=None),
            callbacks=callbacks,
        )
        return
    with stop.checked_at_every_step():  # StopWhenAsked is among the callbacks
        model.fit(
            training_dataset(settings, splits, plan, initial_epoch),
            validation_data=validation_data,
            epochs=settings.trainer.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=plan.steps_per_epoch,
            callbacks=callbacks,
            verbose=2 if settings.trainer.verbose == 2 else 0,  # 1 is our own bar
            shuffle=False,  # the tf.data pipeline shuffles
        )


def _finite_epochs(history: pd.DataFrame) -> pd.DataFrame:
    return history[np.isfinite(history["loss"]) & np.isfinite(history["val_loss"])]


@dataclass(frozen=True)
class _HistorySummary:
    """What the epoch history (complete across resumes) says of the run."""

    status: Status
    best_val_accuracy: float  # the best finite one (nan: none)
    best_val_epoch: int | None  # its epoch, numbered from 1 as in history.csv
    epochs_run: int

    @classmethod
    def of(cls, history: pd.DataFrame) -> _HistorySummary:
        finite = _finite_epochs(history)
        best = finite.loc[finite["val_accuracy"].idxmax()] if len(finite) else None
        return cls(
            status=Status.DIVERGED if len(finite) < len(history) else Status.COMPLETED,
            best_val_accuracy=float("nan") if best is None else float(best["val_accuracy"]),
            best_val_epoch=None if best is None else int(best["epoch"]),
            epochs_run=len(history),
        )

    def metrics(self) -> dict:
        return {
            "status": self.status,
            "best_val_accuracy": self.best_val_accuracy,
            "epochs_run": self.epochs_run,
        }


def _read_history(output_dir: Path) -> pd.DataFrame:
    path = output_dir / artifacts.HISTORY_FILE
    if path.is_file():
        return pd.read_csv(path)
    return pd.DataFrame(columns=["epoch", "loss", "val_loss", "val_accuracy"])


def _keep_history_before(output_dir: Path, epoch: int) -> None:
    """Drops history rows a killed run wrote after its last backup (epochs after `epoch`,
    counted from 1), so none is duplicated. Kept rows are copied as text."""
    path = output_dir / artifacts.HISTORY_FILE
    if not path.is_file():
        return
    with open(path, newline="") as stream:  # keep CSVLogger's \r\n line ends as they are
        lines = stream.readlines()
    if not lines:  # stopped before its first epoch ended: CSVLogger writes the header then
        return
    header, *rows = lines
    numbered = ((int(number), rest) for number, rest in (row.split(",", 1) for row in rows))
    kept = [f"{number},{rest}" for number, rest in numbered if number <= epoch]
    safe_files.write_text_atomically(path, header + "".join(kept))


def _report(
    probabilities,
    splits: Splits,
    history: pd.DataFrame,
    output_dir: Path,
    settings: ExperimentSettings,
):
    augmenter = make_augmenter(settings.augment)
    augment = partial(augmented_copies, augmenter, seed=settings.seed) if augmenter else None
    report = build_report(
        splits=splits,
        test_probabilities=probabilities,
        history=history,
        title=f"{settings.model.name} on {settings.dataset.name}",
        augment=augment,
    )
    write_report(report, output_dir)
    return report


@dataclass
class _Fitted:
    """What fitting leaves for scoring and the record."""

    model: keras.Model
    splits: Splits
    plan: BatchPlan
    saver: BestModelSaver
    epoch_logger: EpochLogger
    events_dir: Path
    initial_epoch: int


def _fit_run(settings: ExperimentSettings, output_dir: Path, resume: bool, data_label) -> _Fitted:
    """Data, model and callbacks built, then fitted (from the newest backup on `resume`)."""
    strategy = build_strategy(settings.strategy)  # first: it must precede any TensorFlow work
    splits = prepare_splits(settings.dataset, settings.seed, path_label=data_label)
    plan, model = build_trainable(settings, splits, strategy)
    log.info(
        "%s: %s parameters; %d replica(s), global batch %d",
        model.name,
        f"{model.count_params():,}",
        plan.replicas,
        plan.global_batch,
    )
    restored = restore_latest(model, output_dir) if resume else None
    initial_epoch = restored["epoch"] if restored else 0
    if resume:
        _keep_history_before(output_dir, initial_epoch)
    events_dir = tensorboard_dir(output_dir, settings.model.name, settings.seed)
    epoch_logger = EpochLogger(settings.trainer.epochs)
    saver = BestModelSaver(output_dir / artifacts.MODEL_FILE, settings.trainer.checkpoint_monitor)
    callbacks = build_callbacks(
        settings, output_dir, events_dir, epoch_logger, saver, initial_epoch > 0, plan
    )
    callbacks = with_backup(with_averaged_weights(callbacks, model), output_dir, restored)
    validation = make_evaluation_dataset(splits.x_val, splits.y_val)
    _fit(model, strategy, settings, splits, plan, validation, initial_epoch, callbacks)
    return _Fitted(model, splits, plan, saver, epoch_logger, events_dir, initial_epoch)


def _score(fitted: _Fitted, settings: ExperimentSettings, output_dir: Path, history, summary):
    """(metrics, the epoch whose weights were scored, test probabilities): the best
    checkpoint's weights restored when early stopping asks for them, then the test set."""
    model, splits, saver, epoch_logger = (
        fitted.model, fitted.splits, fitted.saver, fitted.epoch_logger
    )  # fmt: skip
    metrics = summary.metrics()
    metrics.update(
        objective_name=settings.objective.metric,
        objective=settings.objective.best(history[settings.objective.metric]),
        class_names=list(splits.class_names),
        input_convention=INPUT_CONVENTION,
    )
    scored_epoch = metrics["epochs_run"]
    if (
        settings.trainer.early_stopping.restore_best_weights
        and saver.best_epoch is not None
        and saver.best_epoch != scored_epoch  # the last epoch's weights are the model's own
    ):
        model.set_weights(load_keras_model(output_dir / artifacts.MODEL_FILE).get_weights())
        scored_epoch = saver.best_epoch
    log.info(
        "Scoring %s test images with the weights of epoch %s ...",
        f"{len(splits.y_test):,}",
        scored_epoch,
    )
    test = evaluate(model, make_evaluation_dataset(splits.x_test, splits.y_test))
    train_seconds = sum(epoch_logger.train_seconds)
    metrics.update(
        test_accuracy=test["accuracy"],
        test_loss=test["loss"],
        best_epoch=saver.best_epoch,
        train_seconds=round(sum(epoch_logger.epoch_seconds), 3),
        images_per_second=round(
            len(splits.y_train) * len(epoch_logger.train_seconds) / max(train_seconds, 1e-9), 1
        ),
        num_params=int(model.count_params()),
        num_train=len(splits.y_train),
        num_validation=len(splits.y_val),
        num_test=len(splits.y_test),
        data_source=splits.source,
        num_replicas=fitted.plan.replicas,
        global_batch_size=fitted.plan.global_batch,
        resumed_from_epoch=fitted.initial_epoch or None,
    )
    return metrics, scored_epoch, test["probabilities"]


def train_and_evaluate(
    settings: ExperimentSettings,
    output_dir: Path,
    hparams: dict,
    resume: bool = False,
    data_label: str | None = None,
) -> dict:
    """Trains, restores the best checkpoint, evaluates on the test set, writes the report.

    Args:
        settings: the checked experiment settings.
        output_dir: where every artifact goes (a scratch folder on non-chief workers).
        hparams: the flattened config, recorded for TensorBoard's HParams dashboard.
        resume: continue from the newest backup in `output_dir` (see `mnist_exp.training.backup`).
        data_label: how logs and metrics name an interpolated `dataset.path`.

    Returns:
        The run's metrics (see README: "What a run leaves").
    """
    fitted = _fit_run(settings, output_dir, resume, data_label)
    history = _read_history(output_dir)
    summary = _HistorySummary.of(history)
    metrics, scored_epoch, probabilities = _score(fitted, settings, output_dir, history, summary)
    if metrics["status"] != Status.DIVERGED:  # a diverged run keeps its last finite backup
        remove_backups(output_dir)
    log.info("Writing the report pictures and the TensorBoard record ...")
    report = _report(probabilities, fitted.splits, history, output_dir, settings)
    write_run_record(
        fitted.events_dir,
        hparams=hparams,
        metrics=metrics,
        images=report.images,
        # Where the run is, its own folder first: the dashboard's Trial ID column shows about
        # 15 characters, and the keys that tell runs apart have columns of their own.
        run_name=f"{output_dir.name} · {output_dir.parent.name}",
        scored_epoch=scored_epoch,
        best_val_epoch=summary.best_val_epoch,
    )
    return metrics
