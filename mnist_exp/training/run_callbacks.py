"""The callbacks of one run, in the order they must run at each epoch's end, with the ones
the story reads afterwards (the epoch timer, the best-model saver, the TensorBoard folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras

from mnist_exp.reporting.tensorboard_names import tensorboard_dir
from mnist_exp.runs import artifacts
from mnist_exp.settings import ExperimentSettings
from mnist_exp.training.averaging import with_averaged_weights
from mnist_exp.training.backup import with_backup
from mnist_exp.training.batch_plan import BatchPlan
from mnist_exp.training.callbacks import (
    BestModelSaver,
    EpochLogger,
    EpochsTo,
    HistoryFile,
    LearningRateLogger,
    StopWhenAsked,
    TensorBoardEpochs,
)
from mnist_exp.training.epoch_progress import ProgressBar, wanted
from mnist_exp.training.extensions import config_callbacks


@dataclass(frozen=True)
class RunCallbacks:
    callbacks: list
    epoch_logger: EpochLogger  # the epochs' timings
    saver: BestModelSaver  # which epoch was best
    events_dir: Path  # the run's TensorBoard folder


def build_callbacks(
    settings: ExperimentSettings,
    output_dir: Path,
    plan: BatchPlan,
    model: keras.Model,
    restored: dict | None,
    tracker=None,
) -> RunCallbacks:
    """The run's callbacks; `restored` is the backup a resumed run starts from (None: a fresh
    start), whose counters the backup callback puts back into the others; `tracker` is sent
    each epoch's logs."""
    trainer = settings.trainer
    events_dir = tensorboard_dir(output_dir, settings.model.name, settings.seed)
    epoch_logger = EpochLogger(trainer.epochs)
    saver = BestModelSaver(output_dir / artifacts.MODEL_FILE, trainer.checkpoint_monitor)
    callbacks = [StopWhenAsked(), LearningRateLogger()]
    if wanted(trainer.progress, trainer.verbose):  # before the epoch's log line: it clears
        callbacks.append(ProgressBar(trainer.epochs, plan.steps_per_epoch, plan.global_batch))
    if trainer.terminate_on_nan:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    callbacks += [epoch_logger, saver]
    # the config's (presets such as early stopping, then the user's); then those that record
    # each epoch's logs
    callbacks += config_callbacks(settings.callbacks)
    if tracker is not None:
        callbacks.append(EpochsTo(tracker.epoch))
    callbacks += [
        HistoryFile(
            str(output_dir / artifacts.HISTORY_FILE), append=bool(restored and restored["epoch"])
        ),
        TensorBoardEpochs(
            log_dir=str(events_dir),
            write_graph=trainer.write_graph,
            histogram_freq=trainer.histogram_freq,
            write_steps_per_second=False,
            profile_batch=0,
        ),
    ]
    callbacks = with_backup(with_averaged_weights(callbacks, model), output_dir, restored)
    return RunCallbacks(callbacks, epoch_logger, saver, events_dir)
