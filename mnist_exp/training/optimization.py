"""Optimizer and learning-rate schedule from settings."""

from __future__ import annotations

import math

import keras
from hydra.utils import instantiate

from mnist_exp.errors import ConfigError
from mnist_exp.settings import OptimizerSettings, ScheduleSettings


@keras.saving.register_keras_serializable(package="mnist_exp")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from `peak / 25` to `peak` over `peak_fraction` of training, then
    cosine annealing to `peak * final_fraction` (Smith & Topin's one-cycle policy)."""

    def __init__(self, peak_learning_rate, total_steps, peak_fraction=0.3, final_fraction=0.0):
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.peak_fraction = float(peak_fraction)
        self.final_fraction = float(final_fraction)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        peak = self.peak_learning_rate
        start, final = peak / 25.0, peak * self.final_fraction
        warmup_steps = max(1.0, self.peak_fraction * self.total_steps)
        decay_steps = max(1.0, self.total_steps - warmup_steps)
        rising = start + (peak - start) * step / warmup_steps
        progress = keras.ops.clip((step - warmup_steps) / decay_steps, 0.0, 1.0)
        falling = final + (peak - final) * 0.5 * (1.0 + keras.ops.cos(math.pi * progress))
        return keras.ops.where(step < warmup_steps, rising, falling)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "peak_fraction": self.peak_fraction,
            "final_fraction": self.final_fraction,
        }


def build_learning_rate(
    schedule: ScheduleSettings, *, learning_rate: float, steps_per_epoch: int, epochs: int
):
    """Returns a float (constant) or a LearningRateSchedule.

    Epoch-valued settings (warmup_epochs, decay_epochs, boundaries) are converted to steps.
    """
    total_steps = max(1, steps_per_epoch * epochs)
    schedules = keras.optimizers.schedules
    if schedule.name == "constant":
        return learning_rate
    if schedule.name == "exponential":
        return schedules.ExponentialDecay(
            learning_rate,
            decay_steps=max(1, round(schedule.decay_epochs * steps_per_epoch)),
            decay_rate=schedule.decay_rate,
        )
    if schedule.name == "step":
        return schedules.PiecewiseConstantDecay(
            boundaries=[round(epoch * steps_per_epoch) for epoch in schedule.boundaries],
            values=[learning_rate * factor for factor in schedule.factors],
        )
    if schedule.name == "cosine":
        warmup_steps = round(schedule.warmup_epochs * steps_per_epoch)
        return schedules.CosineDecay(
            initial_learning_rate=learning_rate / 10.0 if warmup_steps else learning_rate,
            decay_steps=max(1, total_steps - warmup_steps),
            alpha=schedule.final_fraction,
            warmup_target=learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    if schedule.name == "one_cycle":
        return OneCycle(learning_rate, total_steps, schedule.peak_fraction, schedule.final_fraction)
    raise ConfigError(f"Unknown schedule '{schedule.name}'.")


def build_optimizer(optimizer: OptimizerSettings, learning_rate) -> keras.optimizers.Optimizer:
    """Instantiates the optimizer config (`_target_` plus keyword arguments) with the schedule.

    Raises:
        ConfigError: when the optimizer rejects a key or value.
    """
    try:
        config = {"_target_": optimizer.target, **optimizer.arguments}
        return instantiate(config, learning_rate=learning_rate)
    except Exception as error:
        cause = error.__cause__ or error
        raise ConfigError(f"optimizer ({optimizer.target}): {cause}") from None


def create_training_variables(model: keras.Model, image_shape) -> None:
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
