"""Keras callbacks of a training run. None of them does work per batch."""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import keras

from mnist_exp import signals
from mnist_exp.runs.disk import out_of_space_named, training_state_bytes
from mnist_exp.settings import LAST_EPOCH
from mnist_exp.settings.trainer import better_direction

log = logging.getLogger(__name__)


def finite_logs(logs: dict) -> bool:
    """Whether every number an epoch logged is finite (a diverged epoch is never saved)."""
    return all(math.isfinite(value) for value in logs.values() if isinstance(value, float))


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the learning rate of each epoch's middle step to the logs as `learning_rate`: the
    rate the epoch trained with (the rate after its last step is 0 at the end of a one-cycle
    or cosine schedule, which made the last epoch, and one-epoch runs, look untrained).

    Placed before CSVLogger and TensorBoard so both record it.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._first_step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        optimizer = self.model.optimizer
        # Keras keeps a schedule (or a plain rate) in `_learning_rate`; `learning_rate` is its
        # value at the current step only.
        schedule = getattr(optimizer, "_learning_rate", None)
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            last_step = int(keras.ops.convert_to_numpy(optimizer.iterations))
            rate = schedule((self._first_step + last_step) // 2)
        else:
            rate = optimizer.learning_rate
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))


class EpochsTo(keras.callbacks.Callback):
    """Hands each epoch's logs, numbered from 1 as history.csv numbers them, to `send`."""

    def __init__(self, send):
        super().__init__()
        self.send = send

    def on_epoch_end(self, epoch, logs=None):
        self.send(epoch + 1, logs or {})


def metric_text(key: str, value: float) -> str:
    """One format per metric, so that columns of epoch lines line up: rates in scientific
    notation, everything else with four decimals (0.9900, never 0.99)."""
    return f"{value:.2e}" if "learning_rate" in key else f"{value:.4f}"


class EpochLogger(keras.callbacks.Callback):
    """One log line per epoch (metrics, learning rate, duration); times each whole epoch in
    `epoch_seconds` and its training part, validation excluded, in `train_seconds`."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs
        self.train_seconds: list[float] = []
        self.epoch_seconds: list[float] = []
        self._started = 0.0
        self._training = False

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        self._training = True

    def _end_training_part(self):
        if self._training:
            self.train_seconds.append(time.perf_counter() - self._started)
            self._training = False

    def on_test_begin(self, logs=None):
        self._end_training_part()

    def on_epoch_end(self, epoch, logs=None):
        self._end_training_part()
        logs = logs or {}
        shown = " ".join(
            f"{key}={metric_text(key, value)}"
            for key, value in logs.items()
            if isinstance(value, (int, float))
        )
        seconds = time.perf_counter() - self._started
        self.epoch_seconds.append(seconds)
        log.info("epoch %d/%d %s (%.1fs)", epoch + 1, self.epochs, shown, seconds)


def inference_model(model: keras.Model) -> keras.Model:
    """`model`'s layers (weights shared) without its optimizer and compile settings: the file
    plain Keras loads (`keras.saving.load_model`, no mnist_exp import, no custom schedule to
    locate); training state lives in the backups."""
    return keras.Model(model.inputs, model.outputs, name=model.name)


class BestModelSaver(keras.callbacks.Callback):
    """Saves the model for inference whenever `monitor` improves (every epoch for
    `LAST_EPOCH`), through a temporary file and a rename, so a run killed mid-save never
    leaves a truncated model."""

    def __init__(self, path: Path, monitor: str):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.mode = "max" if monitor == LAST_EPOCH else better_direction(monitor)
        self.best_value = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None

    def _improved(self, value: float) -> bool:
        return value < self.best_value if self.mode == "min" else value > self.best_value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor == LAST_EPOCH:
            value = float(epoch + 1)
        elif self.monitor in logs:
            value = logs[self.monitor]
        else:
            raise KeyError(
                f"Cannot checkpoint on '{self.monitor}': the epoch logs only have "
                f"{sorted(logs)}. Set trainer.checkpoint_monitor to one of them, or to "
                f"'{LAST_EPOCH}'."
            )
        if not finite_logs(logs) or not self._improved(value):
            return  # never save a diverged epoch, whatever its accuracy says
        temporary = self.path.with_name(f".{self.path.stem}.tmp.keras")
        needed = training_state_bytes(self.model)
        try:
            with out_of_space_named(self.path.parent, needed, f"the epoch {epoch + 1} model"):
                inference_model(self.model).save(temporary)
        except BaseException:
            temporary.unlink(missing_ok=True)  # the previous best model stays
            raise
        os.replace(temporary, self.path)
        self.best_value, self.best_epoch = float(value), epoch + 1


class StopWhenAsked(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the next step or epoch boundary after SIGTERM or Ctrl-C, in
    case the signal handler's own exception was lost (see training/stop.py)."""

    async_safe = True  # a list check: safe anywhere, never makes Keras wait

    def _check(self, *args, **kwargs):
        signals.raise_if_received()

    on_train_batch_end = _check
    on_test_batch_end = _check
    on_epoch_begin = _check
    on_epoch_end = _check


class HistoryFile(keras.callbacks.CSVLogger):
    """history.csv, its epochs numbered from 1 as the log, `best_epoch` and the pictures
    number them (Keras counts from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch + 1, logs)


class TensorBoardEpochs(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback with epochs numbered from 1 on the x axis, as everywhere
    else (and `histogram_freq=N` drawing epochs N, 2N, ...)."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch + 1, logs)
